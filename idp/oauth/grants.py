"""Grant types on top of authlib's classes, closing what authlib leaves open:
PKCE S256 required, atomic single-use codes and refresh tokens, reuse revoking the grant,
refresh rotation with an optional grace window, and the authentication context carried
from the sign-in into every token.

The token endpoint is the hot path: statements are SQLAlchemy Core, each check that can be
part of a write is (a conditional UPDATE … RETURNING), and clients come from the
process's cache (client_lookup). On PostgreSQL, outside any transaction, a code redemption
is two round trips: a read, then one data-modifying statement conditional on what was read,
which takes the code and writes the grant and its refresh token. A refresh is one: a
statement that reads the token, checks it, rotates it and stores its successor (with a
`scope` parameter, or when that statement rotates nothing, a read comes first, as for a
code). SQLite has no data-modifying CTE: there they are two or three statements in one
transaction.
"""

from __future__ import annotations

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, InvalidScopeError, grants
from flask import current_app
from sqlalchemy import bindparam, exists, insert, or_, select, update

from .. import clock, metrics
from .. import direct_sql
from ..direct_sql import read_row
from ..extensions import db, write_ephemeral
from ..models import AuthorizationCode, Grant, RefreshToken, User
from ..security.tokens import random_token, token_hash
from . import claims, dpop, pkce, revocation, tokens
from .client_lookup import RegisteredClient
from .records import GrantRecord, PersonRecord, PresentedRefreshToken, RedeemedCode

NO_STORE = [
    ("Content-Type", "application/json"),
    ("Cache-Control", "no-store"),
    ("Pragma", "no-cache"),
]

CODES = AuthorizationCode.__table__
GRANTS = Grant.__table__
REFRESH = RefreshToken.__table__
USERS = User.__table__


def _keyring():  # noqa: ANN202
    return current_app.extensions["idp.keyring"]


# The statements are built once: executing the same object with new parameters skips its
# construction and the computation of its compiled-cache key on every request.
_CODE_COLUMNS = ("code_hash", "client_id", "user_id", "redirect_uri", "scope", "nonce", "code_challenge", "auth_time",
                 "acr", "amr", "sid", "id_token_claims", "dpop_jkt", "expires_at", "grant_id")
