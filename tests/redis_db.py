"""Which Redis the tests use: one server (`TEST_REDIS`, default the local one on 6379), a
database index per purpose, each overridable on its own. Two checkouts testing at once
point `TEST_REDIS` at servers of their own."""

from __future__ import annotations

import os

BASE = os.environ.get("TEST_REDIS", "redis://127.0.0.1:6379").rstrip("/")


def url(variable: str, index: int) -> str:
    return os.environ.get(variable) or f"{BASE}/{index}"


def connect(url: str):  # noqa: ANN201
    """A client for any REDIS_URL form the provider accepts (one server, Sentinel, Cluster)."""
    from idp.store import connect as store_connect

    return store_connect(url)


def flush(url: str) -> None:
    """Empty the test's database (every primary, on a Cluster)."""
    client = connect(url)
    from idp.store import is_cluster

    if is_cluster(client):
        client.flushdb(target_nodes=client.PRIMARIES)
    else:
        client.flushdb()
    client.close()
