"""Password sign-in: one answer for every failure, whatever its cause."""

from __future__ import annotations

from ..extensions import db
from ..models import User
from ..models.user import normalize_email
from ..security.passwords import Passwords
from .password_policy import normalize


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
        # Parameters changed since this hash was made: upgrade it while we know the password.
        user.password_hash = passwords.hash(normalize(password))
    return user
