"""What goes into the tokens we issue: ID tokens (OIDC Core 2), JWT access tokens
(RFC 9068) and opaque refresh tokens, stored only as hashes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from flask import current_app

from .. import clock
from . import jwt
from .client_lookup import RegisteredClient
from .records import GrantRecord, PersonRecord


@dataclass(frozen=True)
class Settings:
    issuer: str
    audience: str
    access_ttl: int


def settings() -> Settings:
    c = current_app.config
    return Settings(
        issuer=c["IDP_ISSUER"],
        audience=c["IDP_ACCESS_TOKEN_AUDIENCE"],
        access_ttl=c["IDP_ACCESS_TOKEN_TTL"],
    )


def _keys():  # noqa: ANN202
    return current_app.extensions["idp.keys"]


def signer() -> tuple[str, Any]:
    """The alg and key that sign tokens now, from the key cache (which may read Redis and the
    database): taken once per response, or before a statement after which nothing may."""
    return _keys().signing_key()


def new_grant_id() -> str:
    return secrets.token_urlsafe(16)


def access_token(
    *, client: RegisteredClient, scope: str, user: PersonRecord | None, grant: GrantRecord | None, jkt: str | None,
    key: tuple[str, Any],
) -> str:
    s, now = settings(), clock.now()
    claims: dict[str, Any] = {
        "iss": s.issuer,
        "sub": user.subject if user else client.client_id,
        "aud": s.audience,
        "client_id": client.client_id,
        "scope": scope,
        # The grant id prefix lets userinfo and introspection refuse tokens of a revoked
        # grant (code reuse, refresh-token reuse, sign-out, a disabled person).
        "jti": f"{grant.id}.{secrets.token_urlsafe(12)}" if grant else secrets.token_urlsafe(16),
        "iat": now,
        "exp": now + s.access_ttl,
    }
    if jkt is not None:
        claims["cnf"] = {"jkt": jkt}  # RFC 9449 §6: bound to the DPoP key
    if grant is not None:
        claims.update(auth_time=grant.auth_time, acr=grant.acr, amr=grant.amr)
        if grant.sid:
            claims["sid"] = grant.sid
    return jwt.sign(_keys(), claims, typ="at+jwt", key=key)


def id_token(
    *, client: RegisteredClient, user: PersonRecord, grant: GrantRecord, access: str, nonce: str | None,
    extra: dict[str, Any] | None, key: tuple[str, Any],
) -> str:
    s, now = settings(), clock.now()
    alg = key[0]
    claims: dict[str, Any] = {
        "iss": s.issuer,
        "sub": user.subject,
        "aud": client.client_id,
        "azp": client.client_id,
        "iat": now,
        "exp": now + s.access_ttl,
        "auth_time": grant.auth_time,
        "acr": grant.acr,
        "amr": grant.amr,
        "at_hash": jwt.half_hash(access, alg),
    }
    if grant.sid:
        claims["sid"] = grant.sid
    if nonce:
        claims["nonce"] = nonce
    if extra:
        claims.update(extra)  # the person's claims the `claims` parameter asked for
    return jwt.sign(_keys(), claims, key=key)


def response(
    *,
    client: RegisteredClient,
    user: PersonRecord | None,
    grant: GrantRecord | None,
    scope: str,
    refresh: str | None = None,
    nonce: str | None = None,
    id_token_claims: dict[str, Any] | None = None,
    jkt: str | None = None,
    key: tuple[str, Any] | None = None,
) -> dict[str, Any]:
    """The token endpoint's JSON body (RFC 6749 §5.1). `key`: signer(), if the caller took
    it earlier; both tokens are signed with the same one."""
    key = key or signer()
    access = access_token(client=client, scope=scope, user=user, grant=grant, jkt=jkt, key=key)
    body: dict[str, Any] = {
        "access_token": access,
        "token_type": "DPoP" if jkt else "Bearer",  # RFC 9449 §5
        "expires_in": settings().access_ttl,
        "scope": scope,
    }
    if refresh:
        body["refresh_token"] = refresh
    if user is not None and grant is not None and "openid" in scope.split():
        body["id_token"] = id_token(client=client, user=user, grant=grant, access=access, nonce=nonce, extra=id_token_claims,
                                    key=key)
    return body
