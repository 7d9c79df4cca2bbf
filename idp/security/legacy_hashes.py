"""Password hashes made by other systems, kept as they came until the person's next sign-in
rehashes the password to our argon2id (idp.authn.password).

Every format is computed by a well-kept library, never by our own crypto: argon2-cffi
(argon2 PHC strings), `bcrypt`, and the standard library's hashlib (`pbkdf2_hmac`, `scrypt`).
What is here is only how each system writes its parameters down:

| system | stored as |
|---|---|
| argon2 (any PHC string; Django's `argon2$…`) | `$argon2id$v=19$m=…,t=…,p=…$salt$hash` |
| bcrypt (`$2a$`, `$2b$`, `$2y$`; Auth0's export; Django's `bcrypt$…`) | as is (Django's prefix dropped) |
| Django `bcrypt_sha256$…` | as is: bcrypt of the SHA-256 hex digest |
| Django `pbkdf2_sha256$…`, `pbkdf2_sha1$…` | as is: iterations, salt (text), base64 hash |
| passlib `$pbkdf2$…`, `$pbkdf2-sha256$…`, `$pbkdf2-sha512$…` | as is: rounds, ab64 salt and hash |
| Keycloak's credential JSON (pbkdf2, pbkdf2-sha256, pbkdf2-sha512, argon2) | rewritten in passlib's or the PHC format |
| scrypt: Django `scrypt$…`, passlib `$scrypt$…`, Werkzeug `scrypt:…` | as is |
| Werkzeug `pbkdf2:sha256:…` | as is |

Costs are bounded (CAPS): an imported hash must not be able to make one sign-in take
minutes or gigabytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

import bcrypt
from argon2 import extract_parameters
from argon2.exceptions import InvalidHashError

MAX_PBKDF2_ITERATIONS = 10_000_000
MAX_BCRYPT_COST = 16
MAX_SCRYPT_BYTES = 256 * 1024 * 1024
MAX_ARGON2_KIB = 256 * 1024
MAX_PARALLELISM = 16

_PBKDF2_DIGESTS = {"sha1": "sha1", "sha256": "sha256", "sha512": "sha512"}
_PASSLIB_PBKDF2 = {"pbkdf2": "sha1", "pbkdf2-sha256": "sha256", "pbkdf2-sha512": "sha512"}
_DJANGO_PBKDF2 = {"pbkdf2_sha256": "sha256", "pbkdf2_sha1": "sha1"}


class UnsupportedHash(ValueError):
    """The value is no password hash we can verify; the message says why (import errors)."""


def is_ours(stored: str) -> bool:
    """argon2 strings are verified by the argon2 hasher itself (any type, any parameters)."""
    return stored.startswith("$argon2")


# --- reading what the other systems wrote ---------------------------------------------------

def canonical(value: str | dict[str, Any]) -> str:
    """The string to store for an imported hash, after checking that it parses and that
    its cost is within bounds; raises UnsupportedHash with the reason."""
    if isinstance(value, dict) or (isinstance(value, str) and value.lstrip().startswith("{")):
        return _from_keycloak(value)
    if not isinstance(value, str) or not value or len(value) > 1024:
        raise UnsupportedHash("password_hash must be a non-empty string (at most 1024 characters)")
    if value.startswith("argon2$"):
        value = value[len("argon2"):]  # Django's Argon2PasswordHasher: "argon2" + the PHC string
    if value.startswith("bcrypt$$2"):
        value = value[len("bcrypt$"):]
    _check(value)
    return value


def _check(stored: str) -> None:
    kind = _kind(stored)
    if kind == "argon2":
        _argon2_params(stored)
    elif kind in ("bcrypt", "bcrypt_sha256"):
        raw = stored.split("$", 1)[1] if kind == "bcrypt_sha256" else stored
        _bcrypt_cost(raw)
    else:
        _parse(stored)  # pbkdf2 and scrypt: parse fully, costs checked there


def _kind(stored: str) -> str:
    if stored.startswith("$argon2"):
        return "argon2"
    if stored[:4] in ("$2a$", "$2b$", "$2y$"):
        return "bcrypt"
    if stored.startswith("bcrypt_sha256$"):
        return "bcrypt_sha256"
    head = stored.split("$", 2)
    if stored.startswith("$") and len(head) > 2 and head[1] in _PASSLIB_PBKDF2:
        return "passlib_pbkdf2"
    if stored.startswith("$scrypt$"):
        return "passlib_scrypt"
    if head[0] in _DJANGO_PBKDF2:
        return "django_pbkdf2"
    if head[0] == "scrypt":
        return "django_scrypt"
    if stored.startswith("scrypt:"):
        return "werkzeug_scrypt"
    if stored.startswith("pbkdf2:"):
        return "werkzeug_pbkdf2"
    raise UnsupportedHash("unknown password hash format")


def _argon2_params(stored: str) -> None:
    try:
        p = extract_parameters(stored)
    except (InvalidHashError, ValueError) as exc:
        raise UnsupportedHash("malformed argon2 hash") from exc
    if p.memory_cost > MAX_ARGON2_KIB or p.time_cost > 20 or p.parallelism > MAX_PARALLELISM:
        raise UnsupportedHash("argon2 parameters beyond the supported maximum")


def _bcrypt_cost(raw: str) -> None:
    parts = raw.split("$")
    if len(parts) != 4 or not parts[2].isdigit() or len(parts[3]) != 53:
        raise UnsupportedHash("malformed bcrypt hash")
    if not 4 <= int(parts[2]) <= MAX_BCRYPT_COST:
        raise UnsupportedHash(f"bcrypt cost must be between 4 and {MAX_BCRYPT_COST}")


def _b64(text: str, *, alt: bool = False) -> bytes:
    """Standard base64, padded or not; passlib's "ab64" writes '.' for '+'."""
    if alt:
        text = text.replace(".", "+")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UnsupportedHash("malformed base64 in the hash") from exc


