"""Signing in through an upstream OpenID provider, and the two ways an upstream identity
comes to be linked to an account (from the account page, or by accepting an invitation).

An upstream sign-in is a first factor (RFC 8176 `fed`): a person who has a second factor
here is asked for it, exactly as after a password, unless the operator trusts this
upstream's own multi-factor sign-in and the upstream asserted one. It never creates an
account: an identity that is not linked is refused and nothing is stored about it.

Every callback is one attempt on the lockout's address counter, reserved before the
response is looked at; each refusal is audited with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import accounts, audit, clock, metrics, upstreams
from ..extensions import db
from ..lockout.regulator import Attempt, Locked, Regulator, Reservation
from ..models import Invitation, Upstream, User
from ..store import challenges
from ..upstream.client import Identity, Provider, UpstreamClient
from ..upstream.errors import UpstreamError
from . import outcomes
from .acr import UPSTREAM_MFA
from .browser import Browser
from .failures import record_failure
from .first_factor import RequestNeeds, settle

PURPOSES = ("login", "link", "invite")


def begin(
    provider: Provider, *, client: UpstreamClient, redirect_uri: str, binding: str, purpose: str, **bound: Any,
) -> str:
    """The authorization URL to send the browser to. State, nonce and PKCE verifier stay
    here, bound to the browser and to what the sign-in is for (`bound`: the flow or return
    path, the person linking, the invitation), taken once by the callback."""
    assert purpose in PURPOSES
    started = client.start(provider, redirect_uri=redirect_uri)
    challenges.put("upstream", started.state, {
        "upstream": provider.name, "bind": binding, "purpose": purpose,
        "nonce": started.nonce, "verifier": started.verifier, **bound,
    })
    return started.url


@dataclass(frozen=True)
class Verified:
    """A callback whose response, tokens and identity all checked out."""

    record: dict
    identity: Identity
    reservation: Reservation


def verify_callback(
    provider: Provider, *, params: dict[str, str], binding: str, client: UpstreamClient, redirect_uri: str,
    browser: Browser, regulator: Regulator,
) -> Verified | outcomes.Refused | outcomes.Locked:
    try:
        reservation = regulator.reserve(Attempt(account=None, ip=browser.ip))
    except Locked as locked:
        metrics.sign_in("fed", "locked")
        return outcomes.Locked(locked.retry_after)

    def refuse(reason: str, detail: str = "", **more: Any) -> outcomes.Refused:
        record_failure(reservation, factor="fed", ip=browser.ip, upstream=provider.name, reason=reason,
                       detail=detail, **more)
        return outcomes.Refused(reason)

    state = params.get("state") or ""
    # Taken once: a replayed callback finds nothing. Bound to the browser that started it
    # (no login CSRF) and to this upstream's own redirect URI (RFC 9700 §4.4.2).
    record = challenges.take("upstream", state) if 16 <= len(state) <= 128 else None
    if record is None or record["bind"] != binding or record["upstream"] != provider.name:
        return refuse("state", "unknown, used, expired, or another browser's or upstream's state")
    try:
        identity = client.finish(provider, params=params, nonce=record["nonce"], verifier=record["verifier"],
                                 redirect_uri=redirect_uri, now=clock.now())
    except UpstreamError as exc:
        return refuse(exc.reason, exc.detail)
    if not identity.email or not identity.email_verified:
        return refuse("email_unverified", "the upstream does not say the email is verified")
    if not upstreams.domain_allowed(identity, provider.domains):
        return refuse("domain", f"hd {identity.hosted_domain!r}")
    return Verified(record, identity, reservation)


def _factors(provider: Provider, identity: Identity) -> dict[str, int]:
    now = clock.now()
    if provider.trust_mfa and identity.asserts_mfa:
        return {"fed": now, UPSTREAM_MFA: now}
    return {"fed": now}


def sign_in(
    provider: Provider, verified: Verified, *, browser: Browser, regulator: Regulator, request_needs: RequestNeeds,
    enrolment_token: str | None = None,
) -> outcomes.Outcome:
    """The upstream as the first step of a sign-in: the linked person, then what follows a
    first factor (the second factor they owe, or a complete sign-in)."""
    link = upstreams.find_link(verified.identity)
    user = db.session.get(User, link.user_id) if link else None
    if link is None or user is None:
        # Nothing about the identity is kept: it is nobody's here.
        record_failure(verified.reservation, factor="fed", ip=browser.ip, upstream=provider.name, reason="unlinked")
        return outcomes.Refused("unlinked")
    if user.disabled:
        record_failure(verified.reservation, factor="fed", ip=browser.ip, user_id=user.id, upstream=provider.name,
                       reason="disabled")
        return outcomes.Refused("disabled")
    first = _factors(provider, verified.identity)
    link.last_used_at = first["fed"]
    audit.emit("login.upstream_ok", user_id=user.id, ip=browser.ip, upstream=provider.name,
               upstream_mfa=UPSTREAM_MFA in first)
    metrics.sign_in("fed", "success")
    return settle(user, first, reservation=verified.reservation, regulator=regulator, request_needs=request_needs,
                  enrolment_token=enrolment_token)


@dataclass(frozen=True)
class Linked:
    user: User
    display_name: str


@dataclass(frozen=True)
class NotLinked:
    """The identity is verified, but cannot be linked: `message` says why, to the person."""

    message: str


def link(
    row: Upstream, verified: Verified, *, user: User | None, browser: Browser, regulator: Regulator,
) -> Linked | NotLinked | outcomes.Refused:
    """From the account page: the person who started it (with a recent second factor, the
    view checked) is still the one signed in here."""
    if user is None or verified.record.get("user_id") != user.id:
        record_failure(verified.reservation, factor="fed", ip=browser.ip, upstream=row.name, reason="state",
                       detail="the person signed in is not the one who started linking")
        return outcomes.Refused("state")
    try:
        upstreams.link(user, row, verified.identity, ip=browser.ip, via="account")
    except upstreams.UpstreamConfigError as exc:
        db.session.rollback()
        regulator.succeeded(verified.reservation, complete=False)
        return NotLinked(exc.args[0] if exc.args else str(exc))
    db.session.commit()
    regulator.succeeded(verified.reservation, complete=False)
    return Linked(user, row.display_name)


def accept_invitation(row: Upstream, provider: Provider, verified: Verified, *, browser: Browser,
                      regulator: Regulator) -> outcomes.SignedIn | outcomes.Refused:
    """"Continue with <upstream>" on an invitation: the upstream's verified email must be
    the invited one. The account is made without a password, linked, and signed in."""
    invitation = db.session.get(Invitation, verified.record.get("invitation_id") or 0)
    identity = verified.identity

    def refuse(reason: str) -> outcomes.Refused:
        record_failure(verified.reservation, factor="fed", ip=browser.ip, upstream=row.name, reason=reason)
        return outcomes.Refused(reason)

    if invitation is None or invitation.state(clock.now()) != "pending":
        return refuse("invitation")
    if identity.email != invitation.email:
        return refuse("email_mismatch")
    if upstreams.find_link(identity) is not None:
        return refuse("linked_elsewhere")
    try:
        user = accounts.complete_invitation_with_upstream(invitation, name=identity.name)
    except accounts.AccountError:
        return refuse("invitation")
    upstreams.link(user, row, identity, ip=browser.ip, via="invitation")
    db.session.commit()
    regulator.succeeded(verified.reservation, complete=False)
    return outcomes.SignedIn(user, _factors(provider, identity), purpose="invite")
