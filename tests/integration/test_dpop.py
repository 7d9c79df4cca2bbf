"""DPoP (RFC 9449) at the token and userinfo endpoints: proofs checked, tokens bound to the
client's key, a stolen refresh or access token useless without it."""

from __future__ import annotations

import time

import pytest

from idp import clients as client_registry
from idp.extensions import db
from tests.dpop import DpopKey
from tests.helpers import Pkce, claims
from tests.helpers import TestClient as Registered

TOKEN = "http://localhost/token"
USERINFO = "http://localhost/userinfo"


@pytest.fixture
def key():
    return DpopKey()


def exchange(actions, c, key, **extra):
    pkce = Pkce()
    code = actions.code(c, pkce, scope="openid profile email offline_access")
    headers = {"DPoP": key.proof("POST", TOKEN)} if key else {}
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": c.redirect_uri,
            "code_verifier": pkce.verifier, "client_id": c.client_id, **extra}
    return actions.http.post("/token", data=data, headers=headers)


def refresh(client, c, token, proof=None):
    headers = {"DPoP": proof} if proof else {}
    return client.post("/token", data={"grant_type": "refresh_token", "refresh_token": token, "client_id": c.client_id},
                       headers=headers)


def test_a_proof_binds_the_tokens(client, actions, user, spa, key):
    response = exchange(actions, spa, key)
    body = response.get_json()
    assert response.status_code == 200 and body["token_type"] == "DPoP", body
    assert claims(client, body["access_token"])["cnf"] == {"jkt": key.jkt}
    # The refresh token needs a proof of the same key: a thief without it gets nothing.
    assert refresh(client, spa, body["refresh_token"]).get_json()["error"] == "invalid_dpop_proof"
    assert refresh(client, spa, body["refresh_token"], DpopKey().proof("POST", TOKEN)).get_json()["error"] == "invalid_dpop_proof"
    renewed = refresh(client, spa, body["refresh_token"], key.proof("POST", TOKEN))
    assert renewed.status_code == 200 and claims(client, renewed.get_json()["access_token"])["cnf"]["jkt"] == key.jkt


@pytest.mark.parametrize("bad", ["replay", "htm", "htu", "old", "future", "typ", "private", "garbage", "two"])
def test_bad_proofs_are_refused(client, actions, user, spa, key, bad):
    body = exchange(actions, spa, key).get_json()
    proof = key.proof("POST", TOKEN)
    headers = [("DPoP", proof)]
    if bad == "replay":
        first = refresh(client, spa, body["refresh_token"], proof)
        assert first.status_code == 200
        body = first.get_json()  # its successor, presented with the same proof again
    elif bad == "htm":
        headers = [("DPoP", key.proof("GET", TOKEN))]
    elif bad == "htu":
        headers = [("DPoP", key.proof("POST", "http://localhost/other"))]
    elif bad == "old":
        headers = [("DPoP", key.proof("POST", TOKEN, iat=int(time.time()) - 3600))]
    elif bad == "future":
        headers = [("DPoP", key.proof("POST", TOKEN, iat=int(time.time()) + 3600))]
    elif bad == "typ":
        headers = [("DPoP", proof.replace(proof.split(".")[0], _header(key, typ="JWT")))]
    elif bad == "private":
        headers = [("DPoP", _with_private_key(key))]
    elif bad == "garbage":
        headers = [("DPoP", "a.b.c")]
    elif bad == "two":
        headers = [("DPoP", proof), ("DPoP", key.proof("POST", TOKEN))]
    response = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"],
                                            "client_id": spa.client_id}, headers=headers)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_dpop_proof", response.get_json()


def _header(key, **changes) -> str:
    import base64
    import json

    header = {"alg": "ES256", "typ": "dpop+jwt", "jwk": key.key.as_dict(private=False), **changes}
    return base64.urlsafe_b64encode(json.dumps(header).encode()).decode().rstrip("=")


def _with_private_key(key) -> str:
    import json
    import secrets

    from joserfc import jws

    header = {"alg": "ES256", "typ": "dpop+jwt", "jwk": key.key.as_dict(private=True)}
    claims_ = {"jti": secrets.token_urlsafe(12), "htm": "POST", "htu": TOKEN, "iat": int(time.time())}
    return jws.serialize_compact(header, json.dumps(claims_), key.key, algorithms=["ES256"])


