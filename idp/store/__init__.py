"""Everything the provider keeps in Redis. The only package that imports redis.

Every key is `idp:<area>:<id>` and every write has a TTL: a flush of Redis signs people out
and forgets lockout counters, and loses nothing durable.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis
from flask import current_app


class StoreUnavailable(RuntimeError):
    """Redis cannot be reached or refuses writes: requests that need it fail closed (503)."""


def connect(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url, socket_connect_timeout=1, socket_timeout=2, health_check_interval=10
    )


def client() -> redis.Redis:
    return current_app.extensions["idp.redis"]


#: Unreachable, or refusing the command: out of memory under `noeviction`, a read-only
#: replica, a failed snapshot (MISCONF). Either way nothing can be stored: 503, fail closed
#: (issue 9, item 1).
ERRORS = (redis.ConnectionError, redis.TimeoutError, redis.ResponseError)


def is_reachable() -> bool:
    try:
        return bool(client().ping())
    except ERRORS:
        return False


@contextmanager
def reachable() -> Iterator[redis.Redis]:
    """The client, with an unreachable or refusing Redis turned into StoreUnavailable (fail closed)."""
    try:
        yield client()
    except ERRORS as exc:
        raise StoreUnavailable(str(exc)) from exc
