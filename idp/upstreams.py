"""Upstream OpenID providers as the operator manages them, and the links people make to
them. The command line and the admin console call the same functions; they add to the
session and audit, and the caller commits once."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select

from . import audit, clock
from .extensions import db
from .models import Upstream, UpstreamLink, User, WebAuthnCredential
from .net import check_url
from .security.keyring import KeyRing
from .texts import N_
from .upstream.client import Identity, Provider, UpstreamClient
from .upstream.errors import UpstreamError

NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}")
GOOGLE = "https://accounts.google.com"


class UpstreamConfigError(ValueError):
    """A refusal to show as is (to an operator, or on the account page)."""


def _context(name: str) -> bytes:
    return f"upstream:{name}".encode()


def redirect_uri(name: str) -> str:
    """What the operator registers at the provider (Google: "Authorized redirect URIs")."""
    return f"{current_app.config['IDP_ISSUER']}/login/upstream/{name}/callback"


def add(
    name: str, *, issuer: str, client_id: str, client_secret: str, display_name: str | None = None,
    domains: list[str] | None = None, trust_mfa: bool = False, client: UpstreamClient, keyring: KeyRing,
    actor_id: int | None = None,
) -> Upstream:
    """Checks the provider's discovery document before anything is stored."""
    if not NAME.fullmatch(name or ""):
        raise UpstreamConfigError(N_("The name must be 1-32 lower-case letters, digits or dashes, starting with a letter or digit."))
    try:
        check_url(issuer, allow_loopback_http=client.http.allow_loopback_http)
    except ValueError as exc:
        raise UpstreamConfigError(N_("Issuer: %(problem)s", problem=str(exc))) from None
    domains = sorted({d.strip().lower() for d in domains or [] if d.strip()})
    bad = [d for d in domains if not DOMAIN.fullmatch(d)]
    if bad:
        raise UpstreamConfigError(N_("Not a domain name: %(domain)r", domain=bad[0]))
    if not client_id or not client_secret or len(client_id) > 255 or len(client_secret) > 1024:
        raise UpstreamConfigError(N_("The client ID and secret are required (as the provider issued them)."))
    if db.session.scalar(select(Upstream.id).where((Upstream.name == name) | (Upstream.issuer == issuer))):
        raise UpstreamConfigError(N_("An upstream named %(name)r or with issuer %(issuer)r exists already.", name=name, issuer=issuer))
    try:
        client.metadata.get(issuer)
    except UpstreamError as exc:
        raise UpstreamConfigError(N_("The provider's discovery document at %(issuer)s is not usable: %(detail)s", issuer=issuer, detail=exc.detail)) from None
    row = Upstream(
        name=name, display_name=(display_name or name.capitalize()).strip()[:100], issuer=issuer, client_id=client_id,
        client_secret_encrypted=keyring.encrypt(client_secret.encode(), context=_context(name)),
        domains=domains, trust_mfa=trust_mfa, created_at=clock.now(),
    )
    db.session.add(row)
    db.session.flush()
    audit.emit("upstream.added", actor_id=actor_id, name=name, issuer=issuer, domains=domains, trust_mfa=trust_mfa)
    _buttons.forget()
    return row


def remove(name: str, *, actor_id: int | None = None) -> int:
    """Removes the upstream and every link to it; returns how many links went."""
    row = find(name)
    if row is None:
        raise UpstreamConfigError(N_("No upstream named %(name)r.", name=name))
    links = db.session.query(UpstreamLink).filter_by(upstream_id=row.id).delete()
    db.session.delete(row)
    audit.emit("upstream.removed", actor_id=actor_id, name=name, issuer=row.issuer, links=links)
    _buttons.forget()
    return links


def find(name: str) -> Upstream | None:
    return db.session.scalar(select(Upstream).where(Upstream.name == name)) if NAME.fullmatch(name or "") else None


def every() -> list[Upstream]:
    return list(db.session.scalars(select(Upstream).order_by(Upstream.name)))


def link_counts() -> dict[int, int]:
    rows = db.session.execute(select(UpstreamLink.upstream_id, func.count()).group_by(UpstreamLink.upstream_id))
    return {upstream_id: n for upstream_id, n in rows}


def provider(row: Upstream, keyring: KeyRing) -> Provider:
    secret = keyring.decrypt(row.client_secret_encrypted, context=_context(row.name)).decode()
    return Provider(row.name, row.issuer, row.client_id, secret, tuple(row.domains or ()), row.trust_mfa)


