"""The provider's authentication levels, weakest first (INTERFACE.md): `pwd` < `mfa` < `phr`.
The provider takes them from here too (idp.authn.acr), so there is one definition."""

from __future__ import annotations

LEVELS: tuple[str, ...] = ("pwd", "mfa", "phr")
_RANK = {acr: i for i, acr in enumerate(LEVELS)}


def satisfies(achieved: str | None, required: str | None) -> bool:
    """Does a sign-in at `achieved` meet `required`? A stronger level meets a weaker one."""
    if required is None:
        return achieved is not None
    return achieved in _RANK and _RANK[achieved] >= _RANK[required]