# Every column named, so that the statement compiles once for direct_sql (an INSERT of the
# bare table would compile to the columns of each call's parameters).
_INSERT_CODE = insert(CODES).values({c: bindparam(c, type_=CODES.c[c].type) for c in _CODE_COLUMNS})
_TAKE_CODE = (
    update(CODES)
    .where(
        CODES.c.code_hash == bindparam("digest"),
        CODES.c.client_id == bindparam("client"),
        CODES.c.used_at.is_(None),
        CODES.c.expires_at > bindparam("now"),
    )
    .values(used_at=bindparam("now"))
    # The person too: SQLite allows no join in RETURNING, but scalar subqueries.
    .returning(*RedeemedCode.COLUMNS(CODES), *(
        select(USERS.c[name]).where(USERS.c.id == CODES.c.user_id).scalar_subquery().label(f"u_{name}")
        for name in RedeemedCode.PERSON
    ))
)
_USED_CODE = select(CODES.c.grant_id).where(
    CODES.c.code_hash == bindparam("digest"), CODES.c.client_id == bindparam("client"), CODES.c.used_at.is_not(None)
)
_INSERT_GRANT = insert(GRANTS)
# PostgreSQL: the code is read (with its person) outside any transaction, and taken later by
# the one statement that also writes the grant and its refresh token: a redemption is two
# round trips. Taken only if still unused, so of two racing redemptions one writes.
_CODE_WITH_PERSON = (
    select(*RedeemedCode.COLUMNS(CODES), CODES.c.used_at, CODES.c.expires_at,
           *(USERS.c[name].label(f"u_{name}") for name in RedeemedCode.PERSON))
    .outerjoin(USERS, USERS.c.id == CODES.c.user_id)
    .where(CODES.c.code_hash == bindparam("digest"), CODES.c.client_id == bindparam("client"))
)
_USE_CODE = (
    update(CODES)
    .where(CODES.c.code_hash == bindparam("digest"), CODES.c.client_id == bindparam("client"),
           CODES.c.used_at.is_(None), CODES.c.expires_at > bindparam("now"))
    .values(used_at=bindparam("now"))
)
_GRANT_COLUMNS = ("user_id", "client_id", "scope", "auth_time", "acr", "amr", "sid", "expires_at", "dpop_jkt", "created_at")
_TAKEN = _USE_CODE.returning(CODES.c.grant_id).cte("taken")
_GRANT_FROM_CODE = insert(GRANTS).from_select(
    ["id", *_GRANT_COLUMNS],
    select(_TAKEN.c.grant_id, *(bindparam(f"g_{c}", type_=GRANTS.c[c].type) for c in _GRANT_COLUMNS)),
)
_GRANTED = _GRANT_FROM_CODE.returning(GRANTS.c.id).cte("granted")
_GRANT_AND_REFRESH_FROM_CODE = insert(REFRESH).from_select(
    ["token_hash", "grant_id", "client_id", "scope", "issued_at"],
    select(bindparam("refresh_hash"), _GRANTED.c.id, bindparam("g_client_id"), bindparam("g_scope"), bindparam("now")),
)
_INSERT_REFRESH = insert(REFRESH)
_PRESENTED = (
    select(*PresentedRefreshToken.COLUMNS(REFRESH, GRANTS, USERS))
    .join(GRANTS, GRANTS.c.id == REFRESH.c.grant_id)
    .join(USERS, USERS.c.id == GRANTS.c.user_id)
    .where(REFRESH.c.token_hash == bindparam("digest"))
)
_ROTATE = (
    update(REFRESH)
    .where(
        REFRESH.c.id == bindparam("token_id"), REFRESH.c.rotated_at.is_(None),
        # The grant is checked again here, not only when the token was read: a revocation
        # that committed in between (a sign-out, an admin) issues nothing.
        ~exists().where(GRANTS.c.id == REFRESH.c.grant_id, GRANTS.c.revoked_at.is_not(None)),
    )
    .values(rotated_at=bindparam("now"), successor_encrypted=bindparam("sealed"))
)
_ROTATED = select(REFRESH.c.rotated_at, REFRESH.c.successor_encrypted).where(REFRESH.c.id == bindparam("token_id"))
# PostgreSQL: the rotation and the successor in one statement (a data-modifying CTE), so a
# refresh is two round trips, the read and this, outside any transaction: the statement is
# atomic by itself, and the successor exists exactly when the rotation won.
_ROTATED_NOW = _ROTATE.returning(REFRESH.c.grant_id, REFRESH.c.client_id, REFRESH.c.scope).cte("rotated")
_ROTATE_AND_ISSUE = insert(REFRESH).from_select(
    ["token_hash", "grant_id", "client_id", "scope", "issued_at"],
    select(bindparam("successor_hash"), _ROTATED_NOW.c.grant_id, _ROTATED_NOW.c.client_id, _ROTATED_NOW.c.scope,
           bindparam("now")),
)


