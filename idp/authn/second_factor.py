"""The second step of a sign-in (or a step-up): a code from an authenticator app or a
recovery code, checked inside a pending sign-in that is bound to one person and one flow."""

from __future__ import annotations

from .. import audit, clock, metrics, mfa
from ..extensions import db
from ..lockout.regulator import Locked, Regulator, Reservation, account_key
from ..mfa import recovery, totp
from ..models import User
from ..security.keyring import KeyRing
from ..store import counters, pending
from . import outcomes
from .browser import Browser
from .failures import record_failure


#: The names of `finish`'s factors in the metrics (RFC 8176's, as in the failure counts).
_METRIC_FACTOR = {"totp": "otp", "webauthn": "hwk"}


def guard(
    user: User, *, browser: Browser, pending_id: str, regulator: Regulator, max_attempts: int, factor: str = "otp",
) -> Reservation | outcomes.Locked | outcomes.StartOver:
    """Before a second factor is evaluated: the lockout (it counts like a password), then
    this sign-in's own small budget, after which the attempt is dead."""
    try:
        reservation = regulator.reserve(browser.attempt(account_key(user.email), second_factor=True))
    except Locked as locked:
        metrics.sign_in(factor, "locked")
        return outcomes.Locked(locked.retry_after, second_factor_cap=locked.second_factor_cap)
    tries = counters.incr_once(f"pending:{pending_id}", pending.TTL)
    if tries > max_attempts:
        regulator.not_evaluated(reservation)
        pending.discard(pending_id)
        audit.emit("login.second_factor_budget_spent", user_id=user.id, ip=browser.ip)
        db.session.commit()
        return outcomes.StartOver()
    return reservation


def verify_code(
    *, user: User, record: dict, pending_id: str, code: str, recovery_code: str, browser: Browser,
    regulator: Regulator, keyring: KeyRing, max_attempts: int,
) -> outcomes.Outcome:
    """A TOTP code (RFC 6238, each time step accepted once) or a recovery code."""
    checked = guard(user, browser=browser, pending_id=pending_id, regulator=regulator, max_attempts=max_attempts,
                    factor="recovery_code" if recovery_code and not code else "otp")
    if not isinstance(checked, Reservation):
        return checked
    factor = None
    if code and "otp" in record["methods"] and totp.verify(user_id=user.id, code=code, keyring=keyring):
        factor = "totp"
    elif recovery_code and "otp" in record["methods"] and recovery.consume(user_id=user.id, code=recovery_code):
        factor = "recovery_code"
        audit.emit("mfa.recovery_code_used", user_id=user.id, ip=browser.ip, remaining=mfa.recovery_codes_left(user.id))
    if factor is None:
        record_failure(checked, factor="recovery_code" if recovery_code and not code else "otp",
                       ip=browser.ip, user_id=user.id)
        return outcomes.Refused()
    return finish(user, record, {"otp": clock.now()}, pending_id=pending_id, reservation=checked,
                  factor=factor, browser=browser, regulator=regulator)


def finish(
    user: User, record: dict, factors: dict[str, int], *, pending_id: str, reservation: Reservation,
    factor: str, browser: Browser, regulator: Regulator,
) -> outcomes.SignedIn | outcomes.Expired:
    """The pending record is used up (taken once: of two completions racing, one wins) and
    the session gets every factor, the password's included."""
    if pending.take(pending_id) is None:
        db.session.rollback()
        regulator.not_evaluated(reservation)  # another completion of it won
        return outcomes.Expired()
    regulator.succeeded(reservation, complete=True)
    factors = {**(record.get("first") or {}), **factors}
    audit.emit("login.second_factor_ok", user_id=user.id, ip=browser.ip, factor=factor)
    metrics.sign_in(_METRIC_FACTOR.get(factor, factor), "success")
    if record["purpose"] == "step_up":
        metrics.step_up("completed")
    user.last_login_at = clock.now()
    db.session.commit()
    return outcomes.SignedIn(user, factors, purpose=record["purpose"], next=record.get("next"))
