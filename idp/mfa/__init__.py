"""Second factors: one module per kind, keyword-only verify functions."""

from __future__ import annotations

from sqlalchemy import bindparam, exists, select

from ..extensions import db
from ..models import RecoveryCode, TotpFactor, WebAuthnCredential


_ENROLLED = select(
    exists().where(TotpFactor.user_id == bindparam("user_id")),
    exists().where(RecoveryCode.user_id == bindparam("user_id"), RecoveryCode.used_at.is_(None)),
    exists().where(WebAuthnCredential.user_id == bindparam("user_id")),
)


def enrolled(user_id: int) -> set[str]:
    """The kinds of second factor a person has, by amr value: `otp` (an authenticator app
    or an unused recovery code, whatever the other factors: a security-key-only person's
    codes must work too), `hwk` (a WebAuthn credential). One statement."""
    totp, codes, webauthn = db.session.execute(_ENROLLED, {"user_id": user_id}).one()
    return {kind for kind, present in (("otp", totp or codes), ("hwk", webauthn)) if present}


def authenticators(user_id: int) -> set[str]:
    """Like `enrolled`, without recovery codes: what is left to recover."""
    totp, _, webauthn = db.session.execute(_ENROLLED, {"user_id": user_id}).one()
    return {kind for kind, present in (("otp", totp), ("hwk", webauthn)) if present}


def recovery_codes_left(user_id: int) -> int:
    return db.session.query(RecoveryCode).filter_by(user_id=user_id, used_at=None).count()
