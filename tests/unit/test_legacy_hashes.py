"""Imported password hashes: each format made by the real tool that writes it (Django's
hashers, passlib, bcrypt, Werkzeug, argon2-cffi; Keycloak's credential JSON written by hand
from its documented export format), read and verified by idp.security.legacy_hashes."""

from __future__ import annotations

import base64
import hashlib
import json
import warnings

import bcrypt
import pytest
from argon2 import PasswordHasher, Type

from idp.security import legacy_hashes as lh
from idp.security.passwords import Argon2Params, Passwords

PASSWORD = "tr0ub4dor & 3 horses"


def _django(algorithm: str) -> str:
    pytest.importorskip("django", reason="Django is a test dependency: pip install -e '.[test]'")
    from django.conf import settings

    if not settings.configured:
        settings.configure(PASSWORD_HASHERS=[
            "django.contrib.auth.hashers.PBKDF2PasswordHasher", "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
            "django.contrib.auth.hashers.ScryptPasswordHasher", "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
            "django.contrib.auth.hashers.BCryptPasswordHasher", "django.contrib.auth.hashers.Argon2PasswordHasher",
        ])
    from django.contrib.auth import hashers

    hasher = hashers.get_hasher(algorithm)
    if hasattr(hasher, "iterations"):
        hasher.iterations = 1000  # the format is what matters; Django's default is slow on purpose
    if hasattr(hasher, "rounds"):
        hasher.rounds = 4
    if algorithm == "argon2":
        hasher.memory_cost, hasher.time_cost, hasher.parallelism = 1024, 1, 2
    return hasher.encode(PASSWORD, hasher.salt())


def _passlib(name: str, **settings) -> str:
    passlib = pytest.importorskip("passlib.hash", reason="passlib is a test dependency")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(passlib, name).using(**settings).hash(PASSWORD)


def _keycloak(algorithm: str, iterations: int, dklen: int, **extra) -> dict:
    """A credential as a Keycloak realm export writes it (users[].credentials[]): secretData
    and credentialData are JSON strings; salt and value are standard base64."""
    salt = b"0123456789abcdef"
    if algorithm == "argon2":
        raw = PasswordHasher(time_cost=iterations, memory_cost=int(extra["memory"]), parallelism=1,
                             hash_len=dklen, type=Type.ID).hash(PASSWORD, salt=salt)
        value = base64.b64decode(raw.rsplit("$", 1)[1] + "==")
        params = {k: [str(v)] for k, v in extra.items()}
    else:
        digest = {"pbkdf2": "sha1", "pbkdf2-sha256": "sha256", "pbkdf2-sha512": "sha512"}[algorithm]
        value = hashlib.pbkdf2_hmac(digest, PASSWORD.encode(), salt, iterations, dklen=dklen)
        params = {}
    return {
        "id": "0d4e6f8a-1111-4222-8333-944455556666",
        "type": "password",
        "userLabel": "My password",
        "createdDate": 1700000000000,
        "secretData": json.dumps({"value": base64.b64encode(value).decode(), "salt": base64.b64encode(salt).decode(),
                                  "additionalParameters": {}}),
        "credentialData": json.dumps({"hashIterations": iterations, "algorithm": algorithm, "additionalParameters": params}),
    }


