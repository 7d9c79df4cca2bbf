"""Interoperability with PyJWT as a resource server would use it: `PyJWKClient` against the
provider's JWKS verifies RFC 9068 access tokens before and after a signing-key rotation, and
the provider itself refuses forged tokens (HS256 keyed with its public key, alg none)."""

from __future__ import annotations

import base64
import json
import secrets
import time

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, hmac, serialization

from tests.interop.oidc_http import Browser, RelyingParty, get_json

pytestmark = pytest.mark.interop

REDIRECT_URI = "http://localhost:8080/pyjwt/cb"
#: RFC 9068 §2.2 and §4: the claims every JWT access token carries.
REQUIRED = ["iss", "exp", "aud", "sub", "client_id", "iat", "jti"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _segment(obj: dict) -> str:
    return _b64(json.dumps(obj, separators=(",", ":")).encode())


def _setup(live_server, *, public: bool = True) -> tuple[RelyingParty, str, str]:
    email = f"pyjwt-{secrets.token_hex(6)}@example.com"
    password = "pyjwt " + secrets.token_urlsafe(18)
    live_server.create_user(email, password)
    created = live_server.create_client(public=public, redirect_uri=REDIRECT_URI)
    rp = RelyingParty(
        issuer=live_server.url,
        client_id=created["client_id"],
        client_secret=created.get("client_secret"),
        redirect_uri=REDIRECT_URI,
    )
    return rp, email, password


def _verify_access_token(jwks_client: jwt.PyJWKClient, rp: RelyingParty, token: str) -> tuple[dict, dict]:
    """What a resource server does with an RFC 9068 token (§4): typ, signature, iss, aud, exp."""
    header = jwt.get_unverified_header(token)
    assert header.get("typ", "").lower() in ("at+jwt", "application/at+jwt"), header
    assert header["alg"] in rp.metadata["id_token_signing_alg_values_supported"], header
    signing_key = jwks_client.get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token,
        signing_key,  # a PyJWK: PyJWT also checks that the header's alg is the key's
        algorithms=[header["alg"]],
        audience=rp.issuer,
        issuer=rp.issuer,
        options={"require": REQUIRED, "verify_exp": True, "verify_iat": True},
    )
    assert claims["client_id"] == rp.client_id
    assert claims["exp"] > time.time()
    return header, claims


def test_pyjwkclient_verifies_access_tokens_across_key_rotation(live_server):
    started = time.monotonic()
    rp, email, password = _setup(live_server)
    tokens = rp.sign_in(Browser(), email, password)
    jwks_uri = rp.metadata["jwks_uri"]

    # A long-lived resource server: one PyJWKClient with PyJWT's default caching.
    resource_server = jwt.PyJWKClient(jwks_uri)
    old_header, old_claims = _verify_access_token(resource_server, rp, tokens["access_token"])
    old_kid = old_header["kid"]

    # The ID token verifies too (OIDC Core 3.1.3.7), with the client as audience.
    id_claims = jwt.decode(
        tokens["id_token"],
        resource_server.get_signing_key_from_jwt(tokens["id_token"]),
        algorithms=rp.metadata["id_token_signing_alg_values_supported"],
        audience=rp.client_id,
        issuer=rp.issuer,
        options={"require": ["iss", "sub", "aud", "exp", "iat"]},
    )
    assert id_claims["sub"] == old_claims["sub"] and id_claims["nonce"] == tokens["_nonce"]

    before = {k["kid"] for k in get_json(jwks_uri)["keys"]}
    assert old_kid in before
    rotated = live_server.cli_json("keys", "rotate")
    new_kid = rotated["kid"]
    assert new_kid != old_kid, rotated
    listed = {k["kid"]: k for k in live_server.cli_json("keys", "list")["keys"]}
    assert listed[old_kid]["state"] == "retired" and listed[new_kid]["state"] == "active", listed

    # Wait (each server process re-reads its keys within 30 s) until a token signed after the
    # rotation carries the new kid, and a JWKS answer reflects the rotation (its key set is no
    # longer the one published before it), using only what any client sees over HTTP.
    refresh_token = tokens["refresh_token"]
    new_token = refreshed_jwks = None
    # From the rotation, not the test's start: a sign-in on a loaded machine can take most of a minute.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (new_token is None or refreshed_jwks is None):
        if new_token is None:
            response = rp.refresh(refresh_token)
            assert response.status == 200, (response.status, response.text)
            body = response.json()
            refresh_token = body["refresh_token"]
            if jwt.get_unverified_header(body["access_token"])["kid"] != old_kid:
                new_token = body["access_token"]
        if refreshed_jwks is None:
            fresh = jwt.PyJWKClient(jwks_uri)
            jwk_set = fresh.get_jwk_set(refresh=True)
            if {k.key_id for k in jwk_set.keys} != before:
                refreshed_jwks = fresh
        if new_token is None or refreshed_jwks is None:
            time.sleep(0.5)
    assert new_token is not None, f"no token signed with the new key {time.monotonic() - started:.0f}s into the test"
    assert refreshed_jwks is not None, f"the JWKS still lists exactly the pre-rotation keys {sorted(before)}"

    # The JWKS after rotation lists the retired key (its tokens are still live) and the active one.
    published = {k["kid"] for k in get_json(jwks_uri)["keys"]}
    assert {old_kid, new_kid} <= published, (old_kid, new_kid, published)
    published_refreshed = {k.key_id for k in refreshed_jwks.get_jwk_set().keys}
    assert {old_kid, new_kid} <= published_refreshed, (old_kid, new_kid, published_refreshed)

    # A token signed before the rotation still verifies with a resource server that started
    # after it (a fresh PyJWKClient, whose JWKS came from a process that saw the rotation).
    _verify_access_token(refreshed_jwks, rp, tokens["access_token"])
    _verify_access_token(jwt.PyJWKClient(jwks_uri), rp, tokens["access_token"])

    # The token signed after the rotation verifies with the long-lived client (which looks
    # the JWKS up again when it meets a kid it does not know).
    new_header, new_claims = _verify_access_token(resource_server, rp, new_token)
    assert new_header["kid"] == new_kid, (new_header, new_kid)
    assert new_claims["sub"] == old_claims["sub"]
    assert rp.userinfo(new_token).status == 200
    assert rp.userinfo(tokens["access_token"]).status == 200


