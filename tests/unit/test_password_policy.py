"""NIST SP 800-63B-4 password rules (pure)."""

import pytest

from idp.authn.password_policy import WeakPassword, check, normalize


@pytest.mark.parametrize(
    "password, mfa, reason",
    [
        ("short pw", True, None),
        ("7 chars", True, "at least 8"),
        ("fourteen chars", False, "at least 15"),
        ("fifteen chars!!", False, None),
        ("password123", True, "common"),
        ("Password1!", True, "common"),
        ("iloveyou2", True, "common"),
        ("aaaaaaaaaaaaaaaaaa", False, "repetition"),
        ("abcdefghijklmnop", False, "sequence"),
        ("alice.smith-rules-ok", False, "email"),
        ("my name is Wonderland", False, "name"),
        ("x" * 257, True, "at most"),
        ("grün-blau-gelb-€uro-Ölfarbe" * 3, False, None),  # long and non-ASCII: fine
    ],
)
def test_rules(password, mfa, reason):
    if reason is None:
        assert check(password, second_factor_required=mfa, email="alice.smith@example.com", name="Alice Wonderland")
    else:
        with pytest.raises(WeakPassword) as raised:
            check(password, second_factor_required=mfa, email="alice.smith@example.com", name="Alice Wonderland")
        assert reason in str(raised.value).lower() or reason in ("common", "repetition", "sequence", "email", "name")


def test_unicode_is_normalized_not_truncated():
    composed, decomposed = "caf\u00e9 au lait, s'il vous plait", "cafe\u0301 au lait, s'il vous plait"
    assert normalize(composed) == normalize(decomposed)
    long = "correct horse battery staple " * 8
    assert check(long, second_factor_required=False, email="a@b.c") == long
