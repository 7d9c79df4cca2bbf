"""The authorization request and its response (RFC 6749 §4.1, OIDC Core 3.1.2, RFC 7636,
RFC 9207), as plain functions of their values."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

from .errors import UpstreamError
from .metadata import Metadata

SCOPE = "openid email profile"


@dataclass(frozen=True)
class Started:
    """An authorization request on its way: the URL for the browser and the values that
    only we keep (state, nonce, PKCE verifier), bound to the browser by the caller."""

    url: str
    state: str
    nonce: str
    verifier: str


def s256(verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier)))."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def start(metadata: Metadata, *, client_id: str, redirect_uri: str, hosted_domain: str | None = None) -> Started:
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48)
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": SCOPE,
        "state": state,
        "nonce": nonce,
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }
    if hosted_domain:
        params["hd"] = hosted_domain  # Google's account chooser shows that domain's accounts only
    sep = "&" if "?" in metadata.authorization_endpoint else "?"
    return Started(metadata.authorization_endpoint + sep + urlencode(params), state, nonce, verifier)


def code_from_response(params: dict[str, str], *, metadata: Metadata) -> str:
    """The code of an authorization response, after the mix-up defence (RFC 9700 §4.4.2):
    `iss`, when sent, must be exactly the issuer this request went to; a provider that
    says it always sends it (RFC 9207 §3) must have sent it. Errors are checked after
    `iss`, since an error response could come from the wrong provider too."""
    iss = params.get("iss")
    if iss is not None and iss != metadata.issuer:
        raise UpstreamError("iss_mismatch", f"iss {iss[:100]!r} is not {metadata.issuer!r}")
    if iss is None and metadata.iss_parameter_supported:
        raise UpstreamError("iss_missing", "the provider sends iss, and this response has none")
    if params.get("error"):
        raise UpstreamError("denied", params["error"][:100])
    code = params.get("code")
    if not code:
        raise UpstreamError("no_code", "the response has neither code nor error")
    return code
