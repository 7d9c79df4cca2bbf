"""Verifying a JWT access token as RFC 9068 §4 asks."""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable
from typing import Any

from joserfc import jwt
from joserfc.errors import BadSignatureError, JoseError

from .errors import InvalidToken
from .jwks import ACCEPTED_ALGS, JwksCache

#: RFC 9068 §4: "at+jwt", or the full media type "application/at+jwt" (RFC 7515 §4.1.9
#: lets the "application/" prefix be left out; media types compare case-insensitively).
ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")

#: RFC 9068 §2.2: claims every JWT access token carries.
REQUIRED_CLAIMS = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")

def _now() -> float:
    """Wall-clock seconds (tests monkeypatch this)."""
    return time.time()



def _b64url_json(segment: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidToken("the token is not a JWT") from exc


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class AccessTokenVerifier:
    """Checks a JWT access token as RFC 9068 §4 asks: typ, alg, signature, iss, aud, exp."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        jwks: JwksCache,
        *,
        leeway: float = 0,
        clock: Callable[[], float] | None = None,
    ):
        self.issuer = issuer
        self.audience = audience
        self.jwks = jwks
        self.leeway = leeway
        self._clock = clock

    def now(self) -> float:
        return self._clock() if self._clock is not None else _now()

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims; raises InvalidToken (or KeySetUnavailable)."""
        parts = token.split(".")
        if len(parts) != 3:
            # Five parts would be an encrypted token (RFC 9068 §4 step 2); we issue none.
            raise InvalidToken("the token is not a signed JWT")
        header = _b64url_json(parts[0])
        if not isinstance(header, dict):
            raise InvalidToken("the token is not a JWT")
        alg = header.get("alg")
        if alg not in ACCEPTED_ALGS:
            raise InvalidToken(f"the algorithm {str(alg)[:20]!r} is not accepted")
        typ = header.get("typ")
        # RFC 9068 §4: refuse anything else, notably ID tokens (typ JWT) of the same issuer.
        if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
            raise InvalidToken("not an access token (the typ header is not at+jwt)")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("the kid header is not a string")
        key = self.jwks.key_for(kid, alg)
        try:
            # Exactly the header's alg, already checked against the allow-list and the key.
            claims = dict(jwt.decode(token, key, algorithms=[alg]).claims)
        except BadSignatureError as exc:
            raise InvalidToken("the token's signature does not verify") from exc
        except (JoseError, ValueError, TypeError) as exc:
            raise InvalidToken(f"the token cannot be verified ({str(exc)[:80] or type(exc).__name__})") from exc
        self._check_claims(claims)
        return claims

    def _check_claims(self, claims: dict[str, Any]) -> None:
        missing = [c for c in REQUIRED_CLAIMS if c not in claims]
        if missing:
            raise InvalidToken(f"the token lacks {', '.join(missing)}")
        if claims["iss"] != self.issuer:  # RFC 9068 §4 step 3: exact match
            raise InvalidToken("the token was issued by another issuer")
        aud = claims["aud"]
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if self.audience not in audiences:  # RFC 9068 §4 step 4, RFC 7519 §4.1.3
            raise InvalidToken("the token is meant for another audience")
        now = self.now()
        exp, iat, nbf = claims["exp"], claims["iat"], claims.get("nbf")
        if not _number(exp) or not _number(iat) or (nbf is not None and not _number(nbf)):
            raise InvalidToken("the token's times are not numbers")
        # RFC 7519 §4.1.4: the current time must be before exp; leeway absorbs clock skew.
        if now >= exp + self.leeway:
            raise InvalidToken("the token has expired")
        if nbf is not None and now + self.leeway < nbf:
            raise InvalidToken("the token is not valid yet")
        if iat > now + self.leeway:
            raise InvalidToken("the token was issued in the future")
