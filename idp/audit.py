"""Security events: one `emit` at each security decision, to the audit table and the log."""

from __future__ import annotations

import json
import logging
from typing import Any

from . import clock, notifications
from .extensions import db
from .models import AuditEvent

log = logging.getLogger("idp.audit")


def emit(
    event: str,
    *,
    user_id: int | None = None,
    actor_id: int | None = None,
    client_id: str | None = None,
    ip: str | None = None,
    **detail: Any,
) -> None:
    """Record an event in the caller's transaction (it commits with the change it explains)."""
    row = AuditEvent(
        at=clock.now(), event=event, user_id=user_id, actor_id=actor_id,
        client_id=client_id, ip=ip, detail=detail,
    )
    db.session.add(row)
    notifications.on_audit(db.session, event, user_id, ip, detail)
    fields = {"at": row.at, "event": event, "user_id": user_id, "actor_id": actor_id, "client_id": client_id, "ip": ip, **detail}
    log.info(json.dumps(fields, default=str), extra={"audit": fields})
