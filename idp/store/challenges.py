"""WebAuthn challenges: one per ceremony, five minutes, taken once (GETDEL).

The key names the purpose and what the ceremony is bound to (the browser, or a pending
sign-in), so a challenge issued for one ceremony cannot complete another.
"""

from __future__ import annotations

import json
from typing import Any

from . import reachable

PREFIX = "idp:challenge:"
TTL = 300


def put(purpose: str, bound_to: str, data: dict[str, Any]) -> None:
    with reachable() as r:
        r.set(f"{PREFIX}{purpose}:{bound_to}", json.dumps(data), ex=TTL)


def take(purpose: str, bound_to: str) -> dict[str, Any] | None:
    with reachable() as r:
        raw = r.getdel(f"{PREFIX}{purpose}:{bound_to}")
    return json.loads(raw) if raw else None
