"""Revocation (RFC 7009), introspection (RFC 7662) and RP-initiated logout endpoints."""

from __future__ import annotations

from authlib.oauth2.rfc7009 import RevocationEndpoint as _Revocation
from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _Introspection
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oidc.rpinitiated import EndSessionEndpoint as _EndSession
from flask import current_app
from sqlalchemy import select

from .. import clock
from ..extensions import db
from ..models import Grant, RefreshToken, User
from ..security.tokens import token_hash
from ..store import denylist
from . import access, jwt, revocation
from .client_lookup import RegisteredClient
from .records import PresentedRefreshToken

GRANTS = Grant.__table__
REFRESH = RefreshToken.__table__
USERS = User.__table__


class _Found:
    """A token found by its string: an access token's claims or a live refresh token."""

    def __init__(self, *, access_claims: dict | None = None, refresh: PresentedRefreshToken | None = None):
        self.access_claims = access_claims
        self.refresh = refresh

    def check_client(self, client: RegisteredClient) -> bool:
        owner = self.refresh.client_id if self.refresh else self.access_claims.get("client_id")
        return owner == client.client_id

    def is_expired(self) -> bool:
        return False  # lookups only return live tokens

    def is_revoked(self) -> bool:
        return False


def _find(token: str, hint: str | None) -> _Found | None:
    order = ("refresh_token", "access_token") if hint == "refresh_token" else ("access_token", "refresh_token")
    for kind in order:
        if kind == "access_token" and token.count(".") == 2:
            found = access.validate(token)
            if found is not None:
                return _Found(access_claims=found.claims)
        if kind == "refresh_token" and len(token) <= 128:
            row = db.session.execute(
                select(*PresentedRefreshToken.COLUMNS(REFRESH, GRANTS, USERS))
                .join(GRANTS, GRANTS.c.id == REFRESH.c.grant_id)
                .join(USERS, USERS.c.id == GRANTS.c.user_id)
                .where(REFRESH.c.token_hash == token_hash(token))
            ).first()
            if row is not None:
                presented = PresentedRefreshToken.from_row(row)
                grant = presented.grant
                if grant.revoked_at is None and grant.expires_at > clock.now() and presented.rotated_at is None:
                    return _Found(refresh=presented)
    return None


class RevocationEndpoint(_Revocation):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> _Found | None:
        return _find(token_string, token_type_hint)

    def authenticate_token(self, request, client):  # noqa: ANN001, ANN201
        self.check_params(request, client)
        token = self.query_token(request.form["token"], request.form.get("token_type_hint"))
        # RFC 7009 §2.2: a token of another client is not revoked, and the answer is still
        # 200, so the endpoint cannot be used to probe for tokens.
        return token if token and token.check_client(client) else None

    def revoke_token(self, token: _Found, request) -> None:  # noqa: ANN001
        if token.refresh is not None:
            # RFC 7009 §2.1: revoking a refresh token ends the access tokens of its grant.
            revocation.revoke_grant(token.refresh.grant_id, reason="revoked")
        else:
            # Only this access token: remembered until it would expire anyway, and its grant
            # notes that its tokens must now be checked against that list.
            claims = token.access_claims
            denylist.add(claims["jti"], claims["exp"] - clock.now())
            revocation.note_access_revoked(access.grant_of(claims["jti"]))
        db.session.commit()


class IntrospectionEndpoint(_Introspection):
    # Confidential clients only: a public client cannot keep the answer to itself.
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> _Found | None:
        return _find(token_string, token_type_hint)

    def check_permission(self, token: _Found, client: RegisteredClient, request) -> bool:  # noqa: ANN001
        # Any confidential client (a resource server) may introspect an access token;
        # a refresh token only by the client it was issued to.
        return token.access_claims is not None or token.check_client(client)

    def introspect_token(self, token: _Found) -> dict:
        if token.access_claims is not None:
            c = token.access_claims
            body = {k: c[k] for k in ("iss", "sub", "aud", "client_id", "scope", "exp", "iat", "jti") if k in c}
            body.update({k: c[k] for k in ("auth_time", "acr", "amr", "cnf") if k in c})
            body["token_type"] = "DPoP" if "cnf" in c else "Bearer"
            return body
        row = token.refresh
        return {
            "client_id": row.client_id,
            "scope": row.scope,
            "sub": row.person.subject,
            "iat": row.issued_at,
            "exp": row.grant.expires_at,
            "token_type": "refresh_token",
        }


class EndSessionEndpoint(_EndSession):
    def get_server_jwks(self):  # noqa: ANN201
        return current_app.extensions["idp.keys"].snapshot().public

    def get_algorithms(self) -> list[str]:
        return jwt.ACCEPTED_ALGS

    def _validate_id_token_hint(self, id_token_hint: str) -> dict:
        """Our own verification: an ID token of ours, never an access token (resource
        servers see those, and one must not sign anyone out)."""
        try:
            header, claims = jwt.verify(current_app.extensions["idp.keys"], id_token_hint)
        except jwt.InvalidToken as exc:
            raise InvalidRequestError("id_token_hint is not a valid ID token of this issuer") from exc
        if str(header.get("typ", "")).lower() == "at+jwt" or claims.get("iss") != current_app.config["IDP_ISSUER"]:
            raise InvalidRequestError("id_token_hint is not an ID token of this issuer")
        return claims

    def is_post_logout_redirect_uri_legitimate(self, request, post_logout_redirect_uri, client, logout_hint):  # noqa: ANN001
        # Reached only with a client_id whose registered URIs contain this one exactly
        # (RP-Initiated Logout §3). Without id_token_hint anyone can send such a request,
        # so the view asks the person before signing them out; the redirect itself can
        # only go where the client registered.
        return True

    def end_session(self, end_session_request) -> None:  # noqa: ANN001
        """The view ends the browser session itself (it owns flask.session)."""
