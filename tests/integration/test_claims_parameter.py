"""The `claims` request parameter (OIDC Core §5.5): requested claims go into the ID token,
within what the granted scopes release."""

from __future__ import annotations

import json

from tests.helpers import claims, query


def _id_token(client, actions, c, scope: str, requested: dict) -> dict:
    body = actions.tokens(c, scope=scope, claims=json.dumps(requested))
    return claims(client, body["id_token"])


def test_requested_claims_are_in_the_id_token(client, actions, user, webapp):
    token = _id_token(client, actions, webapp, "openid profile email", {"id_token": {"email": None, "name": {"essential": True}}})
    assert token["email"] == user.email and token["name"] and "email_verified" not in token


def test_without_the_parameter_the_id_token_carries_no_profile(client, actions, user, webapp):
    token = claims(client, actions.tokens(webapp, scope="openid profile email")["id_token"])
    assert "email" not in token and "name" not in token


def test_claims_outside_the_granted_scopes_are_not_released(client, actions, user, webapp):
    token = _id_token(client, actions, webapp, "openid profile", {"id_token": {"email": None, "name": None}})
    assert "email" not in token and token["name"]


def test_userinfo_stays_within_the_scopes(client, actions, user, webapp):
    body = actions.tokens(webapp, scope="openid", claims=json.dumps({"userinfo": {"email": None}}))
    info = client.get("/userinfo", headers={"Authorization": "Bearer " + body["access_token"]}).get_json()
    assert info == {"sub": info["sub"]}


def test_a_malformed_claims_parameter_is_invalid_request(actions, user, webapp):
    for bad in ("not json", "[1]", json.dumps({"id_token": ["email"]})):
        response = actions.authorize(webapp, claims=bad)
        assert query(response.location)["error"] == "invalid_request", bad


def test_discovery_advertises_it(client):
    assert client.get("/.well-known/openid-configuration").get_json()["claims_parameter_supported"] is True
