"""Issue 9, item 13: the console and the account page said whatever `?done=` and `?error=`
said, as their own message (phishing text, escaped). Messages now travel in the session
(flashed), shown once, and the URL carries none."""

from __future__ import annotations

import pytest

from tests.helpers import Actions, add_totp, make_user
from tests.integration.test_admin import post, sign_in

PHISH = "Your account is compromised: call +1 555 0100 now"


@pytest.fixture
def admin(app):
    person = make_user(app, "root@example.com", is_admin=True)
    return person, add_totp(app, person.id)


@pytest.mark.parametrize("field", ["done", "error"])
def test_the_console_does_not_say_what_the_url_says(client, admin, field):
    sign_in(client, "root@example.com", admin[1])
    for path in ("/admin", "/admin/invitations", f"/admin/users/{admin[0].id}"):
        page = client.get(f"{path}?{field}={PHISH}").get_data(as_text=True)
        assert "compromised" not in page, path


@pytest.mark.parametrize("field", ["done", "error"])
def test_the_account_page_does_not_say_what_the_url_says(client, user, field):
    Actions(client).login("/login?next=/account")
    page = client.get(f"/account?{field}={PHISH}").get_data(as_text=True)
    assert "compromised" not in page


def test_an_action_says_what_it_did_once_with_nothing_in_the_url(client, admin, user):
    sign_in(client, "root@example.com", admin[1])
    done = post(client, "/admin/invitations", email="new@example.com")
    assert done.status_code == 303 and "?" not in done.location, done.location
    page = client.get(done.location).get_data(as_text=True)
    assert 'id="admin-message"' in page and "invitation sent" in page
    assert 'id="admin-message"' not in client.get(done.location).get_data(as_text=True)  # once
    refused = post(client, "/admin/invitations", email="alice@example.com")
    assert "?" not in refused.location
    page = client.get(refused.location).get_data(as_text=True)
    assert 'id="admin-error"' in page and "already has an account" in page


def test_the_account_page_says_what_was_done_once(client, user):
    Actions(client).login("/login?next=/account")
    from tests.helpers import PASSWORD, csrf_token

    form = client.get("/account/password").get_data(as_text=True)
    done = client.post("/account/password", data={
        "csrf_token": csrf_token(form), "current_password": PASSWORD,
        "password": "a new and long passphrase", "password_confirm": "a new and long passphrase",
    })
    assert done.status_code == 303 and "?" not in done.location, done.location
    assert "Your password was changed." in client.get(done.location).get_data(as_text=True)
    assert "Your password was changed." not in client.get(done.location).get_data(as_text=True)
