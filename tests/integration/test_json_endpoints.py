"""Token, revocation, introspection and userinfo are answered before Flask
(idp/web/json_endpoints.py) when a request has the ordinary shape: the answers are those of
the Flask views, which take every other shape."""

from __future__ import annotations

import base64
import logging

import pytest

# A charset werkzeug accepts and the WSGI layer does not take: the request reaches Flask.
VIA_FLASK = "application/x-www-form-urlencoded; charset=ISO-8859-1"
SENT = ("Content-Type", "Cache-Control", "Pragma", "WWW-Authenticate", "Access-Control-Allow-Origin", "Vary",
        "Retry-After", "Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options")


def basic(c) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{c.client_id}:{c.secret}".encode()).decode()}


def both_ways(client, path: str, data: dict, headers: dict):
    """The same request through the WSGI layer, then through Flask."""
    fast = client.post(path, data=data, headers=headers)
    slow = client.post(path, data=data, headers=headers, content_type=VIA_FLASK)
    return fast, slow


def same(fast, slow, *, body: bool = True) -> None:
    assert fast.status_code == slow.status_code, (fast.data, slow.data)
    assert {h: fast.headers.get(h) for h in SENT} == {h: slow.headers.get(h) for h in SENT}
    if body:
        assert fast.get_json() == slow.get_json()


def test_fall_through_reaches_the_flask_view(app, client, webapp, monkeypatch):
    """The comparisons below mean something only if VIA_FLASK really takes the other way."""
    from idp.web import json_endpoints

    taken = []
    monkeypatch.setitem(json_endpoints.ROUTES, ("POST", "/token"), lambda *a: taken.append(a) or 1 / 0)
    client.post("/token", data={"grant_type": "client_credentials"}, headers=basic(webapp), content_type=VIA_FLASK)
    assert taken == []


@pytest.mark.parametrize("data, auth, status", [
    ({"grant_type": "client_credentials"}, True, 200),
    ({"grant_type": "client_credentials"}, False, 401),       # invalid_client, with its challenge
    ({"grant_type": "password", "username": "a", "password": "b"}, True, 400),  # unsupported_grant_type
    ({"grant_type": "client_credentials", "scope": "admin"}, True, 400),        # invalid_scope
    ({"grant_type": "refresh_token", "refresh_token": "x" * 43}, True, 400),    # invalid_grant
])
def test_token_answers_alike(client, webapp, data, auth, status):
    headers = basic(webapp) if auth else {"Authorization": "Basic " + base64.b64encode(f"{webapp.client_id}:wrong".encode()).decode()}
    fast, slow = both_ways(client, "/token", data, headers)
    assert fast.status_code == status
    if status == 200:
        same(fast, slow, body=False)
        assert set(fast.get_json()) == set(slow.get_json()) == {"access_token", "token_type", "expires_in", "scope"}
    else:
        same(fast, slow)


def test_a_repeated_parameter_means_the_same_both_ways(client, webapp):
    body = "grant_type=client_credentials&scope=nonsense&scope=openid"
    fast = client.post("/token", data=body, headers={**basic(webapp), "Content-Type": "application/x-www-form-urlencoded"})
    slow = client.post("/token", data=body, headers={**basic(webapp), "Content-Type": VIA_FLASK})
    same(fast, slow)
    assert fast.status_code == 400


def test_refresh_and_cors_answer_alike(client, actions, user, spa):
    origin = {"Origin": "http://localhost:8080"}
    first = actions.tokens(spa)["refresh_token"]
    fast = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": first, "client_id": spa.client_id},
                       headers=origin)
    second = fast.get_json()["refresh_token"]
    slow = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": second, "client_id": spa.client_id},
                       headers=origin, content_type=VIA_FLASK)
    same(fast, slow, body=False)
    assert fast.status_code == 200 and fast.headers["Access-Control-Allow-Origin"] == "http://localhost:8080"
    # The first token was rotated on the fast way: a reuse, refused on either.
    reused, _ = both_ways(client, "/token", {"grant_type": "refresh_token", "refresh_token": first,
                                             "client_id": spa.client_id}, {"Origin": "http://evil.example"})
    assert reused.status_code == 400 and "Access-Control-Allow-Origin" not in reused.headers


def test_introspection_and_revocation_answer_alike(client, actions, user, spa, webapp):
    access = actions.tokens(spa)["access_token"]
    same(*both_ways(client, "/introspect", {"token": access}, basic(webapp)))
    same(*both_ways(client, "/introspect", {"token": "x" * 43}, basic(webapp)))
    same(*both_ways(client, "/introspect", {"token": access}, {}))  # 401: introspection needs a client
    fast, slow = both_ways(client, "/revoke", {"token": "x" * 43, "client_id": spa.client_id},
                           {"Origin": "http://localhost:8080"})
    same(fast, slow, body=False)
    assert fast.status_code == 200 and fast.headers["Access-Control-Allow-Origin"] == "http://localhost:8080"


def test_userinfo_answers_alike(client, actions, user, spa):
    access = actions.tokens(spa)["access_token"]
    for headers in ({"Authorization": f"Bearer {access}"}, {"Authorization": "Bearer nonsense"}, {},
                    {"Authorization": f"Bearer {access}", "Origin": "http://localhost:8080"},
                    {"Authorization": f"DPoP {access}"}):
        fast = client.get("/userinfo", headers=headers)
        slow = client.get("/userinfo?via=flask", headers=headers)
        same(fast, slow, body=fast.status_code == 200)
    fast, slow = both_ways(client, "/userinfo", {"access_token": access}, {})
    same(fast, slow)
    assert fast.status_code == 200


def test_a_nul_character_is_still_a_400(client, webapp):
    response = client.post("/token", data="grant_type=client_credentials%00", headers={
        **basic(webapp), "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "bad_request"


def test_an_unexpected_error_is_a_logged_500_in_json(app, client, webapp, monkeypatch, caplog):
    from idp.oauth import grants

    def broken(self):
        raise RuntimeError("boom")

    monkeypatch.setattr(grants.ClientCredentialsGrant, "create_token_response", broken)
    with caplog.at_level(logging.ERROR, logger="idp"):
        response = client.post("/token", data={"grant_type": "client_credentials"}, headers=basic(webapp))
    assert response.status_code == 500
    assert response.get_json()["error"] == "server_error"
    assert response.headers["Cache-Control"] == "no-store" and response.headers["X-Request-ID"]
    assert "unhandled error" in caplog.text


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", VIA_FLASK])
def test_a_malformed_host_is_a_400_not_a_500(client, webapp, content_type):
    # authlib checks the request's URI for https before anything else, and a Host it cannot
    # parse made that check raise outside its error handling.
    response = client.post("/token", data="grant_type=client_credentials",
                           headers={**basic(webapp), "Host": "[", "Content-Type": content_type})
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
