"""DPoP at the provider (RFC 9449): proofs at the token endpoint bind the access token
(`cnf.jkt`) and, for public clients, the refresh token's grant to the client's key; the
userinfo endpoint asks a DPoP-bound token for a proof of that key. The checks themselves
are idp_resource.dpop's; here: the request's URI, the replay cache and the errors.

Only requests that carry a proof, or clients registered with `--dpop`, pay for it: one
signature check and one Redis round trip."""

from __future__ import annotations

import re

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from flask import current_app
from idp_resource.dpop import LEEWAY, MAX_AGE, InvalidProof, Proof, verify_proof

from .. import clock
from ..store import proofs

#: Discovery's dpop_signing_alg_values_supported.
ALGS = ["ES256", "RS256", "EdDSA"]
_THUMBPRINT = re.compile(r"[A-Za-z0-9_-]{43}")
_UNVERIFIED = object()


class InvalidDpopProof(OAuth2Error):
    """RFC 9449 §5: the token endpoint's answer to a missing or bad proof."""

    error = "invalid_dpop_proof"
    status_code = 400


def _proof(headers, method: str, path: str, access_token: str | None = None) -> Proof | None:  # noqa: ANN001
    values = headers.getlist("DPoP")
    if not values:
        return None
    if len(values) > 1:
        raise InvalidProof("exactly one DPoP header is allowed")
    proof = verify_proof(values[0], method=method, uri=current_app.config["IDP_ISSUER"] + path,
                         now=clock.now(), access_token=access_token)
    if not proofs.first_use(proof.jkt, proof.jti, MAX_AGE + LEEWAY):
        raise InvalidProof("the DPoP proof was used before")
    return proof


def check_jkt_parameter(value: str | None) -> None:
    """`dpop_jkt` at the authorization endpoint (RFC 9449 §10): an RFC 7638 SHA-256
    thumbprint, base64url without padding; raises InvalidRequestError."""
    if value is not None and not _THUMBPRINT.fullmatch(value):
        raise InvalidRequestError("dpop_jkt must be a JWK SHA-256 thumbprint (43 base64url characters)")


def token_request_key(request, *, required: bool, bound_to: str | None) -> str | None:  # noqa: ANN001
    """The thumbprint a token request proves possession of (None without a proof); the
    proof is required for a client registered with `--dpop`, for a DPoP-bound grant and
    for a code requested with `dpop_jkt`, whose key it must match.

    The proof is verified once per request, and its key remembered on it: its first
    verification spends its jti, so a second check in the same request (a refresh that
    first tries its one statement, oauth.grants) must not find it used."""
    jkt = getattr(request, "dpop_proven_jkt", _UNVERIFIED)
    if jkt is _UNVERIFIED:
        try:
            proof = _proof(request.headers, request.method, "/token")
        except InvalidProof as exc:
            raise InvalidDpopProof(description=exc.description) from None
        jkt = request.dpop_proven_jkt = proof.jkt if proof is not None else None
    if jkt is None and (required or bound_to):
        raise InvalidDpopProof(description="a DPoP proof is required for this client")
    if bound_to and jkt is not None and jkt != bound_to:
        raise InvalidDpopProof(description="the grant is bound to another DPoP key")
    return jkt


def resource_request_key(headers, method: str, access_token: str, path: str) -> str | None:  # noqa: ANN001
    """The key proven for a resource request with `Authorization: DPoP …`; raises InvalidProof."""
    proof = _proof(headers, method, path, access_token)
    if proof is None:
        raise InvalidProof("a DPoP proof is required with a DPoP token")
    return proof.jkt
