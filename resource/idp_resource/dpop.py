"""DPoP proofs (RFC 9449 §4.3): the checks a server makes on the `DPoP` header, shared by
the provider's token and userinfo endpoints and by resource servers. Replay (a `jti` seen
before) is the caller's to remember: the provider uses Redis, a resource server its memory."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import import_key

from .errors import InvalidToken
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


class ProofChecker:
    """A resource server's side (RFC 9449 §7): a token with `cnf.jkt` must come as
    `Authorization: DPoP` with one fresh proof of that key over this request and token; a
    token without it must not claim the DPoP scheme. Each proof's `jti` is accepted once:
    remembered in this process's memory (at most `capacity`, oldest first out, each for as
    long as its proof would be fresh), so replays across several processes of one API are
    caught only per process."""

    def __init__(self, capacity: int = 100_000):
        self.capacity = capacity
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, scheme: str, token: str, claims: dict[str, Any], *, method: str, uri: str,
              headers: Sequence[str], now: float) -> None:
        cnf = claims.get("cnf")
        bound = cnf.get("jkt") if isinstance(cnf, dict) else None
        if bound is None:
            if scheme == "DPoP":
                raise InvalidToken("the token is not DPoP-bound: send it as a bearer token")
            return
        if scheme != "DPoP":
            error = InvalidToken("the token is DPoP-bound: send it with the DPoP scheme and a proof")
            error.dpop = True  # type: ignore[attr-defined]  # so the challenge says DPoP
            raise error
        if len(headers) != 1:
            raise InvalidProof("exactly one DPoP proof is required")
        proof = verify_proof(headers[0], method=method, uri=uri, now=now, access_token=token)
        if proof.jkt != bound:
            raise InvalidProof("the DPoP proof is signed by another key than the token's")
        self._first_use(f"{proof.jkt}:{proof.jti}", now)

    def _first_use(self, key: str, now: float) -> None:
        with self._lock:
            while self._seen and (next(iter(self._seen.values())) < now or len(self._seen) >= self.capacity):
                self._seen.popitem(last=False)
            if key in self._seen:
                raise InvalidProof("the DPoP proof was used before")
            self._seen[key] = now + MAX_AGE + LEEWAY
