"""Password sign-in: one answer for every failure, whatever its cause."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import update

from .. import audit, clock, mfa
from ..extensions import db
from ..lockout.regulator import Locked, Regulator, account_key
from ..models import User
from ..models.user import normalize_email
from ..security.passwords import Passwords
from . import outcomes
from .browser import Browser
from .failures import record_failure
from .password_policy import normalize
from .policy import Satisfied
from .steps import Step, after_first_factor, user_floor


class InvalidCredentials(Exception):
    """Unknown email, wrong password or disabled account: the person is told the same."""


def authenticate(email: str, password: str, *, passwords: Passwords) -> User:
    """The person whose email and password these are, or InvalidCredentials.

    An unknown email costs one full argon2 verification too, so timing does not tell
    which part was wrong (OWASP Authentication Cheat Sheet, "Authentication Responses").
    """
    user = db.session.query(User).filter_by(email=normalize_email(email)).first() if email else None
    ok = passwords.verify(user.password_hash if user else None, normalize(password))
    if not ok or user is None or not user.can_sign_in:
        raise InvalidCredentials()
    if passwords.needs_rehash(user.password_hash):
        rehash(user, password, passwords=passwords)
    return user


def rehash(user: User, password: str, *, passwords: Passwords) -> None:
    """Another system's hash, or our parameters changed since this one was made: upgrade it
    while we know the password. Conditional on the old hash, so a password change racing
    this sign-in is never overwritten by the old password's new hash."""
    db.session.execute(
        update(User).where(User.id == user.id, User.password_hash == user.password_hash)
        .values(password_hash=passwords.hash(normalize(password))),
        execution_options={"synchronize_session": False},
    )


#: What the authorization request still needs once `user` has given these first factors
#: ({"pwd": at}), given the factors they have enrolled (the flow answers it; see web.flow).
RequestNeeds = Callable[[User, dict[str, int], set[str]], "Satisfied | Step"]


def sign_in(
    *, email: str, password: str, browser: Browser, regulator: Regulator, passwords: Passwords,
    request_needs: RequestNeeds,
) -> outcomes.Outcome:
    """The password step. The attempt is reserved on the lockout before the password is
    looked at, so a locked account, and a correct password during a lockout, get the same
    refusal and nothing is evaluated."""
    account = account_key(email)
    try:
        reservation = regulator.reserve(browser.attempt(account))
    except Locked as locked:
        return outcomes.Locked(locked.retry_after)
    try:
        user = authenticate(email, password, passwords=passwords)
    except InvalidCredentials:
        record_failure(reservation, factor="pwd", ip=browser.ip, account=account)
        return outcomes.Refused()
    now = clock.now()
    audit.emit("login.password_ok", user_id=user.id, ip=browser.ip)
    enrolled = mfa.enrolled(user.id)
    floor = user_floor(mfa_required=user.mfa_required, enrolled=enrolled)
    second = after_first_factor(request_needs(user, {"pwd": now}, enrolled), floor=floor, enrolled=enrolled)
    if second is not None:
        # The password waits in a pending record; the session gets nothing yet, and the
        # account's failures stay: knowing the password does not reset the code budget.
        db.session.commit()
        regulator.succeeded(reservation, complete=False)
        return outcomes.SecondFactorDue(user, second, {"pwd": now})
    user.last_login_at = now
    db.session.commit()
    regulator.succeeded(reservation, complete=True)
    return outcomes.SignedIn(user, {"pwd": now})
