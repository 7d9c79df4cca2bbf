"""The authorization endpoint: what is refused, where errors go, and the login prompts."""

import pytest
from idp import clock
from tests.helpers import Actions, Pkce, claims, csrf_token, make_client, make_user, query


def assert_error_page(response, status=400):
    assert response.status_code == status
    assert "Location" not in response.headers
    assert "We cannot continue" in response.get_data(as_text=True)


def assert_redirect_error(response, c, error, state=None):
    assert response.status_code in (302, 303), response.get_data(as_text=True)
    assert response.location.startswith(c.redirect_uri + "?")
    q = query(response.location)
    assert q["error"] == error, q
    assert q["iss"] == "http://localhost"
    assert "code" not in q
    if state:
        assert q["state"] == state


# --- never redirect to an unverified URI ----------------------------------------------

@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://localhost:8080/other",
        "http://localhost:8080/cb/",
        "http://localhost:8080/cb?x=1",
        "http://evil.example/cb",
        "http://localhost:8080/CB",
        "not a uri",
        "",
        None,
    ],
    ids=["other-path", "trailing-slash", "query-added", "other-host", "case", "malformed", "empty", "missing"],
)
def test_unregistered_or_missing_redirect_uri_gets_an_error_page(actions, spa, redirect_uri):
    assert_error_page(actions.authorize(spa, redirect_uri=redirect_uri))


def test_unknown_client_gets_an_error_page(actions, spa):
    assert_error_page(actions.authorize(spa, client_id="nobody"))
    assert_error_page(actions.authorize(spa, client_id=None))


def test_missing_redirect_uri_refused_even_with_a_single_registered_uri(app, actions):
    c = make_client(app, public=True, redirect_uri="http://localhost:8080/only")
    assert_error_page(actions.authorize(c, redirect_uri=None))


# --- errors after the client is verified go back to it ---------------------------------

@pytest.mark.parametrize(
    "params, error",
    [
        ({"response_type": None}, "unsupported_response_type"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "code id_token"}, "unsupported_response_type"),
        ({"response_type": "id_token"}, "unsupported_response_type"),
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
        ({"request_uri": "https://client.example/req.jwt"}, "request_uri_not_supported"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"max_age": "soon"}, "invalid_request"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"prompt": "create"}, "invalid_request"),
        ({"claims": "{not json"}, "invalid_request"),
        ({"id_token_hint": "not.a.token"}, "invalid_request"),
        ({"scope": "unknown-scope"}, "invalid_scope"),
        ({"response_mode": "fragment"}, "invalid_request"),
    ],
)
def test_invalid_requests_are_redirected_with_an_error(actions, spa, params, error):
    response = actions.authorize(spa, state="keep-me", **params)
    assert_redirect_error(response, spa, error, state="keep-me")


def test_repeated_parameter_is_refused(client, spa):
    pkce = Pkce()
    url = (
        f"/authorize?response_type=code&client_id={spa.client_id}&redirect_uri={spa.redirect_uri}"
        f"&scope=openid&scope=openid&code_challenge={pkce.challenge}&code_challenge_method=S256"
    )
    response = client.get(url)
    assert_error_page(response)


def test_unknown_parameters_and_display_options_are_ignored(actions, user, spa):
    response = actions.authorize(
        spa, extra="foobar", display="page", ui_locales="fr-CA fr en", claims_locales="de", acr_values="pwd"
    )
    assert response.location.startswith("/login?flow=")


def test_authorization_endpoint_accepts_post(client, actions, user, spa):
    pkce = Pkce()
    actions.code(spa)  # signs in
    response = client.post("/authorize", data={
        "response_type": "code", "client_id": spa.client_id, "redirect_uri": spa.redirect_uri,
        "scope": "openid", "state": "p", "code_challenge": pkce.challenge, "code_challenge_method": "S256",
    })
    assert response.status_code == 303
    assert "code" in query(response.location)


def test_authorization_endpoint_has_no_cors(actions, spa):
    response = actions.authorize(spa)
    assert "Access-Control-Allow-Origin" not in response.headers


# --- prompts ---------------------------------------------------------------------------

def test_prompt_none_without_session(actions, spa):
    assert_redirect_error(actions.authorize(spa, prompt="none", state="s"), spa, "login_required", "s")


