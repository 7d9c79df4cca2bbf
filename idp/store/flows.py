"""Pending authorization requests, waiting while the person signs in.

The browser carries only the flow id; the request's parameters stay here, so nothing a
client sent can be swapped on the way back (no redirect-after-login URL in a cookie).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from . import reachable

PREFIX = "idp:flow:"


def put(data: dict[str, Any], ttl: int) -> str:
    flow_id = secrets.token_urlsafe(24)
    with reachable() as r:
        r.set(PREFIX + flow_id, json.dumps(data), ex=ttl)
    return flow_id


def get(flow_id: str) -> dict[str, Any] | None:
    if not flow_id or len(flow_id) > 64:
        return None
    with reachable() as r:
        raw = r.get(PREFIX + flow_id)
    return json.loads(raw) if raw else None


def delete(flow_id: str) -> bool:
    """Single use: only the caller that deletes the flow may complete it."""
    with reachable() as r:
        return bool(r.delete(PREFIX + flow_id))


def replace(flow_id: str, data: dict[str, Any]) -> bool:
    """Rewrite a flow and keep its expiry (SET XX KEEPTTL): an expired flow stays gone."""
    with reachable() as r:
        return bool(r.set(PREFIX + flow_id, json.dumps(data), xx=True, keepttl=True))
