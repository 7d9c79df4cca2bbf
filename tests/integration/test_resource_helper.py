"""idp_resource (resource/), the resource-server helper: the pure parts (check_authentication,
www_authenticate), the verifier against tokens the provider's test app issues, and the Flask
decorator on a tiny API whose JwksCache reads the provider's /jwks.json through the test
client (no network)."""

from __future__ import annotations

import ast
import base64
import hashlib
import hmac
import json
import secrets
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask, g
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc.jwk import ECKey, RSAKey

from idp import clock
from idp_resource import access_token, jwks as jwks_module
from idp_resource import (
    AccessTokenVerifier,
    InvalidToken,
    JwksCache,
    KeySetUnavailable,
    ResourceServer,
    Shortfall,
    check_authentication,
    www_authenticate,
)
from tests.helpers import add_totp

ISSUER = "http://localhost"  # tests/conftest.py's IDP_ISSUER, and so the default audience


def b64(data) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def segments(token: str) -> tuple[dict, dict, str]:
    header, payload, signature = token.split(".")
    decode = lambda s: json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))  # noqa: E731
    return decode(header), decode(payload), signature


def bearer(token: str, scheme: str = "Bearer") -> dict:
    return {"Authorization": f"{scheme} {token}"}


def challenge_params(value: str) -> dict[str, str]:
    """Parse `Bearer k="v", k2="v2"` (RFC 7235 §2.1, as RFC 6750 uses it)."""
    scheme, _, rest = value.partition(" ")
    assert scheme in ("Bearer", "DPoP"), value
    params = {}
    for item in filter(None, (p.strip() for p in rest.split('", '))):
        name, _, quoted = item.partition("=")
        params[name] = quoted.strip('"')
    return params


class FakeMonotonic:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class ProviderJwks:
    """A fetch function for JwksCache that reads the provider's JWKS through the test client."""

    def __init__(self, http, delay: float = 0) -> None:
        self.http, self.delay, self.urls = http, delay, []
        self._lock = threading.Lock()

    def __call__(self, url: str) -> dict:
        with self._lock:
            self.urls.append(url)
        if self.delay:
            time.sleep(self.delay)
        response = self.http.get(urlsplit(url).path)
        assert response.status_code == 200
        return response.get_json()


