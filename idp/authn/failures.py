"""A wrong credential, recorded the same way whichever factor it was."""

from __future__ import annotations

from typing import Any

from .. import audit, metrics
from ..extensions import db
from ..lockout.regulator import Reservation


def record_failure(reservation: Reservation, *, factor: str, ip: str, user_id: int | None = None, **detail: Any) -> None:
    """Its reservation stays counted; a counter that reaches its threshold with it is a
    lockout, which the audit log records. Nothing the attempt changed is kept."""
    db.session.rollback()
    audit.emit("login.failed", user_id=user_id, ip=ip, factor=factor, **detail)
    metrics.sign_in(factor, "failure")
    metrics.second_factor_failed(factor)
    for key in reservation.reached_lock():
        audit.emit("lockout", user_id=user_id, ip=ip, counter=key.split(":")[0], factor=factor)
        metrics.lockout(key)
    db.session.commit()
