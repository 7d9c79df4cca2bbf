"""Individually revoked access tokens (RFC 7009), remembered until they would expire anyway."""

from __future__ import annotations

from . import reachable

PREFIX = "idp:revoked-jti:"


def add(jti: str, ttl: int) -> None:
    if ttl <= 0:
        return
    with reachable() as r:
        r.set(PREFIX + jti, b"1", ex=ttl)


def contains(jti: str) -> bool:
    with reachable() as r:
        return bool(r.exists(PREFIX + jti))
