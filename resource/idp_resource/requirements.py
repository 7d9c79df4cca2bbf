"""Whether a token's authentication is strong and recent enough for a route (RFC 9470)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import levels as acr_levels
from .access_token import _number

@dataclass(frozen=True)
class Shortfall:
    """What the token's authentication lacks: `acr` is the level required and not reached,
    `max_age` the freshness required and not met (None where that part is satisfied)."""

    acr: str | None = None
    max_age: int | None = None

    @property
    def description(self) -> str:
        if self.acr and self.max_age is not None:
            return "A stronger and more recent authentication is required"
        if self.acr:
            return "A stronger authentication is required"
        return "A more recent authentication is required"


def _check_requirements(acr: str | None, max_age: int | None) -> None:
    if acr is not None and acr not in acr_levels.LEVELS:
        raise ValueError(f"unknown acr {acr!r}; choose from {', '.join(acr_levels.LEVELS)}")
    if max_age is not None and (not isinstance(max_age, int) or isinstance(max_age, bool) or max_age < 0):
        raise ValueError("max_age must be a non-negative number of seconds")


def check_authentication(
    claims: Mapping[str, Any], *, acr: str | None = None, max_age: int | None = None, now: float
) -> Shortfall | None:
    """None if the claims meet `acr` (ordered pwd < mfa < phr, so a stronger level satisfies
    a weaker requirement) and `max_age` (seconds since `auth_time`, OIDC Core §2); otherwise
    what is missing. A token without `acr` or `auth_time` falls short of a requirement on it."""
    _check_requirements(acr, max_age)
    short_acr = short_age = None
    if acr is not None:
        achieved = claims.get("acr")
        known = achieved if isinstance(achieved, str) and achieved in acr_levels.LEVELS else None
        if not acr_levels.satisfies(known, acr):
            short_acr = acr
    if max_age is not None:
        auth_time = claims.get("auth_time")
        if not _number(auth_time) or now - auth_time > max_age:
            short_age = max_age
    if short_acr is None and short_age is None:
        return None
    return Shortfall(acr=short_acr, max_age=short_age)