# PostgreSQL, a refresh without a `scope` parameter (RefreshTokenGrant): the read, the
# checks, the rotation and the successor in one statement, one round trip. `live` is the
# presented token only if a refresh may rotate it; of two racing requests, the second's
# UPDATE waits for the first's commit, re-checks `rotated_at` on the row and takes nothing.
_LIVE = (
    select(*PresentedRefreshToken.COLUMNS(REFRESH, GRANTS, USERS))
    .join(GRANTS, GRANTS.c.id == REFRESH.c.grant_id)
    .join(USERS, USERS.c.id == GRANTS.c.user_id)
    .where(
        REFRESH.c.token_hash == bindparam("digest"), REFRESH.c.client_id == bindparam("client"),
        REFRESH.c.rotated_at.is_(None), GRANTS.c.revoked_at.is_(None), GRANTS.c.expires_at > bindparam("now"),
        USERS.c.disabled.is_(False),
        # RFC 9449 §5: a grant bound to a key is refreshed only with a proof of that key
        # (`jkt` is NULL without a proof, and NULL equals nothing).
        or_(GRANTS.c.dpop_jkt.is_(None), GRANTS.c.dpop_jkt == bindparam("jkt")),
    )
    .cte("live")
)
_TAKEN_LIVE = (
    update(REFRESH)
    # By the id as a value (`live` is one row at most: token_hash is unique), so that the
    # row is found by its primary key whatever the planner thinks of the table's size; a
    # join with the CTE was planned as a scan of the table while it was small.
    .where(REFRESH.c.id == select(_LIVE.c.id).scalar_subquery(), REFRESH.c.rotated_at.is_(None))
    .values(rotated_at=bindparam("now"), successor_encrypted=bindparam("sealed"))
    .returning(REFRESH.c.id)
    .cte("taken")
)
_SUCCESSOR = insert(REFRESH).from_select(
    ["token_hash", "grant_id", "client_id", "scope", "issued_at"],
    select(bindparam("successor_hash"), _LIVE.c.grant_id, _LIVE.c.client_id, _LIVE.c.scope, bindparam("now"))
    .join_from(_LIVE, _TAKEN_LIVE, _TAKEN_LIVE.c.id == _LIVE.c.id),
).cte("successor")
_REFRESH_IN_ONE = (
    select(*_LIVE.c).join_from(_LIVE, _TAKEN_LIVE, _TAKEN_LIVE.c.id == _LIVE.c.id).add_cte(_SUCCESSOR)
)


def _store_refresh_token(grant_id: str, client_id: str, scope: str, now: int) -> str:
    value = random_token(32)
    db.session.execute(_INSERT_REFRESH, {
        "token_hash": token_hash(value), "grant_id": grant_id, "client_id": client_id, "scope": scope, "issued_at": now,
    })
    return value


