"""The upstream client's checks as plain functions: the authorization response (RFC 9207)
and the ID token (OIDC Core 3.1.3.7), with tokens signed here by keys of the test's own."""

from __future__ import annotations

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey

from idp.upstream import authorization, tokens
from idp.upstream.client import Identity, identity
from idp.upstream.errors import UpstreamError
from idp.upstream.metadata import Metadata

NOW = 1_700_000_000
ISSUER = "https://accounts.example.com"
META = Metadata(ISSUER, ISSUER + "/auth", ISSUER + "/token", ISSUER + "/jwks", None, True,
                ("client_secret_basic",), ("RS256",))
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
OTHER = RSAKey.generate_key(2048, parameters={"kid": "k1"})


def sign(claims: dict | None = None, key=KEY, alg: str = "RS256", **changes) -> str:
    base = {"iss": ISSUER, "aud": "client", "sub": "s1", "iat": NOW, "exp": NOW + 300, "nonce": "n1"}
    base.update(claims or {})
    base.update(changes)
    return jwt.encode({"alg": alg, "kid": "k1"}, {k: v for k, v in base.items() if v is not None}, key)


def check(token: str) -> dict:
    return tokens.validate_id_token(token, keys=lambda kid: KeySet([KEY]), metadata=META, client_id="client",
                                    nonce="n1", now=NOW)


def test_a_good_id_token():
    assert check(sign())["sub"] == "s1"
    assert check(sign(aud=["client"]))["sub"] == "s1"


@pytest.mark.parametrize(
    "token, reason",
    [
        (sign(iss=ISSUER + "/"), "iss_mismatch"),  # exact string: no normalisation
        (sign(aud="someone-else"), "id_token"),
        (sign(aud=["client", "someone-else"]), "id_token"),
        (sign(azp="someone-else"), "id_token"),
        (sign(exp=NOW - 121), "id_token"),
        (sign(iat=NOW + 121), "id_token"),
        (sign(nonce="other"), "nonce_mismatch"),
        (sign(nonce=None), "nonce_mismatch"),
        (sign(sub=None), "id_token"),
        (sign(key=OTHER), "id_token"),  # a key the provider never published
        (sign(key=OctKey.import_key("s" * 32), alg="HS256"), "id_token"),  # symmetric: never
        ("e30.e30.", "id_token"),
        ("not a jwt", "id_token"),
    ],
)
def test_bad_id_tokens_are_refused(token, reason):
    with pytest.raises(UpstreamError) as refused:
        check(token)
    assert refused.value.reason == reason


def test_an_unsigned_token_is_refused():
    import base64
    import json

    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    token = part({"alg": "none"}) + "." + part({"iss": ISSUER, "aud": "client", "sub": "s", "nonce": "n1"}) + "."
    with pytest.raises(UpstreamError):
        check(token)


@pytest.mark.parametrize(
    "params, reason",
    [
        ({"code": "c", "iss": "https://evil.example"}, "iss_mismatch"),
        ({"code": "c"}, "iss_missing"),
        ({"error": "access_denied", "iss": ISSUER}, "denied"),
        ({"error": "access_denied", "iss": "https://evil.example"}, "iss_mismatch"),
        ({"iss": ISSUER}, "no_code"),
    ],
)
def test_authorization_responses(params, reason):
    with pytest.raises(UpstreamError) as refused:
        authorization.code_from_response(params, metadata=META)
    assert refused.value.reason == reason


def test_without_rfc_9207_a_missing_iss_is_tolerated():
    plain = Metadata(**{**META.__dict__, "iss_parameter_supported": False})
    assert authorization.code_from_response({"code": "c"}, metadata=plain) == "c"


def test_the_request_carries_pkce_s256_state_and_nonce():
    from urllib.parse import parse_qs, urlsplit

    started = authorization.start(META, client_id="client", redirect_uri="https://idp/cb", hosted_domain="corp.example")
    q = {k: v[0] for k, v in parse_qs(urlsplit(started.url).query).items()}
    assert q["code_challenge_method"] == "S256" and q["code_challenge"] == authorization.s256(started.verifier)
    assert q["state"] == started.state and q["nonce"] == started.nonce and q["hd"] == "corp.example"
    assert len(started.state) >= 32 and started.state != started.nonce


@pytest.mark.parametrize(
    "claims, mfa",
    [({"amr": ["pwd", "otp", "mfa"]}, True), ({"amr": ["pwd"]}, False),
     ({"acr": "http://schemas.openid.net/pape/policies/2007/06/multi-factor"}, True), ({}, False)],
)
def test_what_counts_as_an_upstream_mfa_assertion(claims, mfa):
    assert identity(META, {"sub": "s", **claims}).asserts_mfa is mfa


def test_email_verified_as_a_string_and_email_case():
    found = identity(META, {"sub": "s", "email": "A@Example.COM", "email_verified": "true"})
    assert found == Identity(ISSUER, "s", "a@example.com", True)


def test_domains():
    from idp.upstreams import domain_allowed

    google = lambda **c: Identity("https://accounts.google.com", "s", c.get("email", "x@corp.example"), True,  # noqa: E731
                                  hosted_domain=c.get("hd"))
    assert domain_allowed(google(hd="corp.example"), ("corp.example",))
    # A consumer Google account with a corp.example address has no hd: not the Workspace.
    assert not domain_allowed(google(), ("corp.example",))
    other = Identity(ISSUER, "s", "x@corp.example", True)
    assert domain_allowed(other, ("corp.example",)) and not domain_allowed(other, ("else.example",))
    assert domain_allowed(other, ())