def _int(text: str, what: str) -> int:
    if not text.isdigit():
        raise UnsupportedHash(f"malformed {what}")
    return int(text)


def _pbkdf2(digest: str, iterations: int, salt: bytes, expected: bytes) -> tuple:
    if not 1 <= iterations <= MAX_PBKDF2_ITERATIONS:
        raise UnsupportedHash(f"PBKDF2 iterations must be between 1 and {MAX_PBKDF2_ITERATIONS}")
    if not 16 <= len(expected) <= 64:
        raise UnsupportedHash("PBKDF2 hash length must be between 16 and 64 bytes")
    return ("pbkdf2", digest, iterations, salt, expected)


def _scrypt(n: int, r: int, p: int, salt: bytes, expected: bytes) -> tuple:
    if n < 2 or n & (n - 1) or not 1 <= r <= 64 or not 1 <= p <= MAX_PARALLELISM:
        raise UnsupportedHash("scrypt parameters must be N a power of two, r 1-64, p 1-16")
    if 128 * n * r > MAX_SCRYPT_BYTES:
        raise UnsupportedHash("scrypt memory beyond the supported maximum (256 MiB)")
    if not 16 <= len(expected) <= 128:
        raise UnsupportedHash("scrypt hash length must be between 16 and 128 bytes")
    return ("scrypt", n, r, p, salt, expected)


def _parse(stored: str) -> tuple:
    """(function, parameters…, expected bytes) for the PBKDF2 and scrypt formats."""
    kind = _kind(stored)
    try:
        if kind == "passlib_pbkdf2":
            _, name, rounds, salt, checksum = stored.split("$")
            return _pbkdf2(_PASSLIB_PBKDF2[name], _int(rounds, "rounds"), _b64(salt, alt=True), _b64(checksum, alt=True))
        if kind == "django_pbkdf2":
            name, iterations, salt, checksum = stored.split("$")
            return _pbkdf2(_DJANGO_PBKDF2[name], _int(iterations, "iterations"), salt.encode(), _b64(checksum))
        if kind == "werkzeug_pbkdf2":
            method, salt, checksum = stored.split("$")
            _, digest, iterations = method.split(":")
            return _pbkdf2(_PBKDF2_DIGESTS[digest], _int(iterations, "iterations"), salt.encode(), bytes.fromhex(checksum))
        if kind == "passlib_scrypt":
            _, _, settings, salt, checksum = stored.split("$")
            values = dict(item.split("=", 1) for item in settings.split(","))
            n = 1 << _int(values["ln"], "ln")
            return _scrypt(n, _int(values["r"], "r"), _int(values["p"], "p"), _b64(salt), _b64(checksum))
        if kind == "django_scrypt":
            _, n, salt, r, p, checksum = stored.split("$")
            return _scrypt(_int(n, "N"), _int(r, "r"), _int(p, "p"), salt.encode(), _b64(checksum))
        if kind == "werkzeug_scrypt":
            method, salt, checksum = stored.split("$")
            _, n, r, p = method.split(":")
            return _scrypt(_int(n, "N"), _int(r, "r"), _int(p, "p"), salt.encode(), bytes.fromhex(checksum))
    except (ValueError, KeyError) as exc:
        if isinstance(exc, UnsupportedHash):
            raise
        raise UnsupportedHash(f"malformed {kind.replace('_', ' ')} hash") from exc
    raise UnsupportedHash("unknown password hash format")