def test_prompt_none_with_session_issues_a_code_without_ui(client, actions, user, spa):
    first = actions.tokens(spa)
    pkce = Pkce()
    response = actions.authorize(spa, pkce, prompt="none")
    assert response.status_code == 302
    code = query(response.location)["code"]
    second = actions.exchange(spa, code, pkce).get_json()
    assert claims(client, second["id_token"])["sub"] == claims(client, first["id_token"])["sub"]
    assert claims(client, second["id_token"])["auth_time"] == claims(client, first["id_token"])["auth_time"]


def test_prompt_login_asks_again_and_auth_time_moves(client, actions, user, spa, monkeypatch):
    first = claims(client, actions.tokens(spa)["id_token"])
    later = clock.now() + 5
    monkeypatch.setattr(clock, "now", lambda: later)
    response = actions.authorize(spa, prompt="login")
    assert response.location.startswith("/login?flow=")
    second = claims(client, actions.tokens(spa, prompt="login")["id_token"])
    assert second["auth_time"] > first["auth_time"]


def test_max_age(client, actions, user, spa, monkeypatch):
    first = claims(client, actions.tokens(spa, max_age="15000")["id_token"])
    # Within max_age: no sign-in, same auth_time.
    second = claims(client, actions.tokens(spa, max_age="10000")["id_token"])
    assert second["auth_time"] == first["auth_time"]
    later = clock.now() + 2
    monkeypatch.setattr(clock, "now", lambda: later)
    assert actions.authorize(spa, max_age="1").location.startswith("/login?flow=")
    third = claims(client, actions.tokens(spa, max_age="1")["id_token"])
    assert third["auth_time"] >= later


def test_max_age_zero_is_satisfied_by_the_sign_in_just_done(client, actions, user, spa):
    assert claims(client, actions.tokens(spa, max_age="0")["id_token"])["acr"] == "pwd"


def test_id_token_hint_with_prompt_none(app, client, actions, user, spa):
    id_token = actions.tokens(spa)["id_token"]
    response = actions.authorize(spa, prompt="none", id_token_hint=id_token)
    assert "code" in query(response.location)
    # A hint for someone else than the signed-in person cannot be satisfied silently.
    bob = make_user(app, "bob@example.com")
    other = app.test_client()
    bob_token = Actions(other).tokens(spa, email="bob@example.com")["id_token"]
    assert bob.subject == claims(client, bob_token)["sub"]
    assert_redirect_error(actions.authorize(spa, prompt="none", id_token_hint=bob_token), spa, "login_required")


def test_login_hint_prefills_the_email(client, actions, spa):
    response = actions.authorize(spa, login_hint="carol@example.com")
    page = client.get(response.location).get_data(as_text=True)
    assert 'value="carol@example.com"' in page


def test_form_post_response_mode(client, actions, user, spa):
    actions.code(spa)
    response = actions.authorize(spa, response_mode="form_post", state="fp")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'action="{spa.redirect_uri}"' in html
    assert 'name="code"' in html and 'name="state" value="fp"' in html and 'name="iss"' in html
    assert "Location" not in response.headers


def test_nonce_is_optional_for_the_code_flow(client, actions, user, spa):
    assert "nonce" not in claims(client, actions.tokens(spa, nonce=None)["id_token"])


# --- the pending flow ------------------------------------------------------------------

def test_flow_belongs_to_the_browser_that_started_it(app, client, actions, user, spa):
    location = actions.authorize(spa).location
    stranger = app.test_client()
    page = stranger.get(location)
    assert page.status_code == 400
    assert "expired" in page.get_data(as_text=True)


def test_flow_completes_once(client, actions, user, spa):
    location = actions.authorize(spa).location
    resume = actions.login(location).location
    assert "code" in query(client.get(resume).location)
    again = client.get(resume)
    assert again.status_code == 400


def test_login_post_without_csrf_token_is_refused(client, actions, user, spa):
    location = actions.authorize(spa).location
    client.get(location)
    response = client.post("/login", data={"email": "alice@example.com", "password": "x", "flow": query(location)["flow"]})
    assert response.status_code == 400


def test_csrf_token_of_one_browser_does_not_work_in_another(app, client, actions, user, spa):
    page = client.get(actions.authorize(spa).location).get_data(as_text=True)
    other = app.test_client()
    other.get("/login")
    response = other.post("/login", data={"csrf_token": csrf_token(page), "email": "alice@example.com", "password": "x"})
    assert response.status_code == 400



