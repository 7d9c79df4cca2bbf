"""Individually revoked access tokens (RFC 7009), remembered until they would expire anyway."""

from __future__ import annotations

from . import ERRORS, StoreUnavailable, client

PREFIX = "idp:revoked-jti:"


def add(jti: str, ttl: int) -> None:
    if ttl <= 0:
        return
    try:
        client().set(PREFIX + jti, b"1", ex=ttl)
    except ERRORS as exc:
        raise StoreUnavailable(str(exc)) from exc


def contains(jti: str) -> bool:
    try:
        return bool(client().exists(PREFIX + jti))
    except ERRORS as exc:
        raise StoreUnavailable(str(exc)) from exc