def rotate(app) -> str:
    result = app.test_cli_runner().invoke(args=["keys", "rotate", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["kid"]


# --- check_authentication (pure) --------------------------------------------------------

NOW = 1_700_000_000


@pytest.mark.parametrize(("token_acr", "required", "ok"), [
    ("pwd", None, True),
    ("pwd", "pwd", True),
    ("pwd", "mfa", False),
    ("mfa", "mfa", True),
    ("phr", "mfa", True),   # pwd < mfa < phr: stronger satisfies weaker
    ("phr", "phr", True),
    ("mfa", "phr", False),
    (None, "pwd", False),   # e.g. a client-credentials token: nobody authenticated
    ("urn:example:gold", "pwd", False),  # a level we cannot place in the order
    (["mfa"], "mfa", False),
])
def test_check_authentication_acr(token_acr, required, ok):
    claims = {"auth_time": NOW} if token_acr is None else {"acr": token_acr, "auth_time": NOW}
    result = check_authentication(claims, acr=required, now=NOW)
    assert result == (None if ok else Shortfall(acr=required))


@pytest.mark.parametrize(("age", "ok"), [(0, True), (299, True), (300, True), (301, False), (86400, False)])
def test_check_authentication_max_age(age, ok):
    result = check_authentication({"acr": "mfa", "auth_time": NOW - age}, max_age=300, now=NOW)
    assert result == (None if ok else Shortfall(max_age=300))


@pytest.mark.parametrize("auth_time", [None, "1700000000", True])
def test_check_authentication_max_age_needs_a_numeric_auth_time(auth_time):
    claims = {"acr": "mfa"} if auth_time is None else {"acr": "mfa", "auth_time": auth_time}
    assert check_authentication(claims, max_age=3600, now=NOW) == Shortfall(max_age=3600)
    assert check_authentication(claims, now=NOW) is None  # no requirement, no shortfall


def test_check_authentication_reports_both_shortfalls():
    result = check_authentication({"acr": "pwd", "auth_time": NOW - 400}, acr="mfa", max_age=300, now=NOW)
    assert result == Shortfall(acr="mfa", max_age=300)
    assert "stronger" in result.description and "recent" in result.description
    assert check_authentication({"acr": "phr", "auth_time": NOW - 10}, acr="mfa", max_age=300, now=NOW) is None


@pytest.mark.parametrize("kwargs", [{"acr": "gold"}, {"max_age": -1}, {"max_age": "300"}])
def test_check_authentication_refuses_nonsense_requirements(kwargs):
    with pytest.raises(ValueError):
        check_authentication({"acr": "phr", "auth_time": NOW}, now=NOW, **kwargs)


# --- www_authenticate (pure) -------------------------------------------------------------

def test_www_authenticate_values():
    assert www_authenticate(None) == "Bearer"  # RFC 6750 §3.1: no token, no error code
    assert www_authenticate("invalid_token", "The token has expired") == (
        'Bearer error="invalid_token", error_description="The token has expired"'
    )
    assert www_authenticate(
        "insufficient_user_authentication", "A stronger authentication is required", acr_values="mfa", max_age=300
    ) == (
        'Bearer error="insufficient_user_authentication", '
        'error_description="A stronger authentication is required", acr_values="mfa", max_age="300"'
    )
    # RFC 9470 §3's second example: only max_age.
    assert www_authenticate("insufficient_user_authentication", max_age=5) == (
        'Bearer error="insufficient_user_authentication", max_age="5"'
    )
    assert www_authenticate("insufficient_scope", scope=["payments", "profile"]) == (
        'Bearer error="insufficient_scope", scope="payments profile"'
    )
    assert www_authenticate("insufficient_user_authentication", acr_values=["phr", "mfa"]) == (
        'Bearer error="insufficient_user_authentication", acr_values="phr mfa"'
    )
    assert www_authenticate(None, realm="api") == 'Bearer realm="api"'


def test_www_authenticate_description_never_breaks_the_header():
    value = www_authenticate("invalid_token", 'bad "kid" \\ here\r\nSet-Cookie: x=1\tend é')
    desc = challenge_params(value)["error_description"]
    assert desc == "bad kid here Set-Cookie: x=1 end"
    assert '"' not in desc and "\\" not in desc and "\n" not in desc and "\r" not in desc
    assert value.count('"') == 4  # only the quotes around the two values


def test_www_authenticate_refuses_unquotable_values():
    with pytest.raises(ValueError):
        www_authenticate("invalid_token", acr_values='mfa"')
    with pytest.raises(ValueError):
        www_authenticate("insufficient_user_authentication", max_age=-5)


def test_core_imports_no_framework_at_module_level():
    """The verification core is framework-free: the package's module-level imports are the
    standard library, joserfc and its own modules (Flask only inside the decorator)."""
    package = Path(access_token.__file__).parent
    imported = set()
    for module in package.glob("*.py"):
        for node in ast.parse(module.read_text()).body:
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module.split(".")[0])
    assert imported <= {
        "__future__", "base64", "binascii", "http", "json", "threading", "time", "urllib", "collections",
        "dataclasses", "functools", "typing", "joserfc", "hashlib",
    }, imported


def test_the_helper_loads_nothing_of_the_provider():
    code = "import sys, idp_resource; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for heavy in ("idp", "flask", "flask_sqlalchemy", "sqlalchemy", "redis", "argon2", "authlib"):
        assert f"'{heavy}'" not in loaded, loaded


def test_the_helper_is_a_distribution_of_its_own():
    """resource/pyproject.toml packages only idp_resource and asks only for joserfc (Flask
    as an extra); with the import checks above, that is all an API installs."""
    root = Path(access_token.__file__).parent.parent
    project = tomllib.loads((root / "pyproject.toml").read_text())
    assert project["tool"]["setuptools"]["packages"] == ["idp_resource"]
    assert [d.split(">")[0] for d in project["project"]["dependencies"]] == ["joserfc"]
    assert project["project"]["optional-dependencies"] == {"flask": ["Flask>=3.1"]}


# --- the API under test ----------------------------------------------------------------

@pytest.fixture
def jwks_source(client):
    return ProviderJwks(client)


@pytest.fixture
def monotonic():
    return FakeMonotonic()


@pytest.fixture
def rs(jwks_source, monotonic):
    cache = JwksCache(ISSUER + "/jwks.json", fetch=jwks_source, monotonic=monotonic)
    return ResourceServer(ISSUER, jwks=cache)


@pytest.fixture
def api(rs):
    app = Flask("api")

    def who():
        return {"sub": g.token_claims["sub"], "acr": g.token_claims.get("acr")}

    @app.get("/profile")
    @rs.require_token()
    def profile():
        return who()

    @app.get("/admin")
    @rs.require_token(acr="mfa")
    def admin():
        return who()

    @app.post("/payment")
    @rs.require_token(acr="mfa", max_age=300)
    def payment():
        return who()

    @app.get("/mail")
    @rs.require_token(scope="email profile")
    def mail():
        return who()

    @app.get("/offline")
    @rs.require_token(scope="offline_access", acr="mfa")
    def offline():
        return who()

    return app.test_client()


@pytest.fixture
def tokens(actions, user, spa):
    """A password-only sign-in (acr pwd), without offline_access."""
    return actions.tokens(spa, scope="openid profile email")


@pytest.fixture
def mfa_tokens(app, actions, user, spa):
    secret = add_totp(app, user.id)
    body = actions.tokens(spa, totp_secret=secret, scope="openid profile email")
    assert segments(body["access_token"])[1]["acr"] == "mfa"
    return body


def assert_invalid_token(response, *, containing: str | None = None):
    assert response.status_code == 401, response.get_data(as_text=True)
    challenge = response.headers["WWW-Authenticate"]
    params = challenge_params(challenge)
    assert params["error"] == "invalid_token", challenge
    if containing:
        assert containing in params["error_description"], challenge
    assert response.get_json()["error"] == "invalid_token"


# --- valid tokens ---------------------------------------------------------------------------

@pytest.mark.parametrize("settings", [
    {"IDP_SIGNING_ALG": "RS256"}, {"IDP_SIGNING_ALG": "ES256"}, {"IDP_SIGNING_ALG": "EdDSA"},
], ids=["RS256", "ES256", "EdDSA"])
def test_valid_token(api, tokens, user, jwks_source, settings):
    header, claims, _ = segments(tokens["access_token"])
    assert header["alg"] == settings["IDP_SIGNING_ALG"] and header["typ"] == "at+jwt"
    response = api.get("/profile", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"sub": user.subject, "acr": "pwd"}
    assert jwks_source.urls == [ISSUER + "/jwks.json"]  # the default jwks_uri, fetched once
    api.get("/profile", headers=bearer(tokens["access_token"]))
    assert len(jwks_source.urls) == 1  # then cached


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "BeArEr"])
def test_scheme_name_is_case_insensitive(api, tokens, scheme):
    # RFC 9110 §11.1: auth schemes are case-insensitive tokens.
    assert api.get("/profile", headers=bearer(tokens["access_token"], scheme)).status_code == 200


