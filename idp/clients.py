"""Registering and changing OAuth clients; the command line and the admin console share it."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from sqlalchemy import select

from . import audit, clock
from .authn import acr as acrs
from .extensions import db
from .models import Client, Grant
from .oauth import revocation
from .security.tokens import random_token, token_hash
from .texts import N_

DEFAULT_SCOPE = "openid profile email offline_access"

#: A confidential client's default refresh grace window. Server-side apps with several
#: workers (Apache's mod_auth_openidc) refresh in parallel with one token; the loser of the
#: race must get the winner's successor, not end the grant. Their refresh tokens are bound
#: to the client's secret (RFC 6749 §10.4), so a replay needs the secret too, and RFC 9700
#: §4.14.2 asks for reuse detection only for public clients. 30 s is Okta's default.
CONFIDENTIAL_REFRESH_GRACE = 30
#: The longest grace windows we accept. A public client's refresh token is a bearer
#: secret in a browser: strict rotation by default, at most a short grace (tabs of one SPA).
MAX_REFRESH_GRACE = 60
MAX_PUBLIC_REFRESH_GRACE = 10


class ClientError(ValueError):
    pass


def redirect_uri_problem(uri: str) -> str | None:
    """RFC 6749 §3.1.2: absolute, no fragment; https except for loopback (RFC 8252 §7.3)
    and private-use schemes of native apps."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return N_("not a URL")
    if not parts.scheme or parts.fragment or "#" in uri:
        return N_("must be an absolute URI without a fragment")
    if parts.scheme in ("javascript", "data", "file", "vbscript"):
        return N_("scheme not allowed")
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        return N_("http is only allowed for localhost")
    if parts.scheme in ("http", "https") and not parts.hostname:
        return N_("has no host")
    return None


def backchannel_problem(uri: str) -> str | None:
    """Back-Channel Logout 1.0 §2.2: an absolute http(s) URL, no fragment; https except
    for localhost, as for redirect URIs."""
    problem = redirect_uri_problem(uri)
    if problem is None and urlsplit(uri).scheme not in ("http", "https"):
        problem = N_("must be an http(s) URL")
    return problem


def _check_uris(redirect_uris: list[str], logout_uris: list[str]) -> None:
    if not redirect_uris:
        raise ClientError(N_("At least one redirect URI is needed."))
    for uri in [*redirect_uris, *logout_uris]:
        problem = redirect_uri_problem(uri)
        if problem:
            raise ClientError(N_("%(uri)s: %(problem)s", uri=uri, problem=problem))


def create(
    *, name: str, redirect_uris: list[str], logout_uris: list[str], public: bool, min_acr: str | None = None,
    scope: str = DEFAULT_SCOPE, refresh_grace_seconds: int | None = None, pkce_required: bool = True,
    refresh_tokens_always: bool = False, backchannel_logout_uri: str | None = None, dpop_bound: bool = False,
    actor_id: int | None = None,
) -> tuple[Client, str | None]:
    """The new client and its secret (None for a public client); the secret is shown once.
    `refresh_grace_seconds` None chooses the default for the client's type."""
    name = name.strip()[:200]
    if not name:
        raise ClientError(N_("A name is needed."))
    _check_uris(redirect_uris, logout_uris)
    if min_acr is not None and min_acr not in acrs.LEVELS:
        raise ClientError(N_("Unknown acr %(acr)r.", acr=min_acr))
    if public and not pkce_required:
        raise ClientError(N_("PKCE is always required for a public client."))
    refresh_grace_seconds = refresh_grace(public, refresh_grace_seconds)
    if backchannel_logout_uri:
        problem = backchannel_problem(backchannel_logout_uri)
        if problem:
            raise ClientError(N_("%(uri)s: %(problem)s", uri=backchannel_logout_uri, problem=problem))
    secret = None if public else random_token(32)
    client = Client(
        client_id=secrets.token_urlsafe(16), client_secret_hash=token_hash(secret) if secret else None,
        name=name, redirect_uris=list(redirect_uris), post_logout_redirect_uris=list(logout_uris),
        scope=" ".join(dict.fromkeys(scope.split())), is_public=public, min_acr=min_acr,
        refresh_grace_seconds=refresh_grace_seconds, pkce_required=pkce_required,
        refresh_tokens_always=refresh_tokens_always, backchannel_logout_uri=backchannel_logout_uri or None,
        dpop_bound=dpop_bound, created_at=clock.now(),
    )
    db.session.add(client)
    audit.emit("client.created", actor_id=actor_id, client_id=client.client_id, name=name, public=public)
    return client, secret


def refresh_grace(public: bool, seconds: int | None) -> int:
    """The grace window a client gets: the default for its type, or `seconds` within limits."""
    if seconds is None:
        return 0 if public else CONFIDENTIAL_REFRESH_GRACE
    limit = MAX_PUBLIC_REFRESH_GRACE if public else MAX_REFRESH_GRACE
    if not 0 <= seconds <= limit:
        if public:
            raise ClientError(N_("The refresh grace window of a public client is 0 to %(limit)d seconds.", limit=limit))
        raise ClientError(N_("The refresh grace window of a confidential client is 0 to %(limit)d seconds.", limit=limit))
    return seconds


def find(client_id: str) -> Client | None:
    return db.session.scalar(select(Client).where(Client.client_id == client_id))


def update_uris(client: Client, redirect_uris: list[str], logout_uris: list[str], *, actor_id: int | None) -> None:
    _check_uris(redirect_uris, logout_uris)
    client.redirect_uris, client.post_logout_redirect_uris = list(redirect_uris), list(logout_uris)
    audit.emit("client.updated", actor_id=actor_id, client_id=client.client_id, redirect_uris=redirect_uris)


def rotate_secret(client: Client, *, actor_id: int | None) -> str:
    if client.is_public:
        raise ClientError(N_("A public client has no secret."))
    secret = random_token(32)
    client.client_secret_hash = token_hash(secret)
    audit.emit("client.secret_rotated", actor_id=actor_id, client_id=client.client_id)
    return secret


def delete(client: Client, *, actor_id: int | None) -> None:
    """Its grants are revoked first, so its refresh tokens die with it."""
    for grant_id in db.session.scalars(select(Grant.id).where(Grant.client_id == client.client_id)):
        revocation.revoke_grant(grant_id, reason="client_deleted")
    db.session.delete(client)
    audit.emit("client.deleted", actor_id=actor_id, client_id=client.client_id)