def test_userinfo_needs_the_proof_of_the_bound_key(client, actions, user, spa, key):
    access = exchange(actions, spa, key).get_json()["access_token"]
    proof = key.proof("GET", USERINFO, access_token=access)
    ok = client.get("/userinfo", headers={"Authorization": f"DPoP {access}", "DPoP": proof})
    assert ok.status_code == 200 and ok.get_json()["email"] == user.email
    refused = [
        {"Authorization": f"Bearer {access}"},  # a DPoP-bound token is no bearer token
        {"Authorization": f"DPoP {access}"},  # no proof
        {"Authorization": f"DPoP {access}", "DPoP": proof},  # replayed
        {"Authorization": f"DPoP {access}", "DPoP": key.proof("GET", USERINFO)},  # no ath
        {"Authorization": f"DPoP {access}", "DPoP": DpopKey().proof("GET", USERINFO, access_token=access)},  # thief
    ]
    for headers in refused:
        response = client.get("/userinfo", headers=headers)
        assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("DPoP "), headers


def test_a_bearer_token_is_not_sent_as_dpop(client, actions, user, spa, key):
    access = actions.tokens(spa)["access_token"]
    response = client.get("/userinfo", headers={"Authorization": f"DPoP {access}",
                                                "DPoP": key.proof("GET", USERINFO, access_token=access)})
    assert response.status_code == 401


def test_a_client_registered_with_dpop_must_prove(app, client, actions, user, key):
    with app.app_context():
        row, _ = client_registry.create(name="spa", redirect_uris=["http://localhost:8080/cb"], logout_uris=[],
                                        public=True, dpop_bound=True)
        db.session.commit()
        spa = Registered(row.client_id, None, "http://localhost:8080/cb", True)
    assert exchange(actions, spa, None).get_json()["error"] == "invalid_dpop_proof"
    assert exchange(actions, spa, key).get_json()["token_type"] == "DPoP"


def test_introspection_and_discovery(client, actions, user, spa, webapp, key):
    access = exchange(actions, spa, key).get_json()["access_token"]
    import base64

    basic = base64.b64encode(f"{webapp.client_id}:{webapp.secret}".encode()).decode()
    info = client.post("/introspect", data={"token": access}, headers={"Authorization": f"Basic {basic}"}).get_json()
    assert info["cnf"] == {"jkt": key.jkt} and info["token_type"] == "DPoP"
    doc = client.get("/.well-known/openid-configuration").get_json()
    assert doc["dpop_signing_alg_values_supported"] == ["ES256", "RS256", "EdDSA"]


# --- dpop_jkt: the authorization code bound to the key (RFC 9449 §10) ---------------------

def _code_for_key(actions, c, jkt):
    pkce = Pkce()
    return actions.code(c, pkce, scope="openid offline_access", dpop_jkt=jkt), pkce


def _redeem(actions, c, code, pkce, proof):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": c.redirect_uri,
            "code_verifier": pkce.verifier, "client_id": c.client_id}
    return actions.http.post("/token", data=data, headers={"DPoP": proof} if proof else {})


@pytest.mark.parametrize("presented", ["other key", "no proof"])
def test_a_code_bound_with_dpop_jkt_is_redeemed_only_with_that_key(actions, user, spa, key, presented):
    """An intercepted code (with its verifier) is useless to someone without the key the
    app named at /authorize: RFC 9449 §10 says the token request MUST then be refused."""
    code, pkce = _code_for_key(actions, spa, key.jkt)
    proof = DpopKey().proof("POST", TOKEN) if presented == "other key" else None
    response = _redeem(actions, spa, code, pkce, proof)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"] == "invalid_dpop_proof"


def test_a_code_bound_with_dpop_jkt_works_with_that_key(client, actions, user, spa, key):
    code, pkce = _code_for_key(actions, spa, key.jkt)
    response = _redeem(actions, spa, code, pkce, key.proof("POST", TOKEN))
    assert response.status_code == 200, response.get_json()
    assert claims(client, response.get_json()["access_token"])["cnf"] == {"jkt": key.jkt}


@pytest.mark.parametrize("jkt", ["short", "a" * 44, "not base64url!" + "a" * 29])
def test_a_malformed_dpop_jkt_is_an_invalid_request(actions, user, spa, jkt):
    response = actions.authorize(spa, dpop_jkt=jkt)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert "error=invalid_request" in response.location, response.location


def test_a_retry_inside_the_grace_window_spends_its_proof_once(app, client, actions, user, key):
    # On PostgreSQL the retry's one statement finds the token rotated, and the read that
    # follows checks the binding again: with the proof already verified in this request, not
    # refused as its own replay.
    from tests.helpers import make_client

    spa = make_client(app, public=True, refresh_grace_seconds=30)
    body = exchange(actions, spa, key).get_json()
    first = refresh(client, spa, body["refresh_token"], key.proof("POST", TOKEN))
    retry = refresh(client, spa, body["refresh_token"], key.proof("POST", TOKEN))
    assert first.status_code == 200 and retry.status_code == 200, retry.get_json()
    assert retry.get_json()["refresh_token"] == first.get_json()["refresh_token"]
