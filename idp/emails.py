"""Email addresses: checked and normalised by email-validator, plus a rule of our own
against look-alikes (issue 9, item 12).

One address, one recipient: no lists, display names, quoted local parts or IP literals.
No invisible characters (email-validator refuses zero-width and other unsafe ones), and
no mixed scripts within the local part or within a domain label (a Cyrillic "а" among
Latin letters), which is what makes an address read like someone else's. Whole-script
addresses (иван@пример.рф) and Japanese, which mixes Han with kana, are fine: UTS #39's
"highly restrictive" profile.
"""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email

#: Scripts that one word may mix (UTS #39 §5.2, highly restrictive), Latin with each.
_MIXABLE = (
    frozenset({"LATIN", "CJK", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "CJK", "BOPOMOFO"}),
    frozenset({"LATIN", "CJK", "HANGUL"}),
)


class InvalidEmail(ValueError):
    """A refusal whose message says what is wrong, for an admin to read."""


def normalize_for_lookup(email: str) -> str:
    """How an address typed at sign-in is matched (cheap, never refuses): the stored form
    is the same, because `validated` ends with it. Case-insensitive (INTERFACE.md)."""
    return unicodedata.normalize("NFC", email.strip()).lower()


def validated(email: str) -> str:
    """The normalised address, or InvalidEmail saying why not."""
    try:
        # Deliverability is not looked up in DNS: an invitation is what tests the address.
        normalized = validate_email(email.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidEmail(f"{email!r} is not a valid email address: {exc}") from None
    local, _, domain = normalized.rpartition("@")
    for part in (local, *domain.split(".")):
        scripts = _scripts(part)
        if len(scripts) > 1 and not any(scripts <= allowed for allowed in _MIXABLE):
            raise InvalidEmail(f"{email!r} is not a valid email address: {part!r} mixes scripts "
                               f"({', '.join(sorted(s.lower() for s in scripts))}), as look-alike addresses do.")
    return normalize_for_lookup(normalized)


def _scripts(word: str) -> set[str]:
    """The scripts of a word's letters, by the first word of their Unicode names (LATIN,
    CYRILLIC, GREEK, CJK, FULLWIDTH…): digits, marks and punctuation belong to none."""
    return {
        unicodedata.name(ch, "UNKNOWN").split(" ")[0].split("-")[0]
        for ch in word if unicodedata.category(ch).startswith("L")
    }
