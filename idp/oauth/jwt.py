"""Signing and verifying our own JWTs (ID tokens, RFC 9068 access tokens)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ..keys.keyset import KeyCache

#: Only what we sign with is accepted back: never `none`, never an HMAC algorithm (which
#: would let a forger use our public key as the shared secret).
ACCEPTED_ALGS = ["RS256", "ES256", "EdDSA"]


class InvalidToken(ValueError):
    pass


def sign(keys: KeyCache, claims: dict[str, Any], typ: str = "JWT", key: tuple[str, Any] | None = None) -> str:
    """`key`: the (alg, key) of keys.signing_key(), taken earlier by a caller that must not
    touch the cache (and so Redis or the database) at this point."""
    alg, jwk = key or keys.signing_key()
    header = {"alg": alg, "typ": typ, "kid": jwk.kid}  # type: ignore[attr-defined]
    return jwt.encode(header, claims, jwk, algorithms=[alg])


def half_hash(value: str, alg: str) -> str:
    """at_hash (OIDC Core 3.1.3.6): left half of the hash the signing algorithm uses."""
    digest = (hashlib.sha512 if alg == "EdDSA" else hashlib.sha256)(value.encode()).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).decode().rstrip("=")


def verify(keys: KeyCache, token: str, *, typ: str | None = None) -> tuple[dict, dict]:
    """Check the signature against our published keys; returns (header, claims).

    Time and audience checks are the caller's: an expired id_token_hint is still a hint.
    """
    keyset: KeySet = keys.snapshot().public
    try:
        decoded = jwt.decode(token, keyset, algorithms=ACCEPTED_ALGS)
    except (JoseError, ValueError, TypeError) as exc:
        # An unknown kid may be a key published since our last look: look once more, but
        # not more than once every few seconds, so garbage tokens cannot hammer the DB.
        if not keys.refresh_if_older_than(5):
            raise InvalidToken(str(exc) or exc.__class__.__name__) from exc
        try:
            decoded = jwt.decode(token, keys.snapshot().public, algorithms=ACCEPTED_ALGS)
        except (JoseError, ValueError, TypeError):
            raise InvalidToken(str(exc) or exc.__class__.__name__) from exc
    header = dict(decoded.header)
    if typ is not None and str(header.get("typ", "")).lower() not in (typ, "application/" + typ):
        raise InvalidToken("wrong token type")
    return header, dict(decoded.claims)
