"""Versions of rarely changing data that processes cache (clients, signing keys).

Whoever commits a change bumps its version; every process compares the versions at most
once a second and drops what it cached when one moved. One hash, one round trip for all.
"""

from __future__ import annotations

from . import reachable

KEY = "idp:versions"
#: Long, but not forever (every key has a TTL): an expired hash reads as all zeros, which
#: is a change too, so caches are dropped rather than trusted.
TTL = 30 * 86400


def bump(*names: str) -> dict[str, int]:
    """Move the versions of `names`; returns their new values."""
    with reachable() as r:
        pipe = r.pipeline(transaction=False)
        for name in names:
            pipe.hincrby(KEY, name, 1)
        pipe.expire(KEY, TTL)
        results = pipe.execute()
    return {name: int(value) for name, value in zip(names, results)}


def read() -> dict[str, int]:
    with reachable() as r:
        return {k.decode(): int(v) for k, v in r.hgetall(KEY).items()}