def test_token_claims_are_what_the_view_sees(rs, tokens, user, spa):
    app = Flask("claims")
    seen = {}

    @app.get("/")
    @rs.require_token()
    def view():
        seen.update(g.token_claims)
        return "ok"

    assert app.test_client().get("/", headers=bearer(tokens["access_token"])).status_code == 200
    assert seen["sub"] == user.subject and seen["client_id"] == spa.client_id and seen["iss"] == ISSUER
    assert seen["aud"] == ISSUER and set(seen["amr"]) == {"pwd"}


# --- no token, malformed requests -------------------------------------------------------

@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic YWxpY2U6c2VjcmV0"}, {"Authorization": ""}])
def test_missing_token(api, headers):
    response = api.get("/profile", headers=headers)
    assert response.status_code == 401
    # RFC 6750 §3.1: "If the request lacks any authentication information ... SHOULD NOT
    # include an error code".
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "error" not in response.get_json()


@pytest.mark.parametrize("value", ["Bearer", "Bearer ", "Bearer a b"])
def test_malformed_authorization_header(api, value):
    response = api.get("/profile", headers={"Authorization": value})
    assert response.status_code == 400
    assert challenge_params(response.headers["WWW-Authenticate"])["error"] == "invalid_request"


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "a.b.c.d.e", b64({"alg": "RS256"}) + ".e30.", "..."])
def test_garbage_tokens(api, token):
    assert_invalid_token(api.get("/profile", headers=bearer(token)))


# --- invalid tokens -----------------------------------------------------------------------

def test_expired(api, tokens, monkeypatch):
    exp = segments(tokens["access_token"])[1]["exp"]
    monkeypatch.setattr(access_token, "_now", lambda: exp - 1)
    assert api.get("/profile", headers=bearer(tokens["access_token"])).status_code == 200
    monkeypatch.setattr(access_token, "_now", lambda: exp)  # RFC 7519 §4.1.4: "on or after"
    assert_invalid_token(api.get("/profile", headers=bearer(tokens["access_token"])), containing="expired")


