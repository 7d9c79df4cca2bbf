"""The token request (RFC 6749 §4.1.3) and the ID token's validation (OIDC Core 3.1.3.7)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from urllib.parse import quote, urlencode

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

from ..net import Http, NetError
from .errors import UpstreamError
from .metadata import Metadata

LEEWAY = 120  # seconds of clock difference tolerated on exp and iat


def exchange_code(
    http: Http, metadata: Metadata, *, code: str, verifier: str, redirect_uri: str, client_id: str, client_secret: str,
) -> dict:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier}
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    methods = metadata.token_endpoint_auth_methods
    if "client_secret_basic" in methods or "client_secret_post" not in methods:
        # RFC 6749 §2.3.1: id and secret are form-urlencoded before they are joined.
        pair = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    else:
        form.update(client_id=client_id, client_secret=client_secret)
    try:
        answer = http.request("POST", metadata.token_endpoint, body=urlencode(form).encode(), headers=headers)
        body = answer.json()
    except NetError as exc:
        raise UpstreamError("token", str(exc)) from None
    if answer.status != 200 or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else None
        raise UpstreamError("token", f"the token endpoint answered {answer.status} {str(error)[:100]}")
    if not isinstance(body.get("id_token"), str):
        raise UpstreamError("token", "no id_token in the token response")
    return body


def validate_id_token(
    token: str, *, keys: Callable[[str | None], KeySet], metadata: Metadata, client_id: str, nonce: str, now: int,
) -> dict:
    """The claims of a valid ID token, or UpstreamError naming the check that failed.
    `keys(kid)` gives the provider's key set (fetched again for an unknown kid)."""
    try:
        header = extract_compact(token.encode()).headers()
    except (JoseError, ValueError, TypeError) as exc:
        raise UpstreamError("id_token", f"malformed: {exc}") from None
    alg = header.get("alg")
    if alg not in metadata.id_token_algorithms:
        raise UpstreamError("id_token", f"signed with {alg!r}, not one of {list(metadata.id_token_algorithms)}")
    try:
        claims = dict(jwt.decode(token, keys(header.get("kid")), algorithms=[alg]).claims)
    except (JoseError, ValueError) as exc:
        raise UpstreamError("id_token", f"signature: {type(exc).__name__}") from None
    if claims.get("iss") != metadata.issuer:
        raise UpstreamError("iss_mismatch", f"the ID token's iss {str(claims.get('iss'))[:100]!r} is not {metadata.issuer!r}")
    audience = claims.get("aud")
    # One audience, us: an ID token meant for other clients too is refused (OIDC Core 3.1.3.7 §3).
    if audience != client_id and audience != [client_id]:
        raise UpstreamError("id_token", "the ID token is not for this client alone")
    if claims.get("azp") not in (None, client_id):
        raise UpstreamError("id_token", "azp names another client")
    if not isinstance(claims.get("exp"), int) or claims["exp"] + LEEWAY < now:
        raise UpstreamError("id_token", "expired")
    if not isinstance(claims.get("iat"), int) or claims["iat"] > now + LEEWAY:
        raise UpstreamError("id_token", "issued in the future")
    if claims.get("nonce") != nonce:
        raise UpstreamError("nonce_mismatch", "the ID token's nonce is not this sign-in's")
    if not isinstance(claims.get("sub"), str) or not claims["sub"] or len(claims["sub"]) > 255:
        raise UpstreamError("id_token", "no usable sub")
    return claims


def userinfo(http: Http, metadata: Metadata, *, access_token: str, subject: str) -> dict:
    """The UserInfo claims (OIDC Core 5.3), for providers that keep email out of the ID
    token; its `sub` must be the ID token's (5.3.4), or the answer is about someone else."""
    if not metadata.userinfo_endpoint:
        return {}
    try:
        claims = http.get_json(metadata.userinfo_endpoint, headers={"Authorization": f"Bearer {access_token}"})
    except NetError as exc:
        raise UpstreamError("userinfo", str(exc)) from None
    if not isinstance(claims, dict) or claims.get("sub") != subject:
        raise UpstreamError("userinfo", "the userinfo sub is not the ID token's")
    return claims