def _rejected(rp: RelyingParty, token: str, what: str) -> None:
    response = rp.userinfo(token)
    assert response.status == 401, f"{what}: userinfo answered {response.status} {response.text[:200]}"
    challenge = response.headers.get("www-authenticate", "")
    # RFC 6750 §3.1: a token that is malformed or fails verification is invalid_token.
    assert challenge.lower().startswith("bearer") and 'error="invalid_token"' in challenge, (what, challenge)


def test_forged_access_tokens_are_refused(live_server):
    rp, email, password = _setup(live_server)
    genuine = rp.sign_in(Browser(), email, password)["access_token"]
    assert rp.userinfo(genuine).status == 200  # the control: these claims are good ones

    header = jwt.get_unverified_header(genuine)
    claims = jwt.decode(genuine, options={"verify_signature": False})
    signing_input_claims = _segment(claims)
    jwks = get_json(rp.metadata["jwks_uri"])
    jwk = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    public_key = jwt.PyJWK(jwk).key

    # Algorithm confusion: HS256 with the public key as the shared secret, in the encodings a
    # naive verifier might hand to HMAC.
    secrets_to_try = {
        "SPKI PEM": public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        "SPKI DER": public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
        "JWK JSON": json.dumps(jwk).encode(),
    }
    if jwk["kty"] == "RSA":
        secrets_to_try["PKCS#1 PEM"] = public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
        )
    for name, secret in secrets_to_try.items():
        for variant in (secret, secret.strip()):
            forged_header = {**header, "alg": "HS256"}
            signing_input = f"{_segment(forged_header)}.{signing_input_claims}".encode()
            mac = hmac.HMAC(variant, hashes.SHA256())
            mac.update(signing_input)
            forged = f"{signing_input.decode()}.{_b64(mac.finalize())}"
            _rejected(rp, forged, f"HS256 keyed with the {name} public key")

    # alg none (RFC 7519 §6 unsecured JWT), in the spellings libraries have tripped over.
    for alg in ("none", "None", "NONE", "nOnE"):
        unsigned = f"{_segment({**header, 'alg': alg})}.{signing_input_claims}"
        _rejected(rp, unsigned + ".", f"alg {alg}")
        _rejected(rp, unsigned + "." + genuine.rsplit(".", 1)[1], f"alg {alg} with the genuine signature kept")

    # The genuine signature over other claims.
    tampered = {**claims, "scope": claims["scope"] + " admin", "exp": claims["exp"] + 3600}
    _rejected(rp, f"{genuine.split('.')[0]}.{_segment(tampered)}.{genuine.rsplit('.', 1)[1]}", "tampered claims")

    # And the genuine token still works: nothing above disturbed it.
    assert rp.userinfo(genuine).status == 200
