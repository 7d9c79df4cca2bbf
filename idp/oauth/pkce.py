"""PKCE (RFC 7636), S256 only, required for every client (RFC 9700 §2.1.1) except a
confidential one registered with `--pkce optional`, whose requests without a challenge must
carry a `nonce` instead (RFC 9700 §2.1.1 allows an OpenID Connect client that).

authlib's CodeChallenge accepts `plain` and treats a missing method as plain; we do not.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError

_PATTERN = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def check_challenge(challenge: str | None, method: str | None, *, required: bool = True,
                    nonce: str | None = None, scope: str = "") -> str | None:
    """Validate the authorization request's challenge; returns it (None when a client with
    optional PKCE sent none, which is allowed only with a nonce in an OpenID request)."""
    if not challenge and not method and not required:
        if not nonce or "openid" not in scope.split():
            raise InvalidRequestError("without code_challenge, an OpenID request with a nonce is required")
        return None
    if not challenge:
        raise InvalidRequestError("code_challenge is required (PKCE with S256)")
    if method != "S256":
        raise InvalidRequestError("code_challenge_method must be S256")
    if not _PATTERN.match(challenge):
        raise InvalidRequestError("code_challenge is malformed")
    return challenge


def check_verifier(verifier: str | None, challenge: str | None) -> None:
    """RFC 7636 §4.6. A missing or wrong verifier is `invalid_grant`: the grant (the code)
    cannot be redeemed without it."""
    if challenge is None:
        # RFC 9700 §2.1.1: a verifier for a code issued without a challenge is refused,
        # or an attacker could downgrade a PKCE client's flow by stripping the challenge.
        if verifier:
            raise InvalidGrantError("code_verifier sent, but the authorization request had no code_challenge")
        return
    if not verifier:
        raise InvalidGrantError("code_verifier is required")
    if not _PATTERN.match(verifier):
        raise InvalidGrantError("code_verifier is malformed")
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    expected = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    if not hmac.compare_digest(expected, challenge):
        raise InvalidGrantError("code_verifier does not match the code_challenge")
