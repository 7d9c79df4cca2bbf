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


def _check_uris(redirect_uris: list[str], logout_uris: list[str]) -> None:
    if not redirect_uris:
        raise ClientError(N_("At least one redirect URI is needed."))
    for uri in [*redirect_uris, *logout_uris]:
        problem = redirect_uri_problem(uri)
        if problem:
            raise ClientError(N_("%(uri)s: %(problem)s", uri=uri, problem=problem))


def display_uri_problem(uri: str) -> str | None:
    """The app's home page or logo, shown on the sign-in pages: https (http only for
    localhost), never a script or data URL."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "not a URL"
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1", "::1"):
        return None
    return "must be an https URL"


def _display_uri(uri: str | None) -> str | None:
    uri = (uri or "").strip() or None
    if uri is not None:
        if len(uri) > 2000:
            raise ClientError(f"{uri[:40]}…: too long")
        problem = display_uri_problem(uri)
        if problem:
            raise ClientError(f"{uri}: {problem}")
    return uri


def create(
    *, name: str, redirect_uris: list[str], logout_uris: list[str], public: bool, min_acr: str | None = None,
    scope: str = DEFAULT_SCOPE, refresh_grace_seconds: int = 0, actor_id: int | None = None,
    client_uri: str | None = None, logo_uri: str | None = None,
) -> tuple[Client, str | None]:
    """The new client and its secret (None for a public client); the secret is shown once."""
    name = name.strip()[:200]
    if not name:
        raise ClientError(N_("A name is needed."))
    _check_uris(redirect_uris, logout_uris)
    client_uri, logo_uri = _display_uri(client_uri), _display_uri(logo_uri)
    if min_acr is not None and min_acr not in acrs.LEVELS:
        raise ClientError(N_("Unknown acr %(acr)r.", acr=min_acr))
    secret = None if public else random_token(32)
    client = Client(
        client_id=secrets.token_urlsafe(16), client_secret_hash=token_hash(secret) if secret else None,
        name=name, redirect_uris=list(redirect_uris), post_logout_redirect_uris=list(logout_uris),
        scope=" ".join(dict.fromkeys(scope.split())), is_public=public, min_acr=min_acr,
        refresh_grace_seconds=refresh_grace_seconds, created_at=clock.now(), client_uri=client_uri, logo_uri=logo_uri,
    )
    db.session.add(client)
    audit.emit("client.created", actor_id=actor_id, client_id=client.client_id, name=name, public=public)
    return client, secret


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
