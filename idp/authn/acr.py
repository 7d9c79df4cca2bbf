"""Authentication levels (INTERFACE.md) and what a set of verified factors reaches.

Factors are named by their RFC 8176 `amr` value: `pwd` (password), `otp` (TOTP or a
recovery code), `hwk` (a WebAuthn credential), `user` (the authenticator verified the user).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

LEVELS = ("pwd", "mfa", "phr")
_RANK = {acr: i for i, acr in enumerate(LEVELS)}


def rank(acr: str) -> int:
    return _RANK[acr]


def satisfies(achieved: str | None, required: str | None) -> bool:
    if required is None:
        return achieved is not None
    return achieved is not None and rank(achieved) >= rank(required)


def strongest(values: Iterable[str | None]) -> str | None:
    known = [v for v in values if v in _RANK]
    return max(known, key=rank) if known else None


def minimum_requested(acr_values: str | None) -> str | None:
    """`acr_values` lists acceptable levels; any of them will do, so the weakest known one
    is the floor (OIDC Core 3.1.2.1). Unknown values are ignored."""
    known = [v for v in (acr_values or "").split() if v in _RANK]
    return min(known, key=rank) if known else None


def level(factors: Iterable[str]) -> str | None:
    """The acr that a set of factors reaches."""
    f = set(factors)
    if "hwk" in f and ("pwd" in f or "user" in f):
        return "phr"
    if "pwd" in f and ("otp" in f or "hwk" in f):
        return "mfa"
    if "hwk" in f and "user" in f:
        return "phr"
    if "pwd" in f:
        return "pwd"
    return None


def amr(factors: Iterable[str]) -> list[str]:
    """RFC 8176 values in a stable order, with `mfa` once two kinds of factor were used."""
    f = set(factors)
    values = [m for m in ("pwd", "otp", "hwk", "user") if m in f]
    if len({"pwd", "otp", "hwk"} & f) >= 2 or {"hwk", "user"} <= f:
        values.append("mfa")
    return values


def factors_for(target: str, verified: Mapping[str, int]) -> list[str]:
    """The smallest subset of the verified factors that reaches `target`, preferring the
    strongest evidence (used to report exactly what backs the acr)."""
    f = set(verified)
    if target == "phr":
        if {"hwk", "user"} <= f:
            return ["hwk", "user"] + (["pwd"] if "pwd" in f else [])
        return ["pwd", "hwk"]
    if target == "mfa":
        second = "hwk" if "hwk" in f else "otp"
        return ["pwd", second]
    return ["pwd"]
