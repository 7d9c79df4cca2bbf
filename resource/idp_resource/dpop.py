"""DPoP proofs (RFC 9449 §4.3): the checks a server makes on the `DPoP` header, shared by
the provider's token and userinfo endpoints and by resource servers. Replay (a `jti` seen
before) is the caller's to remember: the provider uses Redis, a resource server its memory."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import import_key

from .jwks import ACCEPTED_ALGS, _usable

#: A proof is fresh for this many seconds after its iat (RFC 9449 §11.1 leaves it to us).
MAX_AGE = 300
#: Clocks of browsers run ahead too: a proof may be this far in the future.
LEEWAY = 60


class InvalidProof(Exception):
    """RFC 9449 §7.1: `invalid_dpop_proof` at the token endpoint, `invalid_dpop_proof` /
    `invalid_token` at a resource."""

    def __init__(self, description: str):
        super().__init__(description)
        self.description = description


@dataclass(frozen=True)
class Proof:
    jkt: str  # RFC 7638 thumbprint of the proof's key: what tokens are bound to (cnf.jkt)
    jti: str
    iat: int


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def access_token_hash(token: str) -> str:
    """`ath` (RFC 9449 §4.2): base64url of the SHA-256 of the access token."""
    return _b64url(hashlib.sha256(token.encode("ascii", "replace")).digest())


def normalized_uri(uri: str) -> str:
    """RFC 9449 §4.3 item 9: htu compared without query and fragment (RFC 3986 §6.2.2-3
    scheme and host case, default ports)."""
    parts = urlsplit(uri)
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((parts.scheme == "https" and port == 443) or (parts.scheme == "http" and port == 80)):
        host = f"{host}:{port}"
    return urlunsplit((parts.scheme.lower(), host, parts.path or "/", "", ""))


def _header(proof: str) -> dict[str, Any]:
    try:
        segment = proof.split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidProof("the DPoP proof is not a JWT") from exc
    if not isinstance(header, dict):
        raise InvalidProof("the DPoP proof is not a JWT")
    return header


def verify_proof(
    proof: str | None, *, method: str, uri: str, now: float, access_token: str | None = None,
) -> Proof:
    """Check a proof as RFC 9449 §4.3 lists; raises InvalidProof."""
    if not proof or len(proof) > 8192 or proof.count(".") != 2:
        raise InvalidProof("a DPoP proof (one compact JWT in the DPoP header) is required")
    header = _header(proof)
    if header.get("typ") != "dpop+jwt":
        raise InvalidProof("the DPoP proof's typ is not dpop+jwt")
    alg = header.get("alg")
    if alg not in ACCEPTED_ALGS:
        raise InvalidProof("the DPoP proof's alg is not accepted")
    jwk = header.get("jwk")
    if not isinstance(jwk, dict) or "d" in jwk or any(k in jwk for k in ("p", "q", "dp", "dq", "qi", "k")):
        raise InvalidProof("the DPoP proof must carry a public key (jwk)")
    try:
        key = import_key(jwk)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise InvalidProof("the DPoP proof's jwk is not a usable key") from exc
    if not _usable(key, alg):
        raise InvalidProof("the DPoP proof's key does not fit its alg")
    try:
        claims = json.loads(jws.deserialize_compact(proof, key, algorithms=[alg]).payload)
    except (JoseError, ValueError, TypeError) as exc:
        raise InvalidProof("the DPoP proof's signature does not verify") from exc
    if not isinstance(claims, dict):
        raise InvalidProof("the DPoP proof has no claims")
    jti, iat = claims.get("jti"), claims.get("iat")
    if not isinstance(jti, str) or not 8 <= len(jti) <= 256:
        raise InvalidProof("the DPoP proof's jti is missing")
    if claims.get("htm") != method:
        raise InvalidProof("the DPoP proof is for another HTTP method")
    htu = claims.get("htu")
    if not isinstance(htu, str) or normalized_uri(htu) != normalized_uri(uri):
        raise InvalidProof("the DPoP proof is for another URI")
    if not isinstance(iat, int) or isinstance(iat, bool) or not now - MAX_AGE <= iat <= now + LEEWAY:
        raise InvalidProof("the DPoP proof is not fresh")
    if access_token is not None and claims.get("ath") != access_token_hash(access_token):
        raise InvalidProof("the DPoP proof is not for this access token (ath)")
    return Proof(jkt=key.thumbprint(), jti=jti, iat=iat)
