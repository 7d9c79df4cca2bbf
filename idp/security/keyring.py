"""Encryption of secrets at rest (signing keys, TOTP seeds) with a rotatable key ring.

A ciphertext names the key that made it ("v1.<kid>.<nonce+ciphertext>"), so adding a new key
to the front of IDP_DATA_KEYS encrypts new data with it while old data stays readable.
"""

from __future__ import annotations

import base64
import os
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class KeyRingError(ValueError):
    pass


class KeyRing:
    def __init__(self, keys: list[tuple[str, bytes]]):
        if not keys:
            raise KeyRingError("the key ring is empty")
        for kid, key in keys:
            if len(key) != 32:
                raise KeyRingError(f"data key {kid!r} must be 32 bytes (AES-256)")
            if not kid.isalnum():
                raise KeyRingError(f"data key id {kid!r} must be alphanumeric")
        self._primary = keys[0][0]
        self._keys = {kid: AESGCM(key) for kid, key in keys}

    @property
    def primary(self) -> str:
        """The id of the key that encrypts."""
        return self._primary

    @classmethod
    def parse(cls, spec: str) -> "KeyRing":
        """Parse "kid:base64key[,kid:base64key…]"; the first key encrypts."""
        keys = []
        for part in spec.split(","):
            kid, sep, b64 = part.strip().partition(":")
            if not sep:
                raise KeyRingError("IDP_DATA_KEYS entries look like kid:base64key")
            try:
                keys.append((kid, base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))))
            except ValueError:
                raise KeyRingError(f"data key {kid!r} is not base64") from None
        return cls(keys)

    @staticmethod
    def generate_spec() -> str:
        kid = secrets.token_hex(4)
        return f"{kid}:{base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip('=')}"

    def encrypt(self, plaintext: bytes, *, context: bytes) -> str:
        """`context` is bound as associated data: a ciphertext moved to another row fails."""
        nonce = os.urandom(12)
        sealed = self._keys[self._primary].encrypt(nonce, plaintext, context)
        blob = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"v1.{self._primary}.{blob}"

    def decrypt(self, token: str, *, context: bytes) -> bytes:
        try:
            version, kid, blob = token.split(".", 2)
            aead = self._keys[kid]
        except (ValueError, KeyError):
            raise KeyRingError("ciphertext from an unknown key") from None
        if version != "v1":
            raise KeyRingError("unknown ciphertext version")
        raw = base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4))
        return aead.decrypt(raw[:12], raw[12:], context)
