"""Key ring, PKCE and password hashing helpers."""

import pytest
from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError
from cryptography.exceptions import InvalidTag

from idp.oauth import pkce
from idp.security.keyring import KeyRing, KeyRingError
from idp.security.passwords import Argon2Params, HasherBusy, Passwords


def test_keyring_round_trip_and_unknown_key():
    old = KeyRing.parse(KeyRing.generate_spec())
    sealed = old.encrypt(b"seed", context=b"row-1")
    assert sealed.startswith("v1.") and b"seed" not in sealed.encode()
    assert old.decrypt(sealed, context=b"row-1") == b"seed"
    with pytest.raises(KeyRingError):
        KeyRing.parse(KeyRing.generate_spec()).decrypt(sealed, context=b"row-1")


def test_keyring_binds_the_context():
    ring = KeyRing.parse(KeyRing.generate_spec())
    sealed = ring.encrypt(b"seed", context=b"row-1")
    with pytest.raises(InvalidTag):
        ring.decrypt(sealed, context=b"row-2")


def test_keyring_new_key_first_old_still_readable():
    first = KeyRing.generate_spec()
    ring1 = KeyRing.parse(first)
    sealed = ring1.encrypt(b"x", context=b"c")
    ring2 = KeyRing.parse(KeyRing.generate_spec() + "," + first)
    assert ring2.decrypt(sealed, context=b"c") == b"x"
    assert ring2.encrypt(b"x", context=b"c").split(".")[1] != sealed.split(".")[1]


@pytest.mark.parametrize("spec", ["", "nocolon", "k1:short", "bad id:" + "A" * 43])
def test_keyring_rejects_bad_specs(spec):
    with pytest.raises(KeyRingError):
        KeyRing.parse(spec)


def test_pkce():
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"  # RFC 7636 Appendix B
    assert pkce.check_challenge(challenge, "S256") == challenge
    pkce.check_verifier(verifier, challenge)
    with pytest.raises(InvalidGrantError):
        pkce.check_verifier(verifier[:-1] + "l", challenge)
    with pytest.raises(InvalidRequestError):
        pkce.check_challenge(challenge, "plain")
    with pytest.raises(InvalidRequestError):
        pkce.check_challenge(challenge, None)


def test_password_hashing_and_unknown_user():
    passwords = Passwords(Argon2Params(memory_kib=1024, time_cost=1), max_concurrent=1)
    stored = passwords.hash("pw")
    assert passwords.verify(stored, "pw") and not passwords.verify(stored, "nope")
    assert not passwords.verify(None, "pw")
    assert stored.startswith("$argon2id$")


def test_default_parameters_are_owasps():
    passwords = Passwords(Argon2Params(), max_concurrent=1)
    assert "m=19456,t=2,p=1" in passwords.hash("pw")


def test_hashes_in_flight_are_bounded():
    passwords = Passwords(Argon2Params(memory_kib=1024, time_cost=1), max_concurrent=1, wait_seconds=0.01)
    slot = passwords._slot()
    try:
        with pytest.raises(HasherBusy):
            passwords.hash("pw")
    finally:
        slot.release()
