"""Issue 9, item 5: after `reset-mfa`, whoever had the password went straight to enrolment
and claimed the new second factor. Now the owner is mailed a single-use link, and an
account that must have a second factor enrols only with the password *and* the link."""

from __future__ import annotations

import re
import threading

import pyotp
import pytest
from sqlalchemy import text

from idp import clock
from idp.extensions import db
from tests.helpers import Actions, add_recovery_codes, add_totp, make_user
from tests.integration.test_mfa import enrol_totp_via_pages
from tests.integration.test_onboarding import outbox


def mails(app, to: str, subject: str) -> list:
    for thread in threading.enumerate():  # mail that leaves in the background, first
        if thread.name.startswith("idp-") and thread is not threading.current_thread():
            thread.join()
    return [m for m in outbox(app) if m["To"] == to and subject in m["Subject"]]


def link_in(message) -> str:
    return re.search(r"http://localhost(/enrol/\S+)", message.get_content()).group(1)


def reset(app, email="alice@example.com") -> str:
    result = app.test_cli_runner().invoke(args=["users", "reset-mfa", email])
    assert result.exit_code == 0, result.output
    (message,) = mails(app, email, "were reset")
    return link_in(message)


def totps(app) -> int:
    with app.app_context():
        return db.session.execute(text("SELECT count(*) FROM totp_factors")).scalar()


@pytest.fixture
def was_enrolled(app, user):
    add_recovery_codes(app, user.id)
    return add_totp(app, user.id)


def test_the_password_alone_never_reaches_enrolment(app, user, spa, was_enrolled):
    reset(app)
    attacker = Actions(app.test_client())
    response = attacker.login(attacker.authorize(spa).location)
    assert response.status_code == 403, (response.status_code, response.location)
    assert "mail" in response.get_data(as_text=True)
    for page in ("/account/setup", "/account/mfa/totp/new", "/account"):
        assert attacker.http.get(page).location.startswith("/login"), page
    assert totps(app) == 0
    # The owner hears of it: a new link goes to them, not to whoever typed the password.
    (again,) = mails(app, "alice@example.com", "Set up a second factor")
    assert "/enrol/" in again.get_content()


def test_the_owner_enrols_with_the_link_and_the_password(app, client, user, spa, was_enrolled):
    link = reset(app)
    opened = client.get(link)
    assert opened.status_code == 303 and opened.location.startswith("/login"), opened.location
    owner = Actions(client)
    response = owner.login(opened.location)
    assert response.status_code == 303
    assert client.get(response.location).location.startswith("/account/setup")
    secret, enrolled = enrol_totp_via_pages(client)
    assert enrolled.status_code == 303 and totps(app) == 1
    assert mails(app, "alice@example.com", "A second factor was added")
    # Single use: the link is spent, and the password now leads to the new factor.
    assert app.test_client().get(link).status_code == 410
    other = Actions(app.test_client())
    assert other.login(other.authorize(spa).location).location.startswith("/login/mfa")
    assert other.second_factor(other.login(other.authorize(spa).location).location,
                               code=pyotp.TOTP(secret).at(clock.now() + 30)).status_code == 303


def test_the_link_alone_is_not_enough(app, client, user, spa, was_enrolled):
    client.get(reset(app))
    assert Actions(client).login("/login?next=/account", password="not the password").status_code == 401
    assert client.get("/account/setup").location.startswith("/login") and totps(app) == 0


def test_someone_elses_link_does_not_open_this_account(app, client, user, spa, was_enrolled):
    make_user(app, "bob@example.com")
    bobs = reset(app, "bob@example.com")
    reset(app)
    client.get(bobs)
    assert Actions(client).login("/login?next=/account").status_code == 403  # alice's password, bob's link
    assert totps(app) == 0


def test_an_admin_reset_from_the_console_mails_the_link(app, client, user, was_enrolled):
    from tests.integration.test_admin import post, sign_in

    person = make_user(app, "root@example.com", is_admin=True)
    sign_in(client, "root@example.com", add_totp(app, person.id))
    done = post(client, f"/admin/users/{user.id}/reset-mfa", confirm="yes")
    assert 'id="admin-message"' in client.get(done.location).get_data(as_text=True)
    (message,) = mails(app, "alice@example.com", "were reset")
    assert "/enrol/" in (message.get_body(("plain",)) or message).get_content()
