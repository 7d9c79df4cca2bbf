"""The account page's sessions and connected apps: another browser's session really ends,
and a revoked app's refresh token fails."""

import re

import pyotp

from tests.helpers import Actions, csrf_token, add_totp


def signed_in_browser(app, user_agent: str):
    browser = app.test_client()
    browser.environ_base["HTTP_USER_AGENT"] = user_agent
    Actions(browser).login("/login?next=/account")
    return browser


FIREFOX = "Mozilla/5.0 (Windows NT 10.0; rv:132.0) Gecko/20100101 Firefox/132.0"
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


def session_ids(html: str) -> list[str]:
    return re.findall(r'id="session-end-([^"]+)"', html)


def test_the_list_shows_each_browser_and_marks_this_one(app, user):
    here = signed_in_browser(app, FIREFOX)
    signed_in_browser(app, CHROME)
    html = here.get("/account/sessions").get_data(as_text=True)
    assert "Firefox on Windows" in html and "Chrome on Linux" in html
    assert html.count('id="session-current"') == 1
    assert len(session_ids(html)) == 1  # only the other one can be ended from here
    assert 'id="sessions-end-others"' in html
    # No session key (a cookie's value) is ever shown.
    for cookie in here._cookies.values():
        assert cookie.value not in html


def test_ending_one_session_signs_that_browser_out(app, user):
    here = signed_in_browser(app, FIREFOX)
    other = signed_in_browser(app, CHROME)
    third = signed_in_browser(app, CHROME)
    html = here.get("/account/sessions").get_data(as_text=True)
    other_sid = [s for s in session_ids(html)]
    assert len(other_sid) == 2
    # Which row is `other`? End one, then exactly one of the two is signed out.
    answer = here.post(f"/account/sessions/{other_sid[0]}/end", data={"csrf_token": csrf_token(html)})
    assert answer.status_code == 303
    statuses = sorted(b.get("/account").status_code for b in (other, third))
    assert statuses == [200, 302]
    assert here.get("/account").status_code == 200


def test_sign_out_everywhere_else(app, user):
    here = signed_in_browser(app, FIREFOX)
    others = [signed_in_browser(app, CHROME) for _ in range(2)]
    html = here.get("/account/sessions").get_data(as_text=True)
    answer = here.post("/account/sessions/end-others", data={"csrf_token": csrf_token(html)})
    assert answer.status_code == 303
    assert [b.get("/account").status_code for b in others] == [302, 302]
    assert here.get("/account").status_code == 200
    html = here.get("/account/sessions").get_data(as_text=True)
    assert session_ids(html) == [] and 'id="sessions-end-others"' not in html


def test_a_session_of_someone_else_cannot_be_ended(app, user):
    from tests.helpers import make_user

    make_user(app, "bob@example.com")
    bob = app.test_client()
    Actions(bob).login("/login?next=/account", email="bob@example.com")
    here = signed_in_browser(app, FIREFOX)
    bob_sid = re.search(r'id="session-([^"]+)" class="current"', bob.get("/account/sessions").get_data(as_text=True)).group(1)
    token = csrf_token(here.get("/account").get_data(as_text=True))
    here.post(f"/account/sessions/{bob_sid}/end", data={"csrf_token": token})
    assert bob.get("/account").status_code == 200


def test_ending_sessions_needs_a_recent_second_factor(app, user):
    secret = add_totp(app, user.id)
    here = app.test_client()
    Actions(here).second_factor(Actions(here).login("/login?next=/account").location, code=pyotp.TOTP(secret).now())
    other = app.test_client()
    Actions(other).login("/login?next=/account")  # (stops at its second factor: no session to end)
    app.config["IDP_STEP_UP_MAX_AGE"] = -1
    answer = here.post("/account/sessions/end-others", data={"csrf_token": csrf_token(here.get("/account").get_data(as_text=True))})
    assert answer.location.startswith("/login/mfa?next=/account/sessions")


def test_revoking_a_connected_app_ends_its_refresh_token(app, client, actions, user, webapp):
    tokens = actions.tokens(webapp, scope="openid email offline_access")
    html = client.get("/account/apps").get_data(as_text=True)
    assert f'id="app-revoke-{webapp.client_id}"' in html and "test client" in html
    assert "your email address" in html
    answer = client.post(f"/account/apps/{webapp.client_id}/revoke", data={"csrf_token": csrf_token(html)})
    assert answer.status_code == 303
    refreshed = actions.token(webapp, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refreshed.status_code == 400 and refreshed.get_json()["error"] == "invalid_grant"
    assert client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code == 401
    assert 'id="apps-none"' in client.get("/account/apps").get_data(as_text=True)


def test_factors_can_be_renamed(app, client, actions, user):
    secret = add_totp(app, user.id, label="Phone")
    actions.second_factor(actions.login("/login?next=/account").location, code=pyotp.TOTP(secret).now())
    html = client.get("/account").get_data(as_text=True)
    factor_id = re.search(r'id="totp-(\d+)"', html).group(1)
    answer = client.post(f"/account/mfa/totp/{factor_id}/rename", data={"csrf_token": csrf_token(html), "name": "Work phone"})
    assert answer.status_code == 303
    html = client.get("/account").get_data(as_text=True)
    assert "Work phone" in html and ">Phone<" not in html


def test_sign_out_everywhere_else_also_ends_sessions_the_list_does_not_name(app, user):
    """A session from before the list existed (not in the per-person index) ends too."""
    import redis

    from idp.store.sessions import INDEX
    from tests.conftest import REDIS_URL

    old = signed_in_browser(app, CHROME)
    redis.Redis.from_url(REDIS_URL).delete(INDEX + str(user.id))
    here = signed_in_browser(app, FIREFOX)
    html = here.get("/account/sessions").get_data(as_text=True)
    assert session_ids(html) == []  # the old one is not listed
    here.post("/account/sessions/end-others", data={"csrf_token": csrf_token(here.get("/account").get_data(as_text=True))})
    assert old.get("/account").status_code == 302
    assert here.get("/account").status_code == 200
