"""WebAuthn as a sign-in step: a security key or passkey as the second factor, or a passkey
alone. The ceremony checks are py_webauthn's (idp.mfa.webauthn); what is here is whose
credential it must be, the sign-count policy, the lockout and the audit."""

from __future__ import annotations

from sqlalchemy import update

from .. import audit, clock, metrics
from ..extensions import db
from ..lockout.regulator import Locked, Regulator, Reservation, account_key
from ..mfa import webauthn as wa
from ..models import User, WebAuthnCredential
from . import outcomes, second_factor
from .browser import Browser
from .failures import record_failure


def find_credential(response: dict, *, user_id: int | None = None) -> WebAuthnCredential | None:
    try:
        credential_id = wa.credential_id_of(response)
    except wa.CeremonyFailed:
        return None
    query = db.session.query(WebAuthnCredential).filter_by(credential_id=credential_id)
    if user_id is not None:
        query = query.filter_by(user_id=user_id)
    return query.first()


def check_assertion(
    rp: wa.RelyingParty, *, user: User, credential: WebAuthnCredential, response: dict, challenge: str,
    reservation: Reservation, require_uv: bool, ip: str,
) -> wa.Assertion | outcomes.Refused:
    try:
        result = wa.verify_assertion(rp, response=response, challenge=challenge, credential=credential, require_uv=require_uv)
    except wa.CeremonyFailed as exc:
        if exc.cloned:
            reservation.failed()
            audit.emit("mfa.webauthn_sign_count_regressed", user_id=user.id, ip=ip,
                       credential=credential.name, stored=credential.sign_count)
            db.session.commit()
            return outcomes.Refused("cloned")
        record_failure(reservation, factor="hwk", ip=ip, user_id=user.id, reason=str(exc)[:200])
        return outcomes.Refused()
    # A counting credential's count only moves forward, even when two assertions race
    # (WebAuthn Level 2 §6.1.1).
    guard = WebAuthnCredential.sign_count < result.new_sign_count if result.new_sign_count else True
    moved = db.session.execute(
        update(WebAuthnCredential)
        .where(WebAuthnCredential.id == credential.id, guard)
        .values(sign_count=result.new_sign_count, last_used_at=clock.now())
    ).rowcount
    if moved != 1:
        record_failure(reservation, factor="hwk", ip=ip, user_id=user.id, reason="sign count did not move forward")
        return outcomes.Refused()
    return result


def verify_as_second_factor(
    rp: wa.RelyingParty, *, user: User, record: dict, pending_id: str, response: dict, challenge: str,
    browser: Browser, regulator: Regulator, max_attempts: int,
) -> outcomes.Outcome:
    checked = second_factor.guard(user, browser=browser, pending_id=pending_id, regulator=regulator,
                                  max_attempts=max_attempts, factor="hwk")
    if not isinstance(checked, Reservation):
        return checked
    credential = find_credential(response, user_id=user.id)
    if credential is None:
        record_failure(checked, factor="hwk", ip=browser.ip, user_id=user.id, reason="unknown credential")
        return outcomes.Refused()
    result = check_assertion(rp, user=user, credential=credential, response=response, challenge=challenge,
                             reservation=checked, require_uv=False, ip=browser.ip)
    if isinstance(result, outcomes.Refused):
        return result
    now = clock.now()
    factors = {"hwk": now, **({"user": now} if result.user_verified else {})}
    return second_factor.finish(user, record, factors, pending_id=pending_id, reservation=checked,
                                factor="webauthn", browser=browser, regulator=regulator)


def sign_in_with_passkey(
    rp: wa.RelyingParty, *, response: dict, challenge: str, browser: Browser, regulator: Regulator,
) -> outcomes.Outcome:
    """A passkey alone (user verification required): it stands in for password and second
    factor, so only credentials registered as passkeys may do it."""
    credential = find_credential(response)
    user = db.session.get(User, credential.user_id) if credential else None
    account = account_key(user.email) if user else None
    try:
        reservation = regulator.reserve(browser.attempt(account))
    except Locked as locked:
        metrics.sign_in("passkey", "locked")
        return outcomes.Locked(locked.retry_after)
    if credential is None or user is None or user.disabled:
        reservation.failed()
        audit.emit("login.failed", ip=browser.ip, factor="passkey")
        metrics.sign_in("passkey", "failure")
        db.session.commit()
        return outcomes.Refused("unknown")
    inner = response.get("response")
    handle = inner.get("userHandle") if isinstance(inner, dict) else None
    if handle and handle != wa.user_handle(user.subject):
        # WebAuthn Level 2 §7.2 step 6: the credential must belong to the user it names.
        record_failure(reservation, factor="hwk", ip=browser.ip, user_id=user.id,
                       reason="user handle does not match the credential's owner")
        return outcomes.Refused()
    if not credential.is_passkey:
        # Registered as a second factor: it was never meant to stand in for the password.
        reservation.failed()
        audit.emit("login.failed", user_id=user.id, ip=browser.ip, factor="passkey", reason="not a passkey")
        metrics.sign_in("passkey", "failure")
        db.session.commit()
        return outcomes.Refused("not_passkey")
    result = check_assertion(rp, user=user, credential=credential, response=response, challenge=challenge,
                             reservation=reservation, require_uv=True, ip=browser.ip)
    if isinstance(result, outcomes.Refused):
        return result
    now = clock.now()
    audit.emit("login.passkey_ok", user_id=user.id, ip=browser.ip)
    metrics.sign_in("passkey", "success")
    user.last_login_at = now
    db.session.commit()
    regulator.succeeded(reservation, complete=True)
    return outcomes.SignedIn(user, {"hwk": now, "user": now})
