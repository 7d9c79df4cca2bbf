"""A sign-in half done: the password is verified (or the session is at a lower level) and a
second factor is pending.

The record is bound to one person, one purpose and one flow (or one return path), lives
five minutes and is taken exactly once (GETDEL): the holes of a shared "pending" flag or a
reusable provisional id (../shared/seeds/003) have nowhere to live.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from . import reachable

PREFIX = "idp:pending:"
TTL = 300


def start(record: dict[str, Any]) -> str:
    pending_id = secrets.token_urlsafe(24)
    with reachable() as r:
        r.set(PREFIX + pending_id, json.dumps(record), ex=TTL)
    return pending_id


def peek(pending_id: str | None) -> dict[str, Any] | None:
    if not pending_id:
        return None
    with reachable() as r:
        raw = r.get(PREFIX + pending_id)
    return json.loads(raw) if raw else None


def take(pending_id: str) -> dict[str, Any] | None:
    """Single use: of two completions racing, only one gets the record."""
    with reachable() as r:
        raw = r.getdel(PREFIX + pending_id)
    return json.loads(raw) if raw else None


def discard(pending_id: str | None) -> None:
    if pending_id:
        with reachable() as r:
            r.delete(PREFIX + pending_id)
