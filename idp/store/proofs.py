"""DPoP proofs seen (RFC 9449 §11.1): a `jti` is accepted once while its proof is fresh."""

from __future__ import annotations

from . import reachable

PREFIX = "idp:dpop-jti:"


def first_use(jkt: str, jti: str, ttl: int) -> bool:
    """True the first time this key's proof `jti` is seen (SET NX EX: one round trip)."""
    with reachable() as r:
        return bool(r.set(f"{PREFIX}{jkt}:{jti}"[:400], b"1", nx=True, ex=ttl))
