"""Invitations, forgotten passwords and mail; no route creates an account otherwise."""

import json
import re
import time
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pyotp
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import text

from idp import clock
from idp.extensions import db
from tests.helpers import PASSWORD, Actions, add_totp, csrf_token, query
from tests.live import free_port

GOOD = "a perfectly long passphrase"


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append((envelope.rcpt_tos, envelope.content.decode()))
        return "250 OK"


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def invite(app, email, *args):
    result = app.test_cli_runner().invoke(args=["users", "invite", email, *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def path_of(url):
    return url.removeprefix("http://localhost")


def accept(http, link, password=GOOD, confirm=None):
    page = http.get(path_of(link))
    assert page.status_code == 200, page.status_code
    return http.post(path_of(link), data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "password": password,
        "password_confirm": confirm if confirm is not None else password,
    })


def users(app):
    with app.app_context():
        return [r[0] for r in db.session.execute(text("SELECT email FROM users ORDER BY id"))]


# --- invitations ---------------------------------------------------------------------

def test_invitation_journey_without_mfa(app, client, spa):
    created = invite(app, "Newbie@Example.com")
    assert created["invite_url"].startswith("http://localhost/invite/") and created["expires_at"] > clock.now()
    assert users(app) == []  # nothing usable exists before the invitation is completed
    response = accept(client, created["invite_url"])
    assert response.status_code == 303 and "/account" in response.location
    assert users(app) == ["newbie@example.com"]
    assert "Welcome" in client.get(response.location).get_data(as_text=True)
    # Signed in with a fresh session: a client gets a code without another sign-in.
    assert "code" in query(Actions(client).authorize(spa, prompt="none").location)


def test_invitation_with_mfa_required_enrols_before_anything(app, client, spa):
    created = invite(app, "secure@example.com", "--require-mfa")
    response = accept(client, created["invite_url"], password="short but ok 1")
    assert response.status_code == 303 and response.location.startswith("/account/setup")
    # No token before enrolment.
    assert query(Actions(client).authorize(spa, prompt="none").location)["error"] in ("interaction_required", "login_required")


def test_used_expired_and_revoked_links(app, client, monkeypatch):
    used = invite(app, "one@example.com")
    accept(client, used["invite_url"])
    again = app.test_client().get(path_of(used["invite_url"]))
    assert again.status_code == 410 and "already used" in again.get_data(as_text=True)

    expired = invite(app, "two@example.com")
    later = clock.now() + 259200 + 1
    monkeypatch.setattr(clock, "now", lambda: later)
    page = app.test_client().get(path_of(expired["invite_url"]))
    assert page.status_code == 410 and "expired" in page.get_data(as_text=True)
    monkeypatch.undo()

    revoked = invite(app, "three@example.com")
    invite(app, "three@example.com")  # a new invitation replaces the earlier one
    page = app.test_client().get(path_of(revoked["invite_url"]))
    assert page.status_code == 410 and "withdrawn" in page.get_data(as_text=True)
    assert app.test_client().get("/invite/not-a-token").status_code == 404
    assert users(app) == ["one@example.com"]


def test_weak_and_blocklisted_passwords_are_refused_with_the_reason(app, client):
    link = invite(app, "carol.jones@example.com")["invite_url"]
    for password, reason in [("short", "at least 15"), ("password12345678", "common"),
                             ("carol.jones is great", "email")]:
        response = accept(client, link, password=password)
        assert response.status_code == 400 and reason in response.get_data(as_text=True).lower()
    assert accept(client, link, password=GOOD, confirm=GOOD + "x").status_code == 400
    assert users(app) == []
    assert accept(client, link).status_code == 303


def test_invitation_to_an_existing_email_is_refused(app, user):
    result = app.test_cli_runner().invoke(args=["users", "invite", "ALICE@example.com", "--json"])
    assert result.exit_code != 0 and "already has an account" in result.output


def test_invitation_token_is_stored_hashed(app):
    link = invite(app, "hash@example.com")["invite_url"]
    token = link.rsplit("/", 1)[1]
    assert len(token) >= 43  # 256 bits
    with app.app_context():
        dump = str(db.session.execute(text("SELECT * FROM invitations")).all())
    assert token not in dump


def test_prompt_create_is_refused_and_there_is_no_signup_route(client, actions, spa):
    assert query(actions.authorize(spa, prompt="create").location)["error"] == "invalid_request"
    for path in ("/signup", "/register", "/users", "/account/new"):
        assert client.post(path).status_code in (404, 405)


def test_invitation_mail_goes_over_smtp(app, smtp):
    controller, inbox = smtp
    app.config["IDP_SMTP_URL"] = f"smtp://127.0.0.1:{controller.port}"
    created = invite(app, "mail@example.com")
    for _ in range(50):
        if inbox.messages:
            break
        time.sleep(0.05)
    recipients, raw = inbox.messages[0]
    message = message_from_bytes(raw.encode(), policy=default)
    assert recipients == ["mail@example.com"] and message.get_content_type() == "text/plain"
    assert created["invite_url"] in message.get_content() and "invited you" in message.get_content()


def test_without_smtp_mail_goes_to_the_outbox(app):
    link = invite(app, "outbox@example.com")["invite_url"]
    assert [m["To"] for m in outbox(app)] == ["outbox@example.com"]
    assert link in outbox(app)[0].get_content()


# --- forgotten password --------------------------------------------------------------

def outbox(app) -> list:
    folder = Path(app.instance_path) / "outbox"
    files = sorted(folder.glob("*.eml"), key=lambda f: f.stat().st_mtime_ns) if folder.exists() else []
    return [message_from_bytes(f.read_bytes(), policy=default) for f in files]


def outbox_link(app, email, kind, wait=30.0):
    """The link of the newest matching mail; such mail leaves in the background."""
    deadline = time.monotonic() + wait
    while True:
        for message in reversed(outbox(app)):
            if message["To"] == email and kind in message["Subject"]:
                return re.search(r"http://localhost(/password/reset/\S+)", message.get_content()).group(1)
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)


