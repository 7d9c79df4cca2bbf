"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0)."""

from urllib.parse import urlencode

from tests.helpers import csrf_token, query


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_logout_with_id_token_hint_redirects_with_state(client, actions, user, spa):
    tokens = actions.tokens(spa)
    params = {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": spa.logout_uri, "state": "bye"}
    response = client.get("/logout?" + urlencode(params))
    assert response.status_code == 302
    assert response.location == spa.logout_uri + "?state=bye"
    # The session is gone, and with it the tokens issued in it.
    assert actions.authorize(spa, prompt="none").location.startswith(spa.redirect_uri)
    assert query(actions.authorize(spa, prompt="none").location)["error"] == "login_required"
    assert client.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 401
    refresh = actions.token(spa, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refresh.status_code == 400


def test_unregistered_post_logout_redirect_uri_is_not_followed(client, actions, user, spa):
    tokens = actions.tokens(spa)
    params = {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "http://evil.example/"}
    response = client.get("/logout?" + urlencode(params))
    assert response.status_code == 200 and "Location" not in response.headers
    assert "signed out" in response.get_data(as_text=True)


def test_logout_without_hint_asks_first(client, actions, user, spa):
    actions.tokens(spa)
    page = client.get("/logout?" + urlencode({"post_logout_redirect_uri": spa.logout_uri, "client_id": spa.client_id}))
    assert page.status_code == 200 and 'id="logout-confirm"' in page.get_data(as_text=True)
    # Still signed in until the person confirms.
    assert "code" in query(actions.authorize(spa, prompt="none").location)
    done = client.post("/logout/confirm", data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert done.status_code == 200 and "signed out" in done.get_data(as_text=True)
    assert query(actions.authorize(spa, prompt="none").location)["error"] == "login_required"


def test_confirmation_needs_csrf_token(client, actions, user, spa):
    actions.tokens(spa)
    assert client.post("/logout/confirm").status_code == 400
    assert "code" in query(actions.authorize(spa, prompt="none").location)


def test_invalid_id_token_hint_is_an_error_page(client):
    response = client.get("/logout?id_token_hint=garbage")
    assert response.status_code == 400 and "Location" not in response.headers


def test_client_id_must_match_the_hint(app, client, actions, user, spa):
    from tests.helpers import make_client

    other = make_client(app, public=True)
    tokens = actions.tokens(spa)
    response = client.get("/logout?" + urlencode({"id_token_hint": tokens["id_token"], "client_id": other.client_id}))
    assert response.status_code == 400
