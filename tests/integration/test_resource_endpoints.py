"""Userinfo, revocation (RFC 7009) and introspection (RFC 7662), including forged tokens."""

import base64
import json

import pytest

from idp import clock
from tests.helpers import make_client, update_user


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def b64(data) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def basic(c):
    return {"Authorization": "Basic " + base64.b64encode(f"{c.client_id}:{c.secret}".encode()).decode()}


@pytest.fixture
def tokens(actions, user, spa):
    return actions.tokens(spa)


# --- userinfo ----------------------------------------------------------------------------

def test_userinfo_get_post_header_and_post_body(client, tokens, user):
    at = tokens["access_token"]
    assert client.get("/userinfo", headers=bearer(at)).get_json()["sub"] == user.subject
    assert client.post("/userinfo", headers=bearer(at)).get_json()["sub"] == user.subject
    assert client.post("/userinfo", data={"access_token": at}).get_json()["sub"] == user.subject
    assert client.get("/userinfo", headers={"Authorization": f"bearer {at}"}).status_code == 200


def test_userinfo_releases_claims_by_scope(client, actions, user, spa):
    body = actions.tokens(spa, scope="openid")
    assert client.get("/userinfo", headers=bearer(body["access_token"])).get_json() == {"sub": user.subject}


def test_userinfo_without_token(client):
    response = client.get("/userinfo")
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")


def test_expired_access_token(client, tokens, monkeypatch):
    later = clock.now() + 301
    monkeypatch.setattr(clock, "now", lambda: later)
    response = client.get("/userinfo", headers=bearer(tokens["access_token"]))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_tampered_access_token(client, tokens):
    header, payload, signature = tokens["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "someone-else"
    forged = f"{header}.{b64(claims)}.{signature}"
    assert client.get("/userinfo", headers=bearer(forged)).status_code == 401


def test_alg_none_is_refused(client, tokens):
    _, payload, _ = tokens["access_token"].split(".")
    forged = f"{b64({'alg': 'none', 'typ': 'at+jwt'})}.{payload}."
    assert client.get("/userinfo", headers=bearer(forged)).status_code == 401


def test_hs256_signed_with_the_public_key_is_refused(client, tokens):
    import hashlib
    import hmac

    jwk = client.get("/jwks.json").get_json()["keys"][0]
    header, payload, _ = tokens["access_token"].split(".")
    forged_header = b64({"alg": "HS256", "typ": "at+jwt", "kid": jwk["kid"]})
    for secret in (json.dumps(jwk).encode(), jwk["n"].encode()):
        signing_input = f"{forged_header}.{payload}".encode()
        sig = b64(hmac.new(secret, signing_input, hashlib.sha256).digest())
        assert client.get("/userinfo", headers=bearer(f"{forged_header}.{payload}.{sig}")).status_code == 401


def test_id_token_is_not_an_access_token(client, tokens):
    assert client.get("/userinfo", headers=bearer(tokens["id_token"])).status_code == 401


def test_client_credentials_token_gets_nothing_at_userinfo(client, actions, webapp):
    at = actions.token(webapp, grant_type="client_credentials").get_json()["access_token"]
    assert client.get("/userinfo", headers=bearer(at)).status_code == 401


def test_disabled_person_userinfo(app, client, tokens, user):
    update_user(app, user.id, disabled=True)
    assert client.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 401


def test_userinfo_cors_only_for_the_token_clients_origin(client, tokens):
    ok = client.get("/userinfo", headers={**bearer(tokens["access_token"]), "Origin": "http://localhost:8080"})
    assert ok.headers["Access-Control-Allow-Origin"] == "http://localhost:8080"
    evil = client.get("/userinfo", headers={**bearer(tokens["access_token"]), "Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in evil.headers


def test_token_endpoint_cors(client, actions, user, spa, webapp):
    response = client.options("/token", headers={"Origin": "http://localhost:8080", "Access-Control-Request-Method": "POST"})
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:8080"
    evil = client.options("/token", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in evil.headers
    # A confidential client's redirect origin is no CORS origin: its secret must not be in a browser.
    cc = actions.token(webapp, grant_type="client_credentials")
    assert "Access-Control-Allow-Origin" not in cc.headers


# --- revocation ------------------------------------------------------------------------

def test_revoking_a_refresh_token_ends_its_grant(client, actions, spa, tokens):
    response = client.post("/revoke", data={"token": tokens["refresh_token"], "client_id": spa.client_id})
    assert response.status_code == 200
    refresh = actions.token(spa, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refresh.get_json()["error"] == "invalid_grant"
    assert client.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 401


def test_revoking_an_access_token(client, actions, spa, tokens):
    response = client.post("/revoke", data={"token": tokens["access_token"], "client_id": spa.client_id,
                                            "token_type_hint": "access_token"})
    assert response.status_code == 200
    assert client.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 401
    # The refresh token still works: only the access token was revoked.
    assert actions.token(spa, grant_type="refresh_token", refresh_token=tokens["refresh_token"]).status_code == 200


def test_revoking_another_clients_token_does_nothing(app, client, actions, tokens):
    other = make_client(app, public=True)
    assert client.post("/revoke", data={"token": tokens["refresh_token"], "client_id": other.client_id}).status_code == 200
    assert client.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 200


def test_revoking_an_unknown_token_is_200(client, spa):
    assert client.post("/revoke", data={"token": "nonsense", "client_id": spa.client_id}).status_code == 200


def test_revocation_needs_a_token_parameter(client, spa):
    assert client.post("/revoke", data={"client_id": spa.client_id}).get_json()["error"] == "invalid_request"


# --- introspection ---------------------------------------------------------------------

def test_introspection(client, webapp, tokens, user):
    response = client.post("/introspect", data={"token": tokens["access_token"]}, headers=basic(webapp))
    body = response.get_json()
    assert response.status_code == 200 and body["active"] is True
    assert body["sub"] == user.subject and body["acr"] == "pwd"
    assert response.headers["Cache-Control"] == "no-store"
    garbage = client.post("/introspect", data={"token": "garbage"}, headers=basic(webapp)).get_json()
    assert garbage == {"active": False}


def test_introspection_refuses_public_clients(client, spa, tokens):
    response = client.post("/introspect", data={"token": tokens["access_token"], "client_id": spa.client_id})
    assert response.status_code == 401


def test_introspection_after_revocation(client, webapp, spa, tokens):
    client.post("/revoke", data={"token": tokens["refresh_token"], "client_id": spa.client_id})
    body = client.post("/introspect", data={"token": tokens["access_token"]}, headers=basic(webapp)).get_json()
    assert body == {"active": False}
