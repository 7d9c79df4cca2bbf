"""Password sign-in: one answer for every failure, whatever its cause."""

from __future__ import annotations

from sqlalchemy import bindparam, select, update

from .. import audit, clock, metrics, mfa
from ..extensions import db
from ..lockout.regulator import Locked, Regulator, account_key
from ..migration.verifier import LegacyVerifier, VerifierUnavailable
from ..models import User
from ..models.user import normalize_email
from ..security import legacy_hashes
from ..security.passwords import Passwords
from . import outcomes
from .browser import Browser
from .failures import record_failure
from .first_factor import RequestNeeds, settle
from .password_policy import normalize

__all__ = ["InvalidCredentials", "RequestNeeds", "authenticate", "sign_in"]


class InvalidCredentials(Exception):
    """Unknown email, wrong password or disabled account: the person is told the same.
    `user_id`, when the email is a real account's, goes only to the (admin-only) audit log,
    so an admin sees why that person was locked out."""

    def __init__(self, user_id: int | None = None):
        super().__init__()
        self.user_id = user_id


#: The person by email, with the second factors they have enrolled, which is what a correct
#: password is followed by (first_factor.settle): one round trip, not two.
_PERSON = select(User, *mfa.enrolled_columns(User.id)).where(User.email == bindparam("email"))


def authenticate(
    email: str, password: str, *, passwords: Passwords, legacy: LegacyVerifier | None = None,
) -> tuple[User, set[str] | None]:
    """The person whose email and password these are, with the kinds of second factor they
    have enrolled (None where not read), or InvalidCredentials.

    An unknown email costs one full argon2 verification too, so timing does not tell
    which part was wrong (OWASP Authentication Cheat Sheet, "Authentication Responses").
    A person with a current hash costs one SELECT and one verification, nothing more: the
    other paths (another system's hash, the legacy verifier) are taken only for them.
    """
    row = db.session.execute(_PERSON, {"email": normalize_email(email)}).first() if email else None
    user = row[0] if row is not None else None
    if user is not None and user.password_hash is None and user.legacy_password and legacy is not None:
        return _migrate(user, password, passwords=passwords, legacy=legacy), None
    stored = user.password_hash if user else None
    # Another system hashed what the person typed, before any normalisation of ours.
    ok = passwords.verify(stored, password if stored and not legacy_hashes.is_ours(stored) else normalize(password))
    if not ok or user is None or not user.can_sign_in:
        raise InvalidCredentials(user.id if user is not None else None)
    if passwords.needs_rehash(user.password_hash):
        rehash(user, password, passwords=passwords)
    return user, mfa.kinds(*row[1:])


def rehash(user: User, password: str, *, passwords: Passwords) -> None:
    """Another system's hash, or our parameters changed since this one was made: upgrade it
    while we know the password. Conditional on the old hash, so a password change racing
    this sign-in is never overwritten by the old password's new hash."""
    db.session.execute(
        update(User).where(User.id == user.id, User.password_hash == user.password_hash)
        .values(password_hash=passwords.hash(normalize(password))),
        execution_options={"synchronize_session": False},
    )


def _migrate(user: User, password: str, *, passwords: Passwords, legacy: LegacyVerifier) -> User:
    """Lazy migration: the old system says whether the password is right, once; then our
    hash replaces the question (conditional, so two first sign-ins at once store one)."""
    if user.disabled or not legacy.check(user.email, password):
        raise InvalidCredentials(user.id)
    db.session.execute(
        update(User).where(User.id == user.id, User.password_hash.is_(None), User.legacy_password.is_(True))
        .values(password_hash=passwords.hash(normalize(password)), legacy_password=False),
        execution_options={"synchronize_session": False},
    )
    audit.emit("password.migrated", user_id=user.id, via="legacy_verifier")
    return user


def sign_in(
    *, email: str, password: str, browser: Browser, regulator: Regulator, passwords: Passwords,
    request_needs: RequestNeeds, legacy: LegacyVerifier | None = None, enrolment_token: str | None = None,
) -> outcomes.Outcome:
    """The password step. The attempt is reserved on the lockout before the password is
    looked at, so a locked account, and a correct password during a lockout, get the same
    refusal and nothing is evaluated."""
    account = account_key(email)
    try:
        reservation = regulator.reserve(browser.attempt(account))
    except Locked as locked:
        metrics.sign_in("pwd", "locked")
        return outcomes.Locked(locked.retry_after)
    try:
        user, enrolled = authenticate(email, password, passwords=passwords, legacy=legacy)
    except InvalidCredentials as refused:
        record_failure(reservation, factor="pwd", ip=browser.ip, account=account, user_id=refused.user_id)
        return outcomes.Refused()
    except VerifierUnavailable as exc:
        # Fail closed, and charge nobody for our dependency's outage.
        db.session.rollback()
        regulator.succeeded(reservation, complete=False)
        audit.emit("login.legacy_verifier_unavailable", ip=browser.ip, account=account, detail=str(exc)[:200])
        db.session.commit()
        raise
    audit.emit("login.password_ok", user_id=user.id, ip=browser.ip)
    metrics.sign_in("pwd", "success")
    return settle(user, {"pwd": clock.now()}, reservation=reservation, regulator=regulator, request_needs=request_needs,
                  enrolment_token=enrolment_token, enrolled=enrolled)
