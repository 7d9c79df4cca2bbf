"""Second factors: one module per kind, keyword-only verify functions."""

from __future__ import annotations

from sqlalchemy import ColumnElement, bindparam, exists, select

from ..extensions import db
from ..models import RecoveryCode, TotpFactor, WebAuthnCredential


def enrolled_columns(user_id: ColumnElement[int]) -> tuple[ColumnElement[bool], ...]:
    """Whether the person `user_id` names has an authenticator app, an unused recovery code,
    a WebAuthn credential: columns to select beside something else (a sign-in reads them
    with the person, in the same statement), read back with `kinds`."""
    return (
        exists().where(TotpFactor.user_id == user_id),
        exists().where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)),
        exists().where(WebAuthnCredential.user_id == user_id),
    )


def kinds(totp: bool, codes: bool, webauthn: bool) -> set[str]:
    """The kinds of second factor, by amr value: `otp` (an authenticator app or an unused
    recovery code, whatever the other factors: a security-key-only person's codes must
    work too), `hwk` (a WebAuthn credential)."""
    return {kind for kind, present in (("otp", totp or codes), ("hwk", webauthn)) if present}


_ENROLLED = select(*enrolled_columns(bindparam("user_id")))


def enrolled(user_id: int) -> set[str]:
    """The kinds of second factor a person has (`kinds`). One statement."""
    return kinds(*db.session.execute(_ENROLLED, {"user_id": user_id}).one())


def authenticators(user_id: int) -> set[str]:
    """Like `enrolled`, without recovery codes: what is left to recover."""
    totp, _, webauthn = db.session.execute(_ENROLLED, {"user_id": user_id}).one()
    return {kind for kind, present in (("otp", totp), ("hwk", webauthn)) if present}


def recovery_codes_left(user_id: int) -> int:
    return db.session.query(RecoveryCode).filter_by(user_id=user_id, used_at=None).count()