# --- Keycloak -------------------------------------------------------------------------------

def _from_keycloak(value: str | dict[str, Any]) -> str:
    """A credential of a Keycloak realm export (`users[].credentials[]`, type "password"):
    `secretData` holds the base64 value and salt, `credentialData` the algorithm, the
    iterations and, for argon2, its parameters (each a JSON string in the export)."""
    try:
        credential = json.loads(value) if isinstance(value, str) else value
        secret = _json_field(credential, "secretData")
        data = _json_field(credential, "credentialData")
        algorithm = data["algorithm"]
        iterations = int(data["hashIterations"])
        salt, checksum = _b64(secret["salt"]), _b64(secret["value"])
        extra = data.get("additionalParameters") or {}
    except (ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, UnsupportedHash):
            raise
        raise UnsupportedHash("malformed Keycloak credential (needs secretData and credentialData)") from exc
    if credential.get("type", "password") != "password":
        raise UnsupportedHash("the Keycloak credential is not a password")
    if algorithm in ("pbkdf2", "pbkdf2-sha256", "pbkdf2-sha512"):
        _pbkdf2(_PASSLIB_PBKDF2[algorithm], iterations, salt, checksum)
        ab64 = lambda raw: base64.b64encode(raw).decode().rstrip("=").replace("+", ".")  # noqa: E731
        return f"${algorithm}${iterations}${ab64(salt)}${ab64(checksum)}"
    if algorithm == "argon2":
        first = lambda name, default: str((extra.get(name) or [default])[0])  # noqa: E731
        kind = {"id": "argon2id", "i": "argon2i", "d": "argon2d"}.get(first("type", "id"))
        version = {"1.3": 19, "1.0": 16}.get(first("version", "1.3"))
        if kind is None or version is None:
            raise UnsupportedHash("unknown argon2 type or version in the Keycloak credential")
        b64 = lambda raw: base64.b64encode(raw).decode().rstrip("=")  # noqa: E731
        phc = (f"${kind}$v={version}$m={int(first('memory', 7168))},t={iterations},"
               f"p={int(first('parallelism', 1))}${b64(salt)}${b64(checksum)}")
        _argon2_params(phc)
        return phc
    raise UnsupportedHash(f"unsupported Keycloak algorithm {algorithm!r}")


def _json_field(credential: dict, name: str) -> dict:
    field = credential[name]
    return json.loads(field) if isinstance(field, str) else field


# --- verifying ------------------------------------------------------------------------------

def verify(stored: str, password: str) -> bool:
    """Whether `password` is the one behind a non-argon2 `stored` hash. A malformed or
    unknown hash is no match (it was checked at import; this is defence in depth)."""
    secret = password.encode()
    try:
        kind = _kind(stored)
        if kind == "bcrypt":
            # bcrypt only ever used the first 72 bytes; the old system truncated the same way.
            return bcrypt.checkpw(secret[:72], stored.encode())
        if kind == "bcrypt_sha256":
            digest = hashlib.sha256(secret).hexdigest().encode()
            return bcrypt.checkpw(digest, stored.split("$", 1)[1].encode())
        parsed = _parse(stored)
    except (UnsupportedHash, ValueError):
        return False
    if parsed[0] == "pbkdf2":
        _, digest, iterations, salt, expected = parsed
        derived = hashlib.pbkdf2_hmac(digest, secret, salt, iterations, dklen=len(expected))
    else:
        _, n, r, p, salt, expected = parsed
        derived = hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p, maxmem=MAX_SCRYPT_BYTES + 1024 * 1024,
                                 dklen=len(expected))
    return hmac.compare_digest(derived, expected)
