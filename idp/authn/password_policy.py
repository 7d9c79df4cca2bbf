"""Passwords as NIST SP 800-63B-4 §3.1.1.2 asks: a length floor (15 when the password alone
signs the person in, 8 when a second factor is always required), at least 64 allowed,
Unicode normalised (NFKC) and never truncated, no composition rules, and a check against
common and breached passwords and the person's own email and name, with the reason shown.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from importlib import resources

from ..texts import N_

MAX_LENGTH = 256  # well over NIST's 64; the hash input stays small


class WeakPassword(ValueError):
    """The message is shown to the person (translated: idp.i18n.explain)."""


def normalize(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


@lru_cache(maxsize=1)
def _blocklist() -> frozenset[str]:
    text = resources.files("idp").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def _repetitive_or_sequential(value: str) -> bool:
    if len(set(value)) <= 2:
        return True
    steps = {ord(b) - ord(a) for a, b in zip(value, value[1:])}
    return len(steps) == 1 and steps <= {1, -1}


def check(password: str, *, second_factor_required: bool, email: str, name: str | None = None) -> str:
    """The normalised password to hash, or WeakPassword with the reason."""
    value = normalize(password)
    minimum = 8 if second_factor_required else 15
    if len(value) < minimum:
        raise WeakPassword(N_("Use at least %(minimum)d characters.", minimum=minimum) if second_factor_required else
                           N_("Use at least %(minimum)d characters: your account signs in with the password alone.",
                              minimum=minimum))
    if len(value) > MAX_LENGTH:
        raise WeakPassword(N_("Use at most %(maximum)d characters.", maximum=MAX_LENGTH))
    folded = value.casefold()
    if folded in _blocklist() or folded.strip("0123456789!. ") in _blocklist():
        raise WeakPassword(N_("This password is one of the most common or leaked passwords. Choose another."))
    if _repetitive_or_sequential(folded):
        raise WeakPassword(N_("This password is a repetition or a simple sequence. Choose another."))
    local = email.split("@")[0].casefold()
    words = [w for w in [local, email.casefold(), *((name or "").casefold().split())] if len(w) >= 4]
    if any(w in folded for w in words):
        raise WeakPassword(N_("Do not use your email address or name in your password."))
    return value
