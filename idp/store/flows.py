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
#: Flows started per client address in the current window (issue 9, item 1).
ADDRESS = "idp:flows:addr:"


def put(data: dict[str, Any], ttl: int, *, address: str, per_address: int, evict: list[str]) -> str | None:
    """Store a flow for `ttl` seconds and drop the flows in `evict` (the browser's oldest),
    in one round trip. None if `address` started `per_address` flows within the window
    (which begins at its first flow and lasts `ttl`)."""
    flow_id = secrets.token_urlsafe(24)
    with reachable() as r:
        pipe = r.pipeline(transaction=False)
        pipe.incr(ADDRESS + address)
        pipe.expire(ADDRESS + address, ttl, nx=True)
        pipe.set(PREFIX + flow_id, json.dumps(data, separators=(",", ":")), ex=ttl)
        for old in evict:
            pipe.delete(PREFIX + old)
        started = pipe.execute()[0]
        if started > per_address:
            r.delete(PREFIX + flow_id)
            return None
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