def ask_reset(http, email):
    page = http.get("/password/forgot").get_data(as_text=True)
    return http.post("/password/forgot", data={"csrf_token": csrf_token(page), "email": email})


def set_password(http, link, password):
    entered = http.get(link)
    assert entered.status_code == 303 and entered.location == "/password/reset", entered.status_code
    page = http.get("/password/reset")
    assert page.status_code == 200, page.location
    return http.post("/password/reset", data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                             "password": password, "password_confirm": password})


def test_same_answer_whether_the_account_exists_or_not(app, client, user):
    known, unknown = ask_reset(client, "alice@example.com"), ask_reset(client, "nobody@example.com")
    strip = lambda r: re.sub(r'value="[^"]+"', "", r.get_data(as_text=True))  # noqa: E731
    assert known.status_code == unknown.status_code == 200 and strip(known) == strip(unknown)
    assert outbox_link(app, "alice@example.com", "Reset") and not outbox_link(app, "nobody@example.com", "Reset", wait=0.5)


def test_reset_without_second_factor(app, client, user, spa):
    old_session = app.test_client()
    Actions(old_session).tokens(spa)
    ask_reset(client, "alice@example.com")
    link = outbox_link(app, "alice@example.com", "Reset")
    response = set_password(client, link, "a brand new passphrase")
    assert response.status_code == 303
    assert app.test_client().get(link).status_code == 410  # single use
    # The old password is gone, the new one works, sessions from before are over.
    assert query(Actions(old_session).authorize(spa, prompt="none").location)["error"] == "login_required"
    fresh = Actions(app.test_client())
    assert fresh.login(fresh.authorize(spa).location, password=PASSWORD).status_code == 401
    assert fresh.login(fresh.authorize(spa).location, password="a brand new passphrase").status_code == 303


def test_reset_link_expires(app, client, user, monkeypatch):
    ask_reset(client, "alice@example.com")
    link = outbox_link(app, "alice@example.com", "Reset")
    later = clock.now() + 1801
    monkeypatch.setattr(clock, "now", lambda: later)
    assert client.get(link).status_code == 410