def test_leeway_absorbs_clock_skew(client, tokens):
    exp = segments(tokens["access_token"])[1]["exp"]
    cache = JwksCache(ISSUER + "/jwks.json", fetch=ProviderJwks(client))
    skewed = AccessTokenVerifier(ISSUER, ISSUER, cache, leeway=30, clock=lambda: exp + 29)
    assert skewed.verify(tokens["access_token"])["exp"] == exp
    late = AccessTokenVerifier(ISSUER, ISSUER, cache, leeway=30, clock=lambda: exp + 30)
    with pytest.raises(InvalidToken, match="expired"):
        late.verify(tokens["access_token"])


def test_wrong_audience(jwks_source, tokens):
    cache = JwksCache(ISSUER + "/jwks.json", fetch=jwks_source)
    app = Flask("other-api")
    other = ResourceServer(ISSUER, "https://api.example.com", jwks=cache)

    @app.get("/")
    @other.require_token()
    def view():
        return "ok"

    assert_invalid_token(app.test_client().get("/", headers=bearer(tokens["access_token"])), containing="audience")


@pytest.mark.parametrize("settings", [{"IDP_ACCESS_TOKEN_AUDIENCE": "https://api.example.com"}])
def test_configured_audience(api, jwks_source, tokens):
    # The provider issues tokens for another audience: our API (audience = issuer) refuses them...
    assert segments(tokens["access_token"])[1]["aud"] == "https://api.example.com"
    assert_invalid_token(api.get("/profile", headers=bearer(tokens["access_token"])), containing="audience")
    # ... and the API that is that audience accepts them.
    verifier = AccessTokenVerifier(ISSUER, "https://api.example.com", JwksCache(ISSUER + "/jwks.json", fetch=jwks_source))
    assert verifier.verify(tokens["access_token"])["aud"] == "https://api.example.com"


@pytest.mark.parametrize("issuer", ["http://localhost:5000", "http://localhost/", "https://localhost", "HTTP://LOCALHOST"])
def test_wrong_issuer(jwks_source, tokens, issuer):
    cache = JwksCache(ISSUER + "/jwks.json", fetch=jwks_source)
    verifier = AccessTokenVerifier(issuer, ISSUER, cache)  # audience right, issuer not
    with pytest.raises(InvalidToken, match="issuer"):
        verifier.verify(tokens["access_token"])


def test_id_token_is_refused(api, tokens):
    # Same issuer, same keys, valid signature: but typ JWT, not at+jwt (RFC 9068 §4).
    header, claims, _ = segments(tokens["id_token"])
    assert header["typ"] == "JWT"
    assert_invalid_token(api.get("/profile", headers=bearer(tokens["id_token"])), containing="typ")


def test_alg_none_is_refused(api, tokens):
    header, _, signature = segments(tokens["access_token"])
    payload = tokens["access_token"].split(".")[1]
    for alg in ("none", "None", "NONE", "nOnE"):
        unsigned = f"{b64({**header, 'alg': alg})}.{payload}"
        assert_invalid_token(api.get("/profile", headers=bearer(unsigned + ".")), containing="algorithm")
        assert_invalid_token(api.get("/profile", headers=bearer(f"{unsigned}.{signature}")))
    assert api.get("/profile", headers=bearer(tokens["access_token"])).status_code == 200  # the control


def test_hs256_keyed_with_the_public_key_is_refused(api, client, tokens):
    header, _, _ = segments(tokens["access_token"])
    payload = tokens["access_token"].split(".")[1]
    jwk = next(k for k in client.get("/jwks.json").get_json()["keys"] if k["kid"] == header["kid"])
    public_pem = RSAKey.import_key(jwk).as_pem(private=False)
    for alg, digest in (("HS256", hashlib.sha256), ("HS384", hashlib.sha384), ("HS512", hashlib.sha512)):
        forged_header = b64({**header, "alg": alg})
        for secret in (json.dumps(jwk).encode(), jwk["n"].encode(), public_pem, public_pem.strip()):
            signing_input = f"{forged_header}.{payload}".encode()
            mac = b64(hmac.new(secret, signing_input, digest).digest())
            assert_invalid_token(
                api.get("/profile", headers=bearer(f"{signing_input.decode()}.{mac}")), containing="algorithm"
            )