def _offline(client: RegisteredClient, scope: str) -> bool:
    """OIDC Core §11: a refresh token only when the request was granted offline_access (the
    client's registered scopes bound what it can be granted), or the client is registered to
    always get one."""
    return client.refresh_tokens_always or "offline_access" in scope.split()


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def generate_authorization_code(self) -> str:
        """256 bits of entropy (43 characters): authlib draws its codes one character at a
        time from SystemRandom, 40 µs a code."""
        return random_token(32)

    def save_authorization_code(self, code: str, request) -> None:  # noqa: ANN001
        ctx = request.auth_context  # set by the authorization view: who, how, when
        write_ephemeral(_INSERT_CODE, {
            "code_hash": token_hash(code),
            "client_id": request.client.client_id,
            "user_id": request.user.id,
            "redirect_uri": request.payload.redirect_uri,
            "scope": request.scope,
            "nonce": request.payload.data.get("nonce"),
            "code_challenge": request.payload.data.get("code_challenge"),
            "auth_time": ctx.auth_time,
            "acr": ctx.acr,
            "amr": ctx.amr,
            "sid": ctx.sid,
            "id_token_claims": claims.requested_for_id_token(request.payload.data.get("claims"), request.scope),
            "dpop_jkt": request.payload.data.get("dpop_jkt"),
            "expires_at": clock.now() + current_app.config["IDP_CODE_TTL"],
            # Chosen now, so a second redemption racing the first can revoke it.
            "grant_id": tokens.new_grant_id(),
        })

    def query_authorization_code(self, code: str, client: RegisteredClient) -> RedeemedCode | None:
        """SQLite: take the code, the check and the use in one statement, so of two
        concurrent redemptions exactly one gets the row; the other waits for its commit and
        finds the code used. If anything later refuses the request, the transaction (and
        the use) is rolled back with it. PostgreSQL: only read it; create_token_response
        takes it in the statement that writes the grant, and a refused request leaves it as
        it was, as the rollback does on SQLite."""
        given = {"digest": token_hash(code), "client": client.client_id}
        if _postgresql():
            row = read_row(_CODE_WITH_PERSON, given)
            if row is None:
                return None
            if row.used_at is None:
                return RedeemedCode.from_row(row) if row.expires_at > clock.now() else None
            used = row
        else:
            row = db.session.execute(_TAKE_CODE, {**given, "now": clock.now()}).first()
            if row is not None:
                return RedeemedCode.from_row(row)
            used = db.session.execute(_USED_CODE, given).first()
        if used is not None:
            # RFC 6749 §4.1.2: a code used twice revokes what it issued.
            revocation.revoke_grant(used.grant_id, reason="code_reuse")
            db.session.commit()
        return None

    def validate_token_request(self) -> None:
        super().validate_token_request()
        # redirect_uri is REQUIRED at the token endpoint when it was in the request
        # (RFC 6749 §4.1.3), and it always is here.
        if self.request.payload.redirect_uri is None:
            raise InvalidGrantError("redirect_uri is required")
        code: RedeemedCode = self.request.authorization_code
        pkce.check_verifier(self.request.form.get("code_verifier"), code.code_challenge)
        # RFC 9449 §10: a code requested with dpop_jkt is redeemed only with that key.
        self.request.dpop_jkt = dpop.token_request_key(self.request, required=self.request.client.dpop_bound, bound_to=code.dpop_jkt)

    def create_token_response(self):  # noqa: ANN201
        code: RedeemedCode = self.request.authorization_code
        client: RegisteredClient = self.request.client
        now = clock.now()
        person = code.person
        if person is None or person.disabled:
            if _postgresql():
                direct_sql.write(_USE_CODE, {"digest": code.code_hash, "client": client.client_id, "now": now})
            db.session.commit()  # the code stays used
            raise InvalidGrantError("the account is not active")
        grant = GrantRecord(
            id=code.grant_id, user_id=person.id, client_id=client.client_id, scope=code.scope,
            auth_time=code.auth_time, acr=code.acr, amr=code.amr, sid=code.sid,
            expires_at=now + current_app.config["IDP_REFRESH_TOKEN_TTL"],
            # RFC 9449 §5: a public client's refresh tokens are bound to its DPoP key (a
            # confidential client's are bound to its secret already).
            dpop_jkt=self.request.dpop_jkt if client.is_public else None,
        )
        offline = _offline(client, code.scope)
        if not _postgresql():
            db.session.execute(_INSERT_GRANT, {**grant.columns(), "created_at": now})
            refresh = _store_refresh_token(grant.id, client.client_id, code.scope, now) if offline else None
        else:
            refresh = random_token(32) if offline else None
        body = tokens.response(client=client, user=person, grant=grant, scope=code.scope, refresh=refresh, nonce=code.nonce,
                               id_token_claims=claims.id_token_claims(person, code.id_token_claims), jkt=self.request.dpop_jkt)
        # PostgreSQL: the statement that takes the code commits by itself, so it comes last,
        # once the tokens are signed: a request that fails before it leaves the code unused
        # for a retry, as the rollback does on SQLite.
        if _postgresql() and not _take_code_and_grant(code, grant, refresh, now):
            # A redemption racing this one took the code first (RFC 6749 §4.1.2).
            revocation.revoke_grant(grant.id, reason="code_reuse")
            db.session.commit()
            raise InvalidGrantError("the authorization code was already used")
        _commit()
        return 200, body, NO_STORE


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def authenticate_refresh_token(self, refresh_token: str) -> PresentedRefreshToken | None:
        """The token with its grant and person, in one statement."""
        # Outside the transaction: the rotation below is conditional on what it read.
        row = read_row(_PRESENTED, {"digest": token_hash(refresh_token)})
        return PresentedRefreshToken.from_row(row) if row is not None else None

    def authenticate_user(self, refresh_token: PresentedRefreshToken) -> PersonRecord | None:
        person = refresh_token.person
        return None if person.disabled else person

    def validate_token_request(self) -> None:
        client = self._validate_request_client()
        self.request.client = client
        value = self.request.form.get("refresh_token")
        if value is None:
            raise InvalidRequestError("Missing 'refresh_token' in request.")
        if _postgresql() and not self.request.payload.scope:
            # Read, checked and rotated by one statement in create_token_response; only the
            # proof is checked first, since the statement needs its key.
            self.request.dpop_jkt = dpop.token_request_key(self.request, required=client.dpop_bound, bound_to=None)
            return
        self._check_presented(client, value)

    def _check_presented(self, client: RegisteredClient, value: str) -> None:
        """Read the presented token and check it as authlib does, then its grant and key."""
        token = self.authenticate_refresh_token(value)
        if not token or not token.check_client(client):
            raise InvalidGrantError()
        self._validate_token_scope(token)
        self.request.refresh_token = token
        grant = token.grant
        if grant.revoked_at is not None or grant.expires_at <= clock.now():
            raise InvalidGrantError("the refresh token is no longer valid")
        self.request.dpop_jkt = dpop.token_request_key(self.request, required=client.dpop_bound, bound_to=grant.dpop_jkt)

    def create_token_response(self):  # noqa: ANN201
        client: RegisteredClient = self.request.client
        if self.request.refresh_token is None:
            answer = self._rotate_in_one_statement(client)
            if answer is not None:
                return answer
            # The statement found nothing to rotate: the reads and checks of the general
            # path say why (unknown, revoked, another key, a racing rotation inside the
            # grace window, a reuse) and act on it.
            self._check_presented(client, self.request.form["refresh_token"])
        presented: PresentedRefreshToken = self.request.refresh_token
        person = self.authenticate_user(presented)
        if person is None:
            raise InvalidGrantError("the account is not active")
        scope = self.request.payload.scope or presented.scope
        # Signed before the rotation: on PostgreSQL the rotation commits by itself, and a
        # failure after it would leave the client a used token whose retry is a reuse.
        successor = random_token(32)
        body = tokens.response(client=client, user=person, grant=presented.grant, scope=scope, refresh=successor,
                               jkt=self.request.dpop_jkt)
        body["refresh_token"] = self._rotate(presented, client, successor)
        _commit()
        return 200, body, NO_STORE

    def _rotate_in_one_statement(self, client: RegisteredClient):  # noqa: ANN202
        """PostgreSQL, without a `scope` parameter: one round trip finds the token, checks
        all that is stored about it (its client, unrotated, its grant live and bound to this
        key, its person active), rotates it and stores its successor (_REFRESH_IN_ONE).
        None when it rotated nothing.

        The tokens are signed after that commit. So that nothing after it can fail but a
        bug, the signing key is taken first (the key cache may read Redis and the
        database), and what follows is computation on values already in hand."""
        key = tokens.signer()
        digest = token_hash(self.request.form["refresh_token"])
        successor = random_token(32)
        sealed = (_keyring().encrypt(successor.encode(), context=digest.encode())
                  if client.refresh_grace_seconds else None)
        row = read_row(_REFRESH_IN_ONE, {
            "digest": digest, "client": client.client_id, "now": clock.now(), "jkt": self.request.dpop_jkt,
            "sealed": sealed, "successor_hash": token_hash(successor),
        })
        if row is None:
            return None
        presented = PresentedRefreshToken.from_row(row)
        body = tokens.response(client=client, user=presented.person, grant=presented.grant, scope=presented.scope,
                               refresh=successor, jkt=self.request.dpop_jkt, key=key)
        return 200, body, NO_STORE

    def _rotate(self, presented: PresentedRefreshToken, client: RegisteredClient, successor: str) -> str:
        """Mark the token used and return its successor (`successor`, or a racing request's
        inside the grace window); a reuse revokes the whole family (RFC 9700 §4.14.2),
        except a retry inside the client's grace window, which gets the same successor
        (several tabs of one SPA refreshing at once)."""
        now = clock.now()
        grace = client.refresh_grace_seconds or 0
        rotated_at, sealed_successor = presented.rotated_at, presented.successor_encrypted
        if rotated_at is None:
            sealed = _keyring().encrypt(successor.encode(), context=presented.token_hash.encode()) if grace > 0 else None
            if _rotate_and_issue(presented, successor, sealed, now):
                return successor
            # A request racing this one rotated it first: read what it stored.
            latest = read_row(_ROTATED, {"token_id": presented.id})
            if latest is None or latest.rotated_at is None:
                # Not rotated by anyone: its grant was revoked (or deleted) meanwhile.
                db.session.rollback()
                raise InvalidGrantError("the refresh token is no longer valid")
            rotated_at, sealed_successor = latest.rotated_at, latest.successor_encrypted
        # Rotated already: by a racing request, by a retry, or long ago (a reuse).
        if grace > 0 and sealed_successor and rotated_at is not None and now - rotated_at <= grace:
            return _keyring().decrypt(sealed_successor, context=presented.token_hash.encode()).decode()
        db.session.rollback()
        revocation.revoke_grant(presented.grant_id, reason="refresh_token_reuse")
        db.session.commit()
        metrics.refresh_token_reused()
        raise InvalidGrantError("the refresh token was already used")


