"""Random secrets and how they are stored: high-entropy values get a fast hash, never argon2."""

import hashlib
import hmac
import secrets


def random_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def token_hash(value: str) -> str:
    """SHA-256 is enough for 256-bit random secrets: there is nothing to brute-force."""
    return hashlib.sha256(value.encode()).hexdigest()


def hashes_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