def describe(row: Upstream, links: int) -> dict:
    return {
        "name": row.name, "display_name": row.display_name, "issuer": row.issuer, "client_id": row.client_id,
        "domains": row.domains, "trust_mfa": row.trust_mfa, "redirect_uri": redirect_uri(row.name), "links": links,
    }


# --- the buttons of the sign-in pages --------------------------------------------------

@dataclass(frozen=True)
class Button:
    name: str
    display_name: str


class _ButtonCache:
    """The sign-in page shows one button per upstream; they change rarely, so each process
    keeps the list for a few seconds instead of a query per page."""

    TTL = 30

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: tuple[float, list[Button]] | None = None

    def get(self) -> list[Button]:
        with self._lock:
            value = self._value
        if value and time.monotonic() - value[0] < self.TTL:
            return value[1]
        buttons = [Button(r.name, r.display_name) for r in every()]
        with self._lock:
            self._value = (time.monotonic(), buttons)
        return buttons

    def forget(self) -> None:
        with self._lock:
            self._value = None


_buttons = _ButtonCache()
buttons = _buttons.get


# --- links ---------------------------------------------------------------------------------

def find_link(identity: Identity) -> UpstreamLink | None:
    return db.session.scalar(select(UpstreamLink).where(
        UpstreamLink.issuer == identity.issuer, UpstreamLink.subject == identity.subject))


def links_of(user_id: int) -> list[tuple[UpstreamLink, Upstream]]:
    return [(link, row) for link, row in db.session.execute(
        select(UpstreamLink, Upstream).join(Upstream, Upstream.id == UpstreamLink.upstream_id)
        .where(UpstreamLink.user_id == user_id).order_by(Upstream.name)
    )]


def link(user: User, row: Upstream, identity: Identity, *, ip: str | None = None, via: str) -> UpstreamLink:
    """By the identity's `iss` and `sub` (never by email): one identity, one person; one
    link per person and upstream."""
    other = find_link(identity)
    if other is not None:
        raise UpstreamConfigError(
            N_("This %(provider)s account is already linked to your account here.", provider=row.display_name)
            if other.user_id == user.id else
            N_("This %(provider)s account is already linked to another account here.", provider=row.display_name)
        )
    if db.session.scalar(select(UpstreamLink.id).where(UpstreamLink.user_id == user.id, UpstreamLink.upstream_id == row.id)):
        raise UpstreamConfigError(N_("Your account is linked to another %(provider)s account already: unlink it first.", provider=row.display_name))
    made = UpstreamLink(user_id=user.id, upstream_id=row.id, issuer=identity.issuer, subject=identity.subject,
                        email=identity.email or "", created_at=clock.now(), last_used_at=clock.now())
    db.session.add(made)
    db.session.flush()
    audit.emit("upstream.linked", user_id=user.id, ip=ip, upstream=row.name, via=via)
    return made


def unlink(user: User, link_id: int, *, ip: str | None = None) -> str:
    """Refused when it would leave the person no way to sign in: a password, a passkey or
    another link must remain. Returns the upstream's display name."""
    found = db.session.execute(
        select(UpstreamLink, Upstream).join(Upstream, Upstream.id == UpstreamLink.upstream_id)
        .where(UpstreamLink.id == link_id, UpstreamLink.user_id == user.id)
    ).first()
    if found is None:
        raise UpstreamConfigError(N_("No such link."))
    row, upstream = found
    others = db.session.scalar(select(func.count()).select_from(UpstreamLink).where(
        UpstreamLink.user_id == user.id, UpstreamLink.id != row.id)) or 0
    passkey = db.session.scalar(select(WebAuthnCredential.id).where(
        WebAuthnCredential.user_id == user.id, WebAuthnCredential.is_passkey.is_(True)))
    if not (user.password_hash or user.legacy_password or others or passkey):
        raise UpstreamConfigError(
            N_("%(provider)s is your only way to sign in. Set a password (or add a passkey) first, then unlink it.",
               provider=upstream.display_name)
        )
    db.session.delete(row)
    audit.emit("upstream.unlinked", user_id=user.id, ip=ip, upstream=upstream.name)
    return upstream.display_name


def domain_allowed(identity: Identity, domains: tuple[str, ...]) -> bool:
    """With a domain list, the account must belong to one of them. Google says it with
    `hd` (a Workspace account); its email alone proves nothing, since a Google account can
    be made for any address, so for Google `hd` is required. Elsewhere, the verified
    email's domain."""
    if not domains:
        return True
    if identity.issuer == GOOGLE or identity.hosted_domain is not None:
        return (identity.hosted_domain or "").lower() in domains
    return (identity.email or "").rpartition("@")[2] in domains
