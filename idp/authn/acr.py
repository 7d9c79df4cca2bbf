"""Authentication levels (INTERFACE.md) and what a set of verified factors reaches.

Factors are named by their RFC 8176 `amr` value: `pwd` (password), `fed` (a sign-in at an
upstream OpenID provider, which plays the password's part), `otp` (TOTP or a recovery code),
`hwk` (a WebAuthn credential), `user` (the authenticator verified the user). One more is
ours: `fed_mfa`, an upstream that the operator trusts for it asserted a multi-factor
sign-in (it is never published as such: it adds `mfa`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# One definition, shared with the resource-server helper (resource/idp_resource).
from idp_resource.levels import LEVELS

#: What a sign-in starts with: the password, or an upstream provider (RFC 8176 `fed`).
FIRST_FACTORS = ("pwd", "fed")
#: The upstream's own second factor, counted only where the operator trusts it.
UPSTREAM_MFA = "fed_mfa"
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
    """The acr that a set of factors reaches. `fed` counts as `pwd` does: one first factor."""
    f = set(factors)
    first = bool(f & set(FIRST_FACTORS))
    if "hwk" in f and (first or "user" in f):
        return "phr"
    if first and ("otp" in f or "hwk" in f or {"fed", UPSTREAM_MFA} <= f):
        return "mfa"
    if first:
        return "pwd"
    return None


def amr(factors: Iterable[str]) -> list[str]:
    """RFC 8176 values in a stable order, with `mfa` once two kinds of factor were used (a
    password and an upstream sign-in are one kind: both are the first factor)."""
    f = set(factors)
    values = [m for m in ("pwd", "fed", "otp", "hwk", "user") if m in f]
    kinds = len({"otp", "hwk"} & f) + (1 if f & set(FIRST_FACTORS) else 0)
    if kinds >= 2 or {"hwk", "user"} <= f or {"fed", UPSTREAM_MFA} <= f:
        values.append("mfa")
    return values


def factors_for(target: str, verified: Mapping[str, int]) -> list[str]:
    """The smallest subset of the verified factors that reaches `target`, preferring the
    strongest evidence (used to report exactly what backs the acr). The caller knows that
    `verified` reaches it."""
    f = set(verified)
    first = [m for m in FIRST_FACTORS if m in f][:1]
    if target == "phr":
        if {"hwk", "user"} <= f:
            return ["hwk", "user"] + first
        return first + ["hwk"]
    if target == "mfa":
        for second in ("hwk", "otp"):
            if second in f:
                return first + [second]
        return ["fed", UPSTREAM_MFA]
    return first
