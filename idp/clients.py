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
    scope: str = DEFAULT_SCOPE, refresh_grace_seconds: int | None = None, pkce_required: bool = True,
    refresh_tokens_always: bool = False, backchannel_logout_uri: str | None = None, dpop_bound: bool = False,
    actor_id: int | None = None, client_uri: str | None = None, logo_uri: str | None = None,
) -> tuple[Client, str | None]:
    """The new client and its secret (None for a public client); the secret is shown once.
    `refresh_grace_seconds` None chooses the default for the client's type."""
    name = name.strip()[:200]
    if not name:
        raise ClientError(N_("A name is needed."))
    _check_uris(redirect_uris, logout_uris)
    client_uri, logo_uri = _display_uri(client_uri), _display_uri(logo_uri)
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
        dpop_bound=dpop_bound, created_at=clock.now(), client_uri=client_uri, logo_uri=logo_uri,
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


#: What `update` may change; anything else (client_id, public or not) is fixed at creation.
EDITABLE = ("name", "redirect_uris", "post_logout_redirect_uris", "scope", "refresh_grace_seconds", "min_acr",
            "client_uri", "logo_uri")


def update(client: Client, *, actor_id: int | None, **changes: object) -> list[str]:
    """Change a registered client; the names of what changed. Checked as at creation."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ClientError(f"cannot change {', '.join(sorted(unknown))}")
    if "name" in changes:
        changes["name"] = str(changes["name"]).strip()[:200]
        if not changes["name"]:
            raise ClientError("a name is needed")
    redirect_uris = list(changes.get("redirect_uris", client.redirect_uris))  # type: ignore[call-overload]
    logout_uris = list(changes.get("post_logout_redirect_uris", client.post_logout_redirect_uris))  # type: ignore[call-overload]
    _check_uris(redirect_uris, logout_uris)
    if "scope" in changes:
        scope = " ".join(dict.fromkeys(str(changes["scope"]).split()))
        if not scope:
            raise ClientError("a scope is needed")
        changes["scope"] = scope
    if "refresh_grace_seconds" in changes:
        grace = int(changes["refresh_grace_seconds"])  # type: ignore[call-overload]
        if not 0 <= grace <= 60:
            raise ClientError("the refresh grace is 0 to 60 seconds")
        changes["refresh_grace_seconds"] = grace
    if "min_acr" in changes:
        changes["min_acr"] = changes["min_acr"] or None
        if changes["min_acr"] is not None and changes["min_acr"] not in acrs.LEVELS:
            raise ClientError(f"unknown acr {changes['min_acr']!r}")
    for name in ("client_uri", "logo_uri"):
        if name in changes:
            changes[name] = _display_uri(changes[name])  # type: ignore[arg-type]
    changed = [name for name, value in changes.items() if getattr(client, name) != value]
    for name in changed:
        setattr(client, name, changes[name])
    if changed:
        audit.emit("client.updated", actor_id=actor_id, client_id=client.client_id, changed=changed)
    return changed


def describe(client: Client) -> dict:
    """The registration as `idp clients show --json` prints it (never the secret's hash)."""
    return {
        "client_id": client.client_id, "name": client.name, "public": client.is_public,
        "redirect_uris": list(client.redirect_uris), "post_logout_redirect_uris": list(client.post_logout_redirect_uris),
        "scope": client.scope, "min_acr": client.min_acr, "refresh_grace_seconds": client.refresh_grace_seconds,
        "client_uri": client.client_uri, "logo_uri": client.logo_uri, "created_at": client.created_at,
    }


def every() -> list[Client]:
    return list(db.session.scalars(select(Client).order_by(Client.name, Client.client_id)))


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
