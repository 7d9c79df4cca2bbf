"""Grant types on top of authlib's classes, closing what authlib leaves open:
PKCE S256 required, atomic single-use codes and refresh tokens, reuse revoking the grant,
refresh rotation with an optional grace window, and the authentication context carried
from the sign-in into every token."""

from __future__ import annotations

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidScopeError, grants
from flask import current_app
from sqlalchemy import update

from .. import clock
from ..extensions import db
from ..models import AuthorizationCode, Client, Grant, RefreshToken, User
from ..security.tokens import random_token, token_hash
from . import pkce, revocation, tokens

NO_STORE = [
    ("Content-Type", "application/json"),
    ("Cache-Control", "no-store"),
    ("Pragma", "no-cache"),
]


def _keyring():  # noqa: ANN202
    return current_app.extensions["idp.keyring"]


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    # 256 bits of entropy per code.
    AUTHORIZATION_CODE_LENGTH = 43

    def save_authorization_code(self, code: str, request) -> None:  # noqa: ANN001
        ctx = request.auth_context  # set by the authorization view: who, how, when
        db.session.add(
            AuthorizationCode(
                code_hash=token_hash(code),
                client_id=request.client.client_id,
                user_id=request.user.id,
                redirect_uri=request.payload.redirect_uri,
                scope=request.scope,
                nonce=request.payload.data.get("nonce"),
                code_challenge=request.payload.data["code_challenge"],
                auth_time=ctx.auth_time,
                acr=ctx.acr,
                amr=ctx.amr,
                sid=ctx.sid,
                expires_at=clock.now() + current_app.config["IDP_CODE_TTL"],
                # Chosen now, so a second redemption racing the first can revoke it.
                grant_id=tokens.new_grant_id(),
            )
        )

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        row = db.session.get(AuthorizationCode, token_hash(code))
        if row is None or row.client_id != client.client_id:
            return None
        if row.used_at is not None:
            # RFC 6749 §4.1.2: a code used twice revokes what it issued.
            revocation.revoke_grant(row.grant_id, reason="code_reuse")
            db.session.commit()
            return None
        if row.expires_at < clock.now():
            return None
        return row

    def validate_token_request(self) -> None:
        super().validate_token_request()
        # redirect_uri is REQUIRED at the token endpoint when it was in the request
        # (RFC 6749 §4.1.3), and it always is here.
        if self.request.payload.redirect_uri is None:
            raise InvalidGrantError("redirect_uri is required")
        code = self.request.authorization_code
        pkce.check_verifier(self.request.form.get("code_verifier"), code.code_challenge)

    def create_token_response(self):  # noqa: ANN201
        code: AuthorizationCode = self.request.authorization_code
        client: Client = self.request.client
        now = clock.now()
        # The check and the use are one statement: of two concurrent redemptions exactly
        # one updates the row; the other waits for its commit, then sees used_at set.
        won = db.session.execute(
            update(AuthorizationCode)
            .where(AuthorizationCode.code_hash == code.code_hash, AuthorizationCode.used_at.is_(None))
            .values(used_at=now)
        ).rowcount
        if won != 1:
            db.session.rollback()
            revocation.revoke_grant(code.grant_id, reason="code_reuse")
            db.session.commit()
            raise InvalidGrantError("the authorization code was already used")
        user = db.session.get(User, code.user_id)
        if user is None or user.disabled:
            db.session.commit()
            raise InvalidGrantError("the account is not active")
        grant = Grant(
            id=code.grant_id,
            user_id=user.id,
            client_id=client.client_id,
            scope=code.scope,
            auth_time=code.auth_time,
            acr=code.acr,
            amr=code.amr,
            sid=code.sid,
            created_at=now,
            expires_at=now + current_app.config["IDP_REFRESH_TOKEN_TTL"],
        )
        db.session.add(grant)
        refresh, _ = tokens.new_refresh_token(grant, client, code.scope)
        body = tokens.response(
            client=client, user=user, grant=grant, scope=code.scope, refresh=refresh, nonce=code.nonce
        )
        db.session.commit()
        return 200, body, NO_STORE


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
        return db.session.query(RefreshToken).filter_by(token_hash=token_hash(refresh_token)).first()

    def authenticate_user(self, refresh_token: RefreshToken) -> User | None:
        user = db.session.get(User, self.request.grant.user_id)
        return user if user is not None and not user.disabled else None

    def validate_token_request(self) -> None:
        super().validate_token_request()
        row: RefreshToken = self.request.refresh_token
        grant = db.session.get(Grant, row.grant_id)
        if grant is None or grant.revoked_at is not None or grant.expires_at <= clock.now():
            raise InvalidGrantError("the refresh token is no longer valid")
        self.request.grant = grant

    def create_token_response(self):  # noqa: ANN201
        row: RefreshToken = self.request.refresh_token
        grant: Grant = self.request.grant
        client: Client = self.request.client
        user = self.authenticate_user(row)
        if user is None:
            raise InvalidGrantError("the account is not active")
        scope = self.request.payload.scope or row.scope
        successor = self._rotate(row, client)
        body = tokens.response(client=client, user=user, grant=grant, scope=scope, refresh=successor)
        db.session.commit()
        return 200, body, NO_STORE

    def _rotate(self, row: RefreshToken, client: Client) -> str:
        """Mark `row` used and return its successor; a reuse revokes the whole family
        (RFC 9700 §4.14.2), except a retry inside the client's grace window, which gets
        the same successor (several tabs of one SPA refreshing at once)."""
        now = clock.now()
        grace = client.refresh_grace_seconds or 0
        if row.rotated_at is None:
            successor = random_token(32)
            sealed = (
                _keyring().encrypt(successor.encode(), context=row.token_hash.encode())
                if grace > 0
                else None
            )
            won = db.session.execute(
                update(RefreshToken)
                .where(RefreshToken.id == row.id, RefreshToken.rotated_at.is_(None))
                .values(rotated_at=now, successor_encrypted=sealed)
            ).rowcount
            if won == 1:
                db.session.add(
                    RefreshToken(
                        token_hash=token_hash(successor),
                        grant_id=row.grant_id,
                        client_id=row.client_id,
                        scope=row.scope,
                        issued_at=now,
                    )
                )
                return successor
            db.session.rollback()
            db.session.refresh(row)
        if (
            grace > 0
            and row.successor_encrypted
            and row.rotated_at is not None
            and now - row.rotated_at <= grace
        ):
            return _keyring().decrypt(row.successor_encrypted, context=row.token_hash.encode()).decode()
        db.session.rollback()
        revocation.revoke_grant(row.grant_id, reason="refresh_token_reuse")
        db.session.commit()
        raise InvalidGrantError("the refresh token was already used")


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def create_token_response(self):  # noqa: ANN201
        client: Client = self.request.client
        requested = self.request.payload.scope
        allowed = client.get_allowed_scope(requested)
        if requested and set(requested.split()) - set(allowed.split()):
            raise InvalidScopeError()
        # No person stands behind these tokens: the OIDC scopes mean nothing here.
        scope = " ".join(s for s in allowed.split() if s not in ("openid", "offline_access"))
        body = tokens.response(client=client, user=None, grant=None, scope=scope)
        return 200, body, NO_STORE
