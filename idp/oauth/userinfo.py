"""The userinfo endpoint (OIDC Core §5.3): the person's claims for a valid access token,
the RFC 6750 §3.1 challenges otherwise, and RFC 9449 §7's proof for a DPoP-bound token."""

from __future__ import annotations

import json

from idp_resource.dpop import InvalidProof

from . import access, dpop
from .claims import claims_for
from .server import Answer


def answer(scheme: str, token: str | None, headers, method: str) -> tuple[Answer, dict | None]:  # noqa: ANN001
    """The answer, and the claims of the token it was for (None if refused), which decide
    the CORS origin. `scheme` is how the token came (Bearer or DPoP); `headers` carry the
    DPoP proof."""
    found = access.validate(token) if token else None
    if found is None or found.user is None:
        error = f'{scheme} error="invalid_token"' if token else 'Bearer realm="idp"'
        return Answer(401, b"", [("WWW-Authenticate", error)]), None
    refused = _dpop_refusal(scheme, token, found.claims, headers, method)
    if refused is not None:
        return Answer(401, b"", [("WWW-Authenticate", refused)]), None
    scopes = set(str(found.claims.get("scope", "")).split())
    if "openid" not in scopes:
        return Answer(403, b"", [("WWW-Authenticate", 'Bearer error="insufficient_scope", scope="openid"')]), found.claims
    body = json.dumps(claims_for(found.user, scopes)).encode()
    return Answer(200, body, [("Content-Type", "application/json"), ("Cache-Control", "no-store")]), found.claims


def _dpop_refusal(scheme: str, token: str, claims: dict, headers, method: str) -> str | None:  # noqa: ANN001
    """RFC 9449 §7: a DPoP-bound token needs the DPoP scheme and a proof of its key; a
    bearer token is not sent as DPoP. The challenge, or None when the request may go on."""
    cnf = claims.get("cnf")
    bound = cnf.get("jkt") if isinstance(cnf, dict) else None
    if bound is None and scheme == "Bearer":
        return None
    algs = " ".join(dpop.ALGS)
    if bound is None or scheme != "DPoP":
        return f'DPoP error="invalid_token", algs="{algs}"'
    try:
        proven = dpop.resource_request_key(headers, method, token, "/userinfo")
    except InvalidProof:
        return f'DPoP error="invalid_dpop_proof", algs="{algs}"'
    if proven != bound:
        return f'DPoP error="invalid_token", algs="{algs}"'
    return None


def presented_token(authorization: str, form_token: str | None) -> tuple[str, str | None]:
    """The scheme (Bearer or DPoP) and the access token: from the Authorization header, or
    a form-encoded POST's `access_token` (RFC 6750 §2.2)."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() in ("bearer", "dpop") and value.strip():
        return ("DPoP" if scheme.lower() == "dpop" else "Bearer"), value.strip()
    return "Bearer", form_token or None
