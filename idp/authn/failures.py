"""A wrong credential, recorded the same way whichever factor it was."""

from __future__ import annotations

from typing import Any

from .. import audit, metrics
from ..extensions import db
from ..lockout.regulator import Reservation
from ..models import User
from ..store import StoreUnavailable


def record_failure(reservation: Reservation, *, factor: str, ip: str, user_id: int | None = None, **detail: Any) -> None:
    """Its reservation becomes a failure; a counter that reaches its threshold with it is a
    lockout, which the audit log records. Nothing the attempt changed is kept."""
    db.session.rollback()
    audit.emit("login.failed", user_id=user_id, ip=ip, factor=factor, **detail)
    try:
        failure = reservation.failed()
    except StoreUnavailable:
        # Redis went away after the evaluation: the record says it happened, and the
        # reservation, left unsettled, counts as a failure when its deadline passes.
        db.session.commit()
        raise
    metrics.sign_in(factor, "failure")
    metrics.second_factor_failed(factor)
    for key in failure.reached_lock:
        audit.emit("lockout", user_id=user_id, ip=ip, counter=key.split(":")[0], factor=factor)
        metrics.lockout(key)
    if user_id is not None and failure.tell_owner:
        _tell_owner(user_id, failures=failure.second_factor_failures, ip=ip)
    db.session.commit()


def _tell_owner(user_id: int, *, failures: int, ip: str) -> None:
    """Wrong second factors after a right password: whoever typed them knows the password."""
    user = db.session.get(User, user_id)
    if user is None:
        return
    audit.emit("mfa.failures_notified", user_id=user_id, ip=ip, failures=failures)  # mailed (idp.notifications)
