"""Sign-in with context: the page names the app, offers a way back to it (access_denied,
RFC 6749 §4.1.2.1), locks the email of a person signing in again, and explains step-up."""

import pyotp

from tests.helpers import add_totp, csrf_token, make_client, make_user, query, update_user


def test_the_sign_in_page_names_the_app_with_its_logo_and_home_page(app, client, actions, user):
    c = make_client(app, public=True, name="Photo Album", client_uri="https://album.example/",
                    logo_uri="https://cdn.album.example/logo.png")
    page = client.get(actions.authorize(c).location)
    html = page.get_data(as_text=True)
    assert 'id="client-name"' in html and "Photo Album" in html
    assert 'id="client-logo"' in html and 'alt="Photo Album logo"' in html
    assert 'href="https://album.example/"' in html
    # The logo's origin, and only it, joins the page's image sources.
    assert "img-src 'self' data: https://cdn.album.example;" in page.headers["Content-Security-Policy"]
    assert "album" not in client.get("/login").headers["Content-Security-Policy"]


def test_cancel_answers_access_denied_with_state_and_iss(client, actions, spa):
    login = actions.authorize(spa, state="xyz").location
    token = csrf_token(client.get(login).get_data(as_text=True))
    answer = client.post("/login/cancel", data={"csrf_token": token, "flow": query(login)["flow"]})
    assert answer.status_code == 303
    assert answer.location.startswith(spa.redirect_uri + "?")
    assert query(answer.location) == {"error": "access_denied", "error_description": "the person cancelled the sign-in",
                                      "state": "xyz", "iss": "http://localhost"}
    # The flow is spent: it can neither be cancelled again nor finished.
    again = client.post("/login/cancel", data={"csrf_token": token, "flow": query(login)["flow"]})
    assert again.status_code == 400
    assert client.get(login).status_code == 400


def test_cancel_on_the_second_factor_page(app, client, actions, user, spa):
    add_totp(app, user.id)
    login = actions.authorize(spa).location
    mfa = actions.login(login).location
    page = client.get(mfa).get_data(as_text=True)
    assert 'id="login-cancel"' in page and "test client" in page
    answer = client.post("/login/cancel", data={"csrf_token": csrf_token(page), "flow": query(mfa)["flow"]})
    assert query(answer.location)["error"] == "access_denied"
    # The pending sign-in ended with it.
    assert client.get(mfa).status_code == 400


def test_a_cancel_of_another_browser_s_flow_is_refused(app, client, actions, spa):
    login = actions.authorize(spa).location
    other = app.test_client()
    token = csrf_token(other.get("/login").get_data(as_text=True))
    answer = other.post("/login/cancel", data={"csrf_token": token, "flow": query(login)["flow"]})
    assert answer.status_code == 400 and answer.location is None


def test_signing_in_again_locks_the_email_and_offers_not_you(app, client, actions, user, spa):
    actions.tokens(spa)
    login = actions.authorize(spa, prompt="login").location
    assert login.startswith("/login?")
    html = client.get(login).get_data(as_text=True)
    assert 'value="alice@example.com"' in html and "readonly" in html and 'id="not-you"' in html
    # "Not you?" signs alice out; the same request goes on for someone else.
    make_user(app, "bob@example.com")
    switched = client.post("/login/switch", data={"csrf_token": csrf_token(html), "flow": query(login)["flow"]})
    assert switched.status_code == 303 and query(switched.location)["flow"] == query(login)["flow"]
    html = client.get(switched.location).get_data(as_text=True)
    assert "readonly" not in html and "alice@example.com" not in html
    done = actions.login(switched.location, email="bob@example.com")
    assert "code" in query(client.get(done.location).location)


def test_step_up_says_the_app_asks_for_it(app, client, actions, user, spa):
    actions.tokens(spa)  # signed in with a password only
    secret = add_totp(app, user.id)
    answer = actions.authorize(spa, acr_values="mfa")
    assert answer.location.startswith("/login/mfa?")
    html = client.get(answer.location).get_data(as_text=True)
    assert 'id="step-up-reason"' in html
    assert "test client asks you to confirm it is you with your second factor" in html
    # Already signed in: not told to sign in to use the app.
    assert 'id="client-name"' not in html and "asks you to sign in" not in html
    done = actions.second_factor(answer.location, code=pyotp.TOTP(secret).now())
    assert "code" in query(client.get(done.location).location)


def test_own_pages_step_up_names_the_change(app, client, actions, user):
    secret = add_totp(app, user.id)
    actions.second_factor(actions.login("/login?next=/account").location, code=pyotp.TOTP(secret).now())
    app.config["IDP_STEP_UP_MAX_AGE"] = -1  # the step-up window has passed
    token = csrf_token(client.get("/account").get_data(as_text=True))
    page = client.post("/account/recovery-codes", data={"csrf_token": token})
    html = client.get(page.location).get_data(as_text=True)
    assert 'id="step-up-reason"' in html and "This change needs your second factor" in html
    assert 'id="login-cancel"' not in html  # no app to return to


def test_the_start_page_links_onward(app, client, actions, user):
    html = client.get("/").get_data(as_text=True)
    assert client.get("/").status_code == 200 and 'id="home-sign-in"' in html
    actions.login("/login?next=/account")
    html = client.get("/").get_data(as_text=True)
    assert 'id="home-account"' in html and 'id="home-admin"' not in html
    update_user(app, user.id, is_admin=True)
    assert 'id="home-admin"' in client.get("/").get_data(as_text=True)


def test_final_pages_are_no_dead_ends(client):
    assert 'id="error-home"' in client.get("/no-such-page").get_data(as_text=True)
    assert 'id="error-home"' in client.get("/login?flow=unknown").get_data(as_text=True)
    token = csrf_token(client.get("/login").get_data(as_text=True))
    html = client.post("/account/sign-out", data={"csrf_token": token}).get_data(as_text=True)
    assert 'id="sign-in-again"' in html