MAKERS = {
    "django pbkdf2_sha256": lambda: _django("pbkdf2_sha256"),
    "django pbkdf2_sha1": lambda: _django("pbkdf2_sha1"),
    "django scrypt": lambda: _django("scrypt"),
    "django bcrypt_sha256": lambda: _django("bcrypt_sha256"),
    "django bcrypt": lambda: _django("bcrypt"),
    "django argon2": lambda: _django("argon2"),
    "passlib pbkdf2_sha256": lambda: _passlib("pbkdf2_sha256", rounds=1000),
    "passlib pbkdf2_sha512": lambda: _passlib("pbkdf2_sha512", rounds=1000),
    "passlib pbkdf2_sha1": lambda: _passlib("pbkdf2_sha1", rounds=1000),
    "passlib scrypt": lambda: _passlib("scrypt", rounds=10),
    "bcrypt $2b$": lambda: bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode(),
    "bcrypt $2a$": lambda: bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4, prefix=b"2a")).decode(),
    # PHP's password_hash writes $2y$; the algorithm is 2b's (bcrypt reads it as such).
    "bcrypt $2y$": lambda: "$2y$" + bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()[4:],
    "argon2i": lambda: PasswordHasher(time_cost=1, memory_cost=1024, type=Type.I).hash(PASSWORD),
    "werkzeug scrypt": lambda: __import__("werkzeug.security").security.generate_password_hash(PASSWORD, "scrypt:16384:8:1"),
    "werkzeug pbkdf2": lambda: __import__("werkzeug.security").security.generate_password_hash(PASSWORD, "pbkdf2:sha256:1000"),
    "keycloak pbkdf2-sha256": lambda: _keycloak("pbkdf2-sha256", 1000, 32),
    "keycloak pbkdf2-sha512": lambda: _keycloak("pbkdf2-sha512", 1000, 64),
    "keycloak pbkdf2": lambda: _keycloak("pbkdf2", 1000, 64),
    "keycloak argon2": lambda: _keycloak("argon2", 2, 32, memory=1024, type="id", version="1.3", parallelism=1, hashLength=32),
}


@pytest.fixture(scope="module")
def passwords():
    return Passwords(Argon2Params(1024, 1, 1), max_concurrent=2)


@pytest.mark.parametrize("fmt", sorted(MAKERS))
def test_each_format_verifies_and_asks_for_a_rehash(fmt, passwords):
    stored = lh.canonical(MAKERS[fmt]())
    assert passwords.verify(stored, PASSWORD)
    assert not passwords.verify(stored, PASSWORD + "x")
    assert not passwords.verify(stored, "")
    assert passwords.needs_rehash(stored)
    assert not passwords.needs_rehash(passwords.hash(PASSWORD))


def test_keycloak_credential_as_a_json_string_too(passwords):
    stored = lh.canonical(json.dumps(_keycloak("pbkdf2-sha256", 1000, 32)))
    assert stored.startswith("$pbkdf2-sha256$1000$") and passwords.verify(stored, PASSWORD)


def test_bcrypt_over_72_bytes_verifies_as_the_old_system_did(passwords):
    long = "x" * 80
    stored = bcrypt.hashpw(long.encode()[:72], bcrypt.gensalt(4)).decode()
    assert passwords.verify(stored, long)


@pytest.mark.parametrize(
    "value, reason",
    [
        ("md5$abc$def", "unknown password hash format"),
        ("plaintext", "unknown password hash format"),
        ("", "non-empty"),
        ("pbkdf2_sha256$abc$salt$AAAA", "malformed"),
        ("pbkdf2_sha256$99999999$salt$" + "A" * 44, "iterations"),
        ("$2b$31$" + "a" * 53, "cost"),
        ("$2b$10$short", "malformed bcrypt"),
        ("scrypt$1048576$salt$64$1$" + "A" * 88, "memory"),
        ("scrypt$1000$salt$8$1$" + "A" * 88, "power of two"),
        ("$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHQ$" + "A" * 43, "maximum"),
        ('{"type": "password"}', "Keycloak"),
        ({"secretData": "{}", "credentialData": '{"algorithm": "md5", "hashIterations": 1}'}, "Keycloak"),
    ],
)
def test_bad_hashes_are_refused_with_a_reason(value, reason):
    with pytest.raises(lh.UnsupportedHash, match=reason):
        lh.canonical(value)


def test_a_corrupt_stored_hash_is_no_match(passwords):
    assert not passwords.verify("pbkdf2_sha256$1000$salt$!!!", PASSWORD)
    assert not passwords.verify("nonsense", PASSWORD)
