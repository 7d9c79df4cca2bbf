"""Everything the provider keeps in Redis. The only package that imports redis.

Every key is `idp:<area>:<id>` and every write has a TTL: a flush of Redis signs people out
and forgets lockout counters, and loses nothing durable.

`REDIS_URL` names one server (`redis://`, `rediss://`), a Sentinel-watched primary
(`redis+sentinel://h1:26379,h2:26379/SERVICE/DB`) or a Cluster
(`redis+cluster://h1:7000,h2:7001/`). Whichever it is, every script and every atomic step
touches keys of one hash slot (idp.store.counters groups the lockout's keys by their tag).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
import redis.cluster
import redis.exceptions as rx
import redis.sentinel
from redis.backoff import NoBackoff
from redis.retry import Retry
from flask import current_app


class StoreUnavailable(RuntimeError):
    """Redis cannot be reached or refuses writes: requests that need it fail closed (503)."""


#: Short timeouts: a request that needs Redis fails closed (503) in about a second rather
#: than holding a worker while a primary is switched.
_TIMEOUTS = {"socket_connect_timeout": 1, "socket_timeout": 2}


def connect(url: str) -> Any:
    """A client for REDIS_URL (see the module's docstring)."""
    parts = urlsplit(url)
    if parts.scheme in ("redis+sentinel", "rediss+sentinel"):
        return _sentinel(parts)
    if parts.scheme in ("redis+cluster", "rediss+cluster"):
        return LazyCluster(
            startup_nodes=[redis.cluster.ClusterNode(host, port) for host, port in _hosts(parts.netloc, 7000)],
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            ssl=parts.scheme.startswith("rediss"), **_TIMEOUTS,
        )
    return redis.Redis.from_url(url, health_check_interval=10, **_TIMEOUTS)


class LazyCluster:
    """A RedisCluster made on first use. Making one reads the cluster's topology, and a
    cluster that is down when the process starts must give 503s, not a process that
    cannot start; until it is up, every use raises what an outage raises."""

    def __init__(self, **options: Any):
        self._options = options
        self._client: redis.cluster.RedisCluster | None = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = redis.cluster.RedisCluster(**self._options)
        return getattr(self._client, name)


def _hosts(netloc: str, default_port: int) -> list[tuple[str, int]]:
    """"h1:26379,[::1]:26380,h3" → [(host, port), …]."""
    hosts = []
    for item in netloc.rpartition("@")[2].split(","):
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            port = rest.lstrip(":")
        else:
            host, _, port = item.partition(":")
        hosts.append((host or "127.0.0.1", int(port or default_port)))
    return hosts


def _sentinel(parts: Any) -> redis.Redis:
    """redis+sentinel://[:password@]h1:26379,h2:26379/SERVICE[/DB]: the primary that the
    sentinels name, looked up again on every new connection, so a promotion is followed
    without a restart. The password (if any) is the primary's."""
    path = [p for p in parts.path.split("/") if p]
    if not path:
        raise ValueError("a redis+sentinel:// URL names the service: redis+sentinel://h1:26379,h2:26379/SERVICE/DB")
    # No retries with backoff on the sentinels (redis-py's default for them): with every
    # sentinel down a request would wait seconds before its 503.
    no_retry = {"retry": Retry(NoBackoff(), 0), **_TIMEOUTS}
    sentinel = redis.sentinel.Sentinel(_hosts(parts.netloc, 26379), sentinel_kwargs=no_retry, **_TIMEOUTS)
    return sentinel.master_for(
        path[0], db=int(path[1]) if len(path) > 1 else 0,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        ssl=parts.scheme.startswith("rediss"), health_check_interval=10,
    )


def redacted(url: str) -> str:
    """REDIS_URL without its password, for messages."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    return parts._replace(netloc=parts.netloc.replace(":" + parts.password + "@", ":***@", 1)).geturl()


def client() -> Any:
    return current_app.extensions["idp.redis"]


def replication() -> tuple[int, int]:
    """(replicas, ms): the lockout's reservations wait until that many replicas have them
    (WAIT), so a failover cannot lose a reservation whose attempt was evaluated. (0, 0): off."""
    config = current_app.config
    return config.get("IDP_REDIS_WAIT_REPLICAS", 0), config.get("IDP_REDIS_WAIT_MS", 100)


def is_cluster(redis_client: Any) -> bool:
    return isinstance(redis_client, (LazyCluster, redis.cluster.RedisCluster))


#: Unreachable, or refusing the command: out of memory under `noeviction`, a read-only
#: replica or a primary demoted under us, a failed snapshot (MISCONF), a cluster whose
#: slots are moving or uncovered. Either way nothing can be stored: 503, fail closed
#: (issue 9, item 1).
ERRORS = (rx.ConnectionError, rx.TimeoutError, rx.ResponseError, rx.ClusterError, rx.RedisClusterException)


def is_reachable() -> bool:
    try:
        return bool(client().ping())
    except ERRORS:
        return False


@contextmanager
def reachable() -> Iterator[Any]:
    """The client, with an unreachable or refusing Redis turned into StoreUnavailable (fail closed)."""
    try:
        yield client()
    except ERRORS as exc:
        raise StoreUnavailable(str(exc)) from exc