def _commit() -> None:
    """Commit the request's session, if it has one: on PostgreSQL a redemption or a refresh
    writes outside it, and a session made only to commit nothing cost 30 µs a request."""
    if db.session.registry.has():
        db.session.commit()


def _postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def _take_code_and_grant(code: RedeemedCode, grant: GrantRecord, refresh: str | None, now: int) -> bool:
    """PostgreSQL: mark the code used and write its grant (and refresh token) in one
    statement, if the code is still unused and unexpired."""
    params = {"digest": code.code_hash, "client": grant.client_id, "now": now,
              **{f"g_{c}": v for c, v in {**grant.columns(), "created_at": now}.items() if c != "id"}}
    if refresh is None:
        return direct_sql.write(_GRANT_FROM_CODE, params) == 1
    return direct_sql.write(_GRANT_AND_REFRESH_FROM_CODE, {**params, "refresh_hash": token_hash(refresh)}) == 1


def _rotate_and_issue(presented: PresentedRefreshToken, successor: str, sealed: str | None, now: int) -> bool:
    """Mark `presented` rotated and store its successor, if no other request did first."""
    rotation = {"token_id": presented.id, "now": now, "sealed": sealed}
    if _postgresql():
        return direct_sql.write(_ROTATE_AND_ISSUE, {**rotation, "successor_hash": token_hash(successor)}) == 1
    # SQLite has no data-modifying CTE: two statements in one transaction, committed with
    # the response.
    if db.session.execute(_ROTATE, rotation).rowcount != 1:
        db.session.rollback()
        return False
    db.session.execute(_INSERT_REFRESH, {
        "token_hash": token_hash(successor), "grant_id": presented.grant_id,
        "client_id": presented.client_id, "scope": presented.scope, "issued_at": now,
    })
    return True


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def create_token_response(self):  # noqa: ANN201
        client: RegisteredClient = self.request.client
        requested = self.request.payload.scope
        allowed = client.get_allowed_scope(requested)
        if requested and set(requested.split()) - set(allowed.split()):
            raise InvalidScopeError()
        # No person stands behind these tokens: the OIDC scopes mean nothing here.
        scope = " ".join(s for s in allowed.split() if s not in ("openid", "offline_access"))
        body = tokens.response(client=client, user=None, grant=None, scope=scope)
        return 200, body, NO_STORE