def test_reset_with_a_second_factor_needs_it(app, client, user):
    secret = add_totp(app, user.id)
    ask_reset(client, "alice@example.com")
    link = outbox_link(app, "alice@example.com", "Reset")
    # The mailbox alone is not enough: the link leads to the second factor first.
    assert client.get(link).location == "/password/reset"
    first = client.get("/password/reset")
    assert first.status_code == 302 and first.location.startswith("/login/mfa") and "reset/" not in first.location
    assert 'name="password"' not in client.get(first.location).get_data(as_text=True)
    done = Actions(client).second_factor(first.location, code=pyotp.TOTP(secret).at(clock.now()))
    assert done.status_code == 303 and done.location == "/password/reset"
    # A second factor alone is not a sign-in.
    assert client.get("/account").status_code == 302
    page = client.get("/password/reset")
    response = client.post("/password/reset", data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                                   "password": "a brand new passphrase", "password_confirm": "a brand new passphrase"})
    assert response.status_code == 303
    assert client.get("/account").status_code == 200


# --- disabling ----------------------------------------------------------------------

def test_disable_ends_sessions_and_refresh_tokens(app, client, user, spa):
    actions = Actions(client)
    tokens = actions.tokens(spa)
    assert app.test_cli_runner().invoke(args=["users", "disable", "alice@example.com"]).exit_code == 0
    assert client.get("/account").status_code == 302
    refresh = actions.token(spa, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refresh.get_json()["error"] == "invalid_grant"
    assert client.get("/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]}).status_code == 401
    assert app.test_cli_runner().invoke(args=["users", "enable", "alice@example.com"]).exit_code == 0
    assert actions.tokens(spa)


def test_reset_mfa_makes_the_person_enrol_again(app, client, user, spa):
    secret = add_totp(app, user.id)
    Actions(client).tokens(spa, totp_secret=secret)
    result = app.test_cli_runner().invoke(args=["users", "reset-mfa", "alice@example.com"])
    assert result.exit_code == 0
    fresh = Actions(app.test_client())
    fresh.http.get(path_of(result.output.split(": ")[-1].strip()))  # the mailed link (tests/integration/test_reset_mfa.py)
    response = fresh.login(fresh.authorize(spa).location)
    assert "/account/setup" in fresh.http.get(response.location).location


def test_new_device_notice(app, client, user, spa):
    def notices(expected):
        deadline = time.monotonic() + 3
        while True:
            found = [m for m in outbox(app) if m["Subject"] == "New sign-in to your account"]
            if len(found) >= expected or time.monotonic() > deadline:
                time.sleep(0.2)  # and nothing more arrives
                return [m for m in outbox(app) if m["Subject"] == "New sign-in to your account"]
            time.sleep(0.05)

    Actions(client).tokens(spa)
    assert len(notices(1)) == 1
    assert "Address: 127.0.0.1" in notices(1)[0].get_content()
    Actions(client).tokens(spa, prompt="login")  # the same browser again: no notice
    assert len(notices(2)) == 1
    Actions(app.test_client()).tokens(spa)
    assert len(notices(2)) == 2


def test_reset_requests_are_limited_and_a_new_link_ends_the_old(app, client, user):
    ask_reset(client, "alice@example.com")
    first = outbox_link(app, "alice@example.com", "Reset")
    time.sleep(0.01)
    ask_reset(client, "alice@example.com")
    deadline = time.monotonic() + 3
    while (second := outbox_link(app, "alice@example.com", "Reset")) == first and time.monotonic() < deadline:
        time.sleep(0.05)
    assert second != first
    assert client.get(first).status_code == 410
    ask_reset(client, "alice@example.com")
    ask_reset(client, "alice@example.com")  # the fourth within the hour: answered, not sent
    time.sleep(0.5)
    sent = [m for m in outbox(app) if m["Subject"] == "Reset your password"]
    assert len(sent) == 3


def test_changing_the_password_ends_other_sessions_but_not_this_one(app, client, user, spa):
    other = Actions(app.test_client())
    tokens = other.tokens(spa)
    Actions(client).tokens(spa)
    page = client.get("/account/password")
    response = client.post("/account/password", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "current_password": PASSWORD,
        "password": "a brand new passphrase", "password_confirm": "a brand new passphrase",
    })
    assert response.status_code == 303
    assert client.get("/account").status_code == 200
    assert other.http.get("/account").status_code == 302
    assert other.token(spa, grant_type="refresh_token", refresh_token=tokens["refresh_token"]).status_code == 400
