"""The provider's discovery document (OIDC Discovery 1.0 §4), read and checked."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from ..net import Http, NetError, check_url
from .errors import UpstreamError

#: Signature algorithms we accept on ID tokens: asymmetric only, never `none` or HS*.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519")


@dataclass(frozen=True)
class Metadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    #: RFC 9207 §3: the provider sends `iss` in every authorization response.
    iss_parameter_supported: bool
    token_endpoint_auth_methods: tuple[str, ...]
    id_token_algorithms: tuple[str, ...]


def discover(issuer: str, http: Http) -> Metadata:
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        doc = http.get_json(url)
    except NetError as exc:
        raise UpstreamError("discovery", str(exc)) from None
    if not isinstance(doc, dict):
        raise UpstreamError("discovery", "the discovery document is not a JSON object")
    # OIDC Discovery 1.0 §4.3: the issuer in the document MUST be identical to the one we
    # asked; the same exact string is then required in every ID token (no normalisation).
    if doc.get("issuer") != issuer:
        raise UpstreamError("discovery", f"the document names issuer {doc.get('issuer')!r}, not {issuer!r}")
    endpoints = {}
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
        value = doc.get(name)
        if value is None and name == "userinfo_endpoint":
            endpoints[name] = None
            continue
        try:
            endpoints[name] = check_url(str(value or ""), allow_loopback_http=http.allow_loopback_http)
        except ValueError as exc:
            raise UpstreamError("discovery", f"{name}: {exc}") from None
    methods = doc.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" not in methods:
        raise UpstreamError("discovery", "the provider does not support PKCE with S256")
    algorithms = tuple(a for a in (doc.get("id_token_signing_alg_values_supported") or ["RS256"]) if a in ALGORITHMS)
    if not algorithms:
        raise UpstreamError("discovery", "the provider signs ID tokens with no algorithm we accept")
    return Metadata(
        issuer=issuer,
        iss_parameter_supported=doc.get("authorization_response_iss_parameter_supported") is True,
        token_endpoint_auth_methods=tuple(doc.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]),
        id_token_algorithms=algorithms,
        **endpoints,
    )


class MetadataCache:
    """Discovery documents per issuer, kept `ttl` seconds in this process."""

    def __init__(self, http: Http, ttl: int = 3600):
        self._http, self._ttl = http, ttl
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, Metadata]] = {}

    def get(self, issuer: str) -> Metadata:
        with self._lock:
            entry = self._entries.get(issuer)
        if entry and time.monotonic() - entry[0] < self._ttl:
            return entry[1]
        metadata = discover(issuer, self._http)
        with self._lock:
            self._entries[issuer] = (time.monotonic(), metadata)
        return metadata