def test_tampered_claims_are_refused(api, tokens):
    header, payload, signature = tokens["access_token"].split(".")
    _, claims, _ = segments(tokens["access_token"])
    forged = f"{header}.{b64({**claims, 'acr': 'phr'})}.{signature}"
    assert_invalid_token(api.get("/admin", headers=bearer(forged)), containing="signature")


def test_a_key_of_the_wrong_type_for_the_alg_is_refused(client, tokens):
    # The token says ES256 while its kid names the provider's RSA key: refused before any
    # cryptography (RFC 8725 §3.1: the key decides the algorithm, not the token).
    header, _, signature = segments(tokens["access_token"])
    payload = tokens["access_token"].split(".")[1]
    forged = f"{b64({**header, 'alg': 'ES256'})}.{payload}.{signature}"
    verifier = AccessTokenVerifier(ISSUER, ISSUER, JwksCache(ISSUER + "/jwks.json", fetch=ProviderJwks(client)))
    with pytest.raises(InvalidToken, match="no key"):
        verifier.verify(forged)


# --- tokens we sign ourselves: the claim checks one by one ------------------------------

class OwnKeys:
    """A JWKS of our own, to mint tokens with any header and claims."""

    def __init__(self) -> None:
        self.key = ECKey.generate_key("P-256", private=True)
        self.kid = "own-" + secrets.token_hex(4)
        self.fetches = 0

    def __call__(self, url: str) -> dict:
        self.fetches += 1
        return {"keys": [self.key.as_dict(private=False, kid=self.kid, alg="ES256", use="sig")]}

    def sign(self, claims: dict, **header) -> str:
        """Sign by hand (joserfc would refuse to produce the odd headers we test)."""
        head = {"alg": "ES256", "typ": "at+jwt", "kid": self.kid, **header}
        head = {k: v for k, v in head.items() if v is not None}
        signing_input = f"{b64(head)}.{b64(claims)}".encode()
        der = self.key.private_key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{signing_input.decode()}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def good_claims(**changes) -> dict:
    claims = {
        "iss": ISSUER, "sub": "s1", "aud": ISSUER, "client_id": "c1", "scope": "openid",
        "jti": "j1", "iat": NOW - 10, "exp": NOW + 290,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.fixture
def own():
    return OwnKeys()


@pytest.fixture
def own_verifier(own):
    return AccessTokenVerifier(ISSUER, ISSUER, JwksCache("x", fetch=own), clock=lambda: NOW)


def test_own_tokens_baseline(own, own_verifier):
    assert own_verifier.verify(own.sign(good_claims()))["sub"] == "s1"
    assert own_verifier.verify(own.sign(good_claims(), typ="application/at+jwt"))["sub"] == "s1"
    assert own_verifier.verify(own.sign(good_claims(), typ="AT+JWT"))["sub"] == "s1"
    assert own_verifier.verify(own.sign(good_claims(aud=["https://other", ISSUER])))["sub"] == "s1"
    assert own_verifier.verify(own.sign(good_claims(nbf=NOW)))["sub"] == "s1"
    assert own_verifier.verify(own.sign(good_claims(), kid=None))["sub"] == "s1"  # one key: unambiguous


@pytest.mark.parametrize(("claims", "header", "message"), [
    (good_claims(aud=["https://other"]), {}, "audience"),
    (good_claims(aud=None), {}, "lacks aud"),
    (good_claims(jti=None, client_id=None), {}, "lacks client_id, jti"),
    (good_claims(exp=None), {}, "lacks exp"),
    (good_claims(iat=None), {}, "lacks iat"),
    (good_claims(exp="9999999999"), {}, "numbers"),
    (good_claims(nbf=NOW + 1), {}, "not valid yet"),
    (good_claims(iat=NOW + 60), {}, "future"),
    (good_claims(), {"typ": None}, "typ"),
    (good_claims(), {"typ": "JWT"}, "typ"),
    (good_claims(), {"typ": "at+jwt+x"}, "typ"),
    (good_claims(), {"kid": 42}, "kid"),
    (good_claims(), {"crit": ["exp"], "exp": 1}, "cannot be verified"),  # an extension we do not understand
])
def test_own_tokens_refused(own, own_verifier, claims, header, message):
    with pytest.raises(InvalidToken, match=message):
        own_verifier.verify(own.sign(claims, **header))


# --- step-up: RFC 9470 ---------------------------------------------------------------------

def test_pwd_token_on_admin_gets_the_rfc9470_challenge(api, tokens):
    response = api.get("/admin", headers=bearer(tokens["access_token"]))
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge == (
        'Bearer error="insufficient_user_authentication", '
        'error_description="A stronger authentication is required", acr_values="mfa"'
    )
    assert response.get_json()["error"] == "insufficient_user_authentication"
    # The payment route names all it needs, so one new sign-in meets both.
    response = api.post("/payment", headers=bearer(tokens["access_token"]))
    assert response.status_code == 401
    params = challenge_params(response.headers["WWW-Authenticate"])
    assert params["error"] == "insufficient_user_authentication"
    assert params["acr_values"] == "mfa" and params["max_age"] == "300"
    # and the token is otherwise fine
    assert api.get("/profile", headers=bearer(tokens["access_token"])).status_code == 200


def test_mfa_token_passes(api, mfa_tokens, user):
    at = mfa_tokens["access_token"]
    assert api.get("/admin", headers=bearer(at)).get_json() == {"sub": user.subject, "acr": "mfa"}
    assert api.post("/payment", headers=bearer(at)).status_code == 200


@pytest.mark.parametrize("settings", [{"IDP_ACCESS_TOKEN_TTL": 3600}])
def test_max_age_shortfall(api, mfa_tokens, monkeypatch):
    at = mfa_tokens["access_token"]
    auth_time = segments(at)[1]["auth_time"]
    monkeypatch.setattr(access_token, "_now", lambda: auth_time + 300)
    assert api.post("/payment", headers=bearer(at)).status_code == 200
    monkeypatch.setattr(access_token, "_now", lambda: auth_time + 301)
    response = api.post("/payment", headers=bearer(at))
    assert response.status_code == 401, response.get_json()
    params = challenge_params(response.headers["WWW-Authenticate"])
    assert params == {
        "error": "insufficient_user_authentication",
        "error_description": "A more recent authentication is required",
        "acr_values": "mfa",
        "max_age": "300",
    }
    # Routes without max_age do not care how old the sign-in is.
    assert api.get("/admin", headers=bearer(at)).status_code == 200


def test_insufficient_scope(api, actions, user, spa):
    narrow = actions.tokens(spa, scope="openid email")["access_token"]
    response = api.get("/mail", headers=bearer(narrow))
    assert response.status_code == 403
    params = challenge_params(response.headers["WWW-Authenticate"])
    assert params["error"] == "insufficient_scope" and params["scope"] == "email profile"
    wide = actions.tokens(spa, scope="openid email profile")["access_token"]
    assert api.get("/mail", headers=bearer(wide)).status_code == 200


def test_authentication_is_checked_before_scope(api, tokens, mfa_tokens):
    # Neither token has offline_access; the pwd one falls short on authentication first
    # (401 before 403), the mfa one only on scope.
    for body in (tokens, mfa_tokens):
        assert "offline_access" not in segments(body["access_token"])[1]["scope"].split()
    response = api.get("/offline", headers=bearer(tokens["access_token"]))
    assert response.status_code == 401
    assert challenge_params(response.headers["WWW-Authenticate"])["acr_values"] == "mfa"
    response = api.get("/offline", headers=bearer(mfa_tokens["access_token"]))
    assert response.status_code == 403
    assert challenge_params(response.headers["WWW-Authenticate"])["scope"] == "offline_access"


def test_require_token_refuses_unknown_levels(rs):
    with pytest.raises(ValueError):
        rs.require_token(acr="gold")


# --- the key set: refetch on unknown kid, rate limit, failures ----------------------------

def test_unknown_kid_refetches_once_and_rate_limits(app, actions, user, spa, client, monotonic):
    source = ProviderJwks(client)
    cache = JwksCache(ISSUER + "/jwks.json", fetch=source, monotonic=monotonic, ttl=300, min_refetch_interval=10)
    verifier = AccessTokenVerifier(ISSUER, ISSUER, cache)
    first = actions.tokens(spa)["access_token"]
    assert verifier.verify(first) and cache.fetch_count == 1

    # One rotation: the new active key was already published as `next`, so no fetch at all.
    kid1 = rotate(app)
    second = actions.tokens(spa)["access_token"]
    assert segments(second)[0]["kid"] == kid1 != segments(first)[0]["kid"]
    assert verifier.verify(second) and cache.fetch_count == 1

    # A second rotation activates a key published after our copy was fetched: unknown kid,
    # so one fetch, even though the cache is far from its ttl.
    monotonic.t += 11
    kid2 = rotate(app)
    third = actions.tokens(spa)["access_token"]
    assert segments(third)[0]["kid"] == kid2
    assert verifier.verify(third)["sub"] == user.subject
    assert cache.fetch_count == 2
    assert verifier.verify(first) and verifier.verify(third) and cache.fetch_count == 2  # old key still published

    # Made-up kids (validly signed with a key of the forger's): at most one fetch every
    # min_refetch_interval seconds, however many such tokens arrive.
    forger = OwnKeys()
    _, claims, _ = segments(third)
    for i in range(50):
        with pytest.raises(InvalidToken, match="kid"):
            verifier.verify(forger.sign(claims, kid=f"made-up-{i}"))
    assert cache.fetch_count == 2  # the last fetch was 0 s ago (the refetch for kid2)
    monotonic.t += 10
    for i in range(50):
        with pytest.raises(InvalidToken, match="kid"):
            verifier.verify(forger.sign(claims, kid=f"again-{i}"))
    assert cache.fetch_count == 3
    assert verifier.verify(third) and cache.fetch_count == 3


def test_concurrent_unknown_kid_fetches_once(app, actions, spa, user, client):
    source = ProviderJwks(client, delay=0.2)
    monotonic = FakeMonotonic()
    cache = JwksCache(ISSUER + "/jwks.json", fetch=source, monotonic=monotonic)
    verifier = AccessTokenVerifier(ISSUER, ISSUER, cache)
    assert verifier.verify(actions.tokens(spa)["access_token"])
    rotate(app)
    rotate(app)
    monotonic.t += 60
    token = actions.tokens(spa)["access_token"]
    results: list = []
    barrier = threading.Barrier(8)

    def worker():
        barrier.wait()
        try:
            results.append(verifier.verify(token)["sub"])
        except Exception as exc:  # noqa: BLE001
            results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == [user.subject] * 8
    assert cache.fetch_count == 2 and len(source.urls) == 2


def test_ttl_expiry_refetches(client, tokens, monotonic):
    source = ProviderJwks(client)
    cache = JwksCache(ISSUER + "/jwks.json", fetch=source, monotonic=monotonic, ttl=300)
    verifier = AccessTokenVerifier(ISSUER, ISSUER, cache)
    verifier.verify(tokens["access_token"])
    monotonic.t += 299
    verifier.verify(tokens["access_token"])
    assert cache.fetch_count == 1
    monotonic.t += 1
    verifier.verify(tokens["access_token"])
    assert cache.fetch_count == 2


def test_fetch_failures(client, tokens, monotonic):
    source = ProviderJwks(client)
    down = {"now": False}

    def flaky(url):
        if down["now"]:
            raise OSError("connection refused")
        return source(url)

    cache = JwksCache(ISSUER + "/jwks.json", fetch=flaky, monotonic=monotonic, ttl=300, min_refetch_interval=10)
    verifier = AccessTokenVerifier(ISSUER, ISSUER, cache)
    verifier.verify(tokens["access_token"])
    down["now"] = True
    monotonic.t += 400  # stale, and the provider is unreachable: keep the keys we have
    assert verifier.verify(tokens["access_token"]) and cache.fetch_count == 2
    assert verifier.verify(tokens["access_token"]) and cache.fetch_count == 2  # no retry within 10 s
    monotonic.t += 10
    assert verifier.verify(tokens["access_token"]) and cache.fetch_count == 3

    # Never fetched and unreachable: nothing to verify with. Not the token's fault.
    # Nor is the provider asked again on every request while it is down.
    empty = JwksCache(ISSUER + "/jwks.json", fetch=flaky, monotonic=monotonic, min_refetch_interval=10)
    for _ in range(5):
        with pytest.raises(KeySetUnavailable):
            AccessTokenVerifier(ISSUER, ISSUER, empty).verify(tokens["access_token"])
    assert empty.fetch_count == 1
    monotonic.t += 10
    down["now"] = False
    assert AccessTokenVerifier(ISSUER, ISSUER, empty).verify(tokens["access_token"])
    assert empty.fetch_count == 2


def test_jwks_unreachable_is_503_not_invalid_token(tokens):
    def refuse(url):
        raise OSError("connection refused")

    rs = ResourceServer(ISSUER, fetch=refuse)
    app = Flask("down")

    @app.get("/")
    @rs.require_token()
    def view():
        return "ok"

    response = app.test_client().get("/", headers=bearer(tokens["access_token"]))
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert "WWW-Authenticate" not in response.headers


def test_discovery_finds_the_jwks_uri(client, tokens):
    seen = []

    def fetch(url):
        seen.append(url)
        return client.get(urlsplit(url).path).get_json()

    rs = ResourceServer(ISSUER, discover=True, fetch=fetch)
    assert rs.verifier.verify(tokens["access_token"])["iss"] == ISSUER
    assert seen == [ISSUER + "/.well-known/openid-configuration", ISSUER + "/jwks.json"]
    # A discovery document for another issuer is refused (OIDC Discovery §4.3).
    impostor = ResourceServer("http://localhost:9", discover=True, fetch=fetch)
    with pytest.raises(KeySetUnavailable):
        impostor.verifier.verify(tokens["access_token"])


def test_jwks_uri_must_be_http():
    with pytest.raises(ValueError):
        jwks_module.fetch_json("file:///etc/passwd")


def test_a_jwks_with_private_keys_or_junk_is_filtered(tokens, client):
    jwks = client.get("/jwks.json").get_json()
    private = RSAKey.generate_key(2048, private=True).as_dict(private=True, kid="leaked")
    polluted = {"keys": [{"kty": "unknown"}, "junk", private, *jwks["keys"]]}
    verifier = AccessTokenVerifier(ISSUER, ISSUER, JwksCache("x", fetch=lambda url: polluted))
    assert verifier.verify(tokens["access_token"])
    assert "leaked" not in verifier.jwks._keys.by_kid


def test_clock_module_is_not_what_the_resource_server_uses(api, tokens, monkeypatch):
    # The resource server runs on its own clock, not the provider's idp.clock.
    monkeypatch.setattr(clock, "now", lambda: 0)
    assert api.get("/profile", headers=bearer(tokens["access_token"])).status_code == 200


# --- DPoP-bound tokens (RFC 9449 §7) ------------------------------------------------------

def _dpop_tokens(actions, spa, key, **params) -> dict:
    from tests.helpers import Pkce

    pkce = Pkce()
    code = actions.code(spa, pkce, **params)
    return actions.http.post("/token", headers={"DPoP": key.proof("POST", "http://localhost/token")}, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": spa.redirect_uri,
        "code_verifier": pkce.verifier, "client_id": spa.client_id,
    }).get_json()


