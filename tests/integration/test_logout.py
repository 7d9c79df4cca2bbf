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
    assert response.status_code == 400 and "Location" not in response.headers
    page = response.get_data(as_text=True)
    # A page for the app's developer: which URI, which client, how to register it.
    assert 'id="logout-uri-problem"' in page and "http://evil.example/" in page and spa.client_id in page
    assert "code" in query(actions.authorize(spa, prompt="none").location)  # still signed in


def test_logout_without_hint_returns_to_the_app_with_state(client, actions, user, spa):
    """RP-Initiated Logout §3 with client_id instead of id_token_hint: the person confirms,
    then goes back to the registered URI with the app's state."""
    actions.tokens(spa)
    params = {"client_id": spa.client_id, "post_logout_redirect_uri": spa.logout_uri, "state": "s-9"}
    page = client.get("/logout?" + urlencode(params))
    assert page.status_code == 200 and 'id="logout-confirm"' in page.get_data(as_text=True)
    done = client.post("/logout/confirm", data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert done.status_code == 303 and done.location == spa.logout_uri + "?state=s-9"
    assert query(actions.authorize(spa, prompt="none").location)["error"] == "login_required"


def test_logout_without_a_session_goes_straight_back(client, spa):
    params = {"client_id": spa.client_id, "post_logout_redirect_uri": spa.logout_uri, "state": "x"}
    response = client.get("/logout?" + urlencode(params))
    assert response.status_code == 302 and response.location == spa.logout_uri + "?state=x"


def test_a_logout_uri_without_a_client_is_explained(client, actions, user, spa):
    actions.tokens(spa)
    response = client.get("/logout?" + urlencode({"post_logout_redirect_uri": spa.logout_uri}))
    assert response.status_code == 400 and "client_id" in response.get_data(as_text=True)


def test_another_clients_logout_uri_is_not_followed(app, client, actions, user, spa):
    from tests.helpers import make_client

    other = make_client(app, public=True)
    with app.app_context():
        from idp.extensions import db
        from idp.models import Client

        db.session.query(Client).filter_by(client_id=other.client_id).update(
            {"post_logout_redirect_uris": ["http://localhost:9999/other"]})
        db.session.commit()
    params = {"client_id": spa.client_id, "post_logout_redirect_uri": "http://localhost:9999/other"}
    assert client.get("/logout?" + urlencode(params)).status_code == 400


def test_logout_without_hint_asks_first(client, actions, user, spa):
    actions.tokens(spa)
    page = client.get("/logout?" + urlencode({"client_id": spa.client_id}))
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
