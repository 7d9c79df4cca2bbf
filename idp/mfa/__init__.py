"""Second factors: one module per kind, keyword-only verify functions."""

from __future__ import annotations

from ..extensions import db
from ..models import RecoveryCode, TotpFactor, WebAuthnCredential


def enrolled(user_id: int) -> set[str]:
    """The kinds of second factor a person has, by amr value: `otp` (an authenticator app
    or recovery codes), `hwk` (a WebAuthn credential)."""
    kinds = set()
    if db.session.query(TotpFactor.id).filter_by(user_id=user_id).first():
        kinds.add("otp")
    if db.session.query(WebAuthnCredential.id).filter_by(user_id=user_id).first():
        kinds.add("hwk")
    return kinds


def recovery_codes_left(user_id: int) -> int:
    return db.session.query(RecoveryCode).filter_by(user_id=user_id, used_at=None).count()