def test_dpop_bound_tokens_need_a_proof_of_their_key(api, actions, user, spa):
    from tests.dpop import DpopKey

    key = DpopKey()
    access = _dpop_tokens(actions, spa, key)["access_token"]
    url = "http://localhost/profile"
    proof = key.proof("GET", url, access_token=access)
    assert api.get("/profile", headers={"Authorization": f"DPoP {access}", "DPoP": proof}).status_code == 200
    refusals = {
        "bearer": ({"Authorization": f"Bearer {access}"}, "invalid_token"),
        "no proof": ({"Authorization": f"DPoP {access}"}, "invalid_dpop_proof"),
        "replay": ({"Authorization": f"DPoP {access}", "DPoP": proof}, "invalid_dpop_proof"),
        "other key": ({"Authorization": f"DPoP {access}", "DPoP": DpopKey().proof("GET", url, access_token=access)},
                      "invalid_dpop_proof"),
        "other uri": ({"Authorization": f"DPoP {access}", "DPoP": key.proof("GET", "http://localhost/admin",
                                                                             access_token=access)}, "invalid_dpop_proof"),
        "no ath": ({"Authorization": f"DPoP {access}", "DPoP": key.proof("GET", url)}, "invalid_dpop_proof"),
    }
    for name, (headers, error) in refusals.items():
        response = api.get("/profile", headers=headers)
        assert response.status_code == 401, name
        assert challenge_params(response.headers["WWW-Authenticate"])["error"] == error, name
        assert response.headers["WWW-Authenticate"].startswith("DPoP "), name


def test_a_dpop_step_up_challenge_uses_the_dpop_scheme(api, actions, user, spa):
    from tests.dpop import DpopKey

    key = DpopKey()
    access = _dpop_tokens(actions, spa, key)["access_token"]
    proof = key.proof("GET", "http://localhost/admin", access_token=access)
    response = api.get("/admin", headers={"Authorization": f"DPoP {access}", "DPoP": proof})
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("DPoP ") and challenge_params(challenge)["acr_values"] == "mfa"


def test_a_bearer_token_sent_as_dpop_is_refused(api, tokens):
    response = api.get("/profile", headers={"Authorization": f"DPoP {tokens['access_token']}"})
    assert response.status_code == 401 and challenge_params(response.headers["WWW-Authenticate"])["error"] == "invalid_token"
