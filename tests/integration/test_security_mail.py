"""Security mail for every event that matters to the owner, received by a real SMTP server
on loopback and parsed: what happened, when, from where, what to do; RFC 5322 Date and
Message-ID; text and HTML."""

import threading
from email import message_from_string
from email.policy import default

import pyotp
import pytest

from idp import clock
from tests.helpers import PASSWORD, Actions, add_recovery_codes, add_totp, csrf_token, make_user
from tests.integration.test_admin import admin, post, sign_in  # noqa: F401  (the fixture)
from tests.integration.test_onboarding import smtp  # noqa: F401  (the fixture)


@pytest.fixture
def inbox(app, smtp):  # noqa: F811
    controller, box = smtp
    app.config["IDP_SMTP_URL"] = f"smtp://127.0.0.1:{controller.port}"
    return box


def security_mail(box, subject: str, to: str = "alice@example.com"):
    """The first message with this subject; mail leaves in the background, so wait for it
    (by waiting on the mail threads, not on a clock)."""
    for thread in threading.enumerate():
        if thread.name == "idp-mail":
            thread.join()
    found = [message_from_string(raw, policy=default) for rcpt, raw in box.messages if to in rcpt]
    found = [m for m in found if m["Subject"] == subject]
    assert found, [message_from_string(raw, policy=default)["Subject"] for _, raw in box.messages]
    message = found[0]
    assert message["Date"] and message["Message-ID"].startswith("<") and message["Message-ID"].endswith("@localhost>")
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "http://localhost/account" in text and 'href="http://localhost/account"' in html
    assert "UTC" in text
    return text, html


def subjects(box):
    for thread in threading.enumerate():
        if thread.name == "idp-mail":
            thread.join()
    return [message_from_string(raw, policy=default)["Subject"] for _, raw in box.messages]


def test_password_changed(app, client, actions, user, inbox):
    actions.login("/login?next=/account")
    html = client.get("/account/password").get_data(as_text=True)
    client.post("/account/password", data={"csrf_token": csrf_token(html), "current_password": PASSWORD,
                                           "password": "an entirely new passphrase", "password_confirm": "an entirely new passphrase"})
    text, _ = security_mail(inbox, "Your password was changed")
    assert "127.0.0.1" in text and "change your password" in text


def test_second_factor_added_and_removed_with_names_escaped(app, client, actions, user, inbox):
    from tests.integration.test_mfa import totp_secret_of

    actions.login("/login?next=/account")
    html = client.get("/account/mfa/totp/new").get_data(as_text=True)
    secret = totp_secret_of(html)
    client.post("/account/mfa/totp/new", data={"csrf_token": csrf_token(html), "code": pyotp.TOTP(secret).now(),
                                               "label": "<b>Phone</b>"})
    text, html_mail = security_mail(inbox, "A second factor was added to your account")
    assert "<b>Phone</b>" in text and "&lt;b&gt;Phone&lt;/b&gt;" in html_mail and "<b>Phone</b>" not in html_mail
    page = client.get("/account").get_data(as_text=True)
    import re

    factor_id = re.search(r'id="totp-(\d+)"', page).group(1)
    client.post(f"/account/mfa/totp/{factor_id}/delete", data={"csrf_token": csrf_token(page)})
    security_mail(inbox, "A second factor was removed from your account")


def test_recovery_code_used_says_how_many_remain(app, client, actions, user, inbox):
    add_totp(app, user.id)
    codes = add_recovery_codes(app, user.id)
    actions.second_factor(actions.login("/login?next=/account").location, recovery_code=codes[0])
    text, _ = security_mail(inbox, "A recovery code was used to sign in")
    assert "9 recovery codes left" in text


def test_admin_reset_and_disable(app, client, admin, user, inbox):  # noqa: F811
    sign_in(client, "root@example.com", admin[1])
    post(client, f"/admin/users/{user.id}/reset-mfa", confirm="yes")
    # Its own mail (accounts.reset_mfa) carries the link to enrol again: one mail, not two.
    assert "The second factors of your account were reset" in subjects(inbox)
    post(client, f"/admin/users/{user.id}/disable", confirm="yes")
    text, _ = security_mail(inbox, "Your account was disabled")
    assert "ask your administrator" in text


def test_wrong_codes_after_the_right_password(app, user, inbox):
    secret = add_totp(app, user.id)
    wrong = f"{(int(pyotp.TOTP(secret).now()) + 1) % 1000000:06d}"
    browser = Actions(app.test_client())
    mfa = browser.login("/login?next=/account").location
    for _ in range(app.config["IDP_MFA_FAILURE_NOTIFY"]):
        browser.second_factor(mfa, code=wrong)
    text, _ = security_mail(inbox, "Your password was used: change it")
    assert "someone knows your password" in text and "3 wrong codes" in text
    assert subjects(inbox).count("Your password was used: change it") == 1


def test_lockout_after_wrong_codes(app, user, inbox, monkeypatch):
    app.config["IDP_MFA_MAX_ATTEMPTS"] = 100
    secret = add_totp(app, user.id)
    wrong = f"{(int(pyotp.TOTP(secret).now()) + 1) % 1000000:06d}"
    browser = Actions(app.test_client())
    mfa = browser.login("/login?next=/account").location
    for _ in range(app.config["IDP_LOCKOUT_THRESHOLD"]):
        browser.second_factor(mfa, code=wrong)
    security_mail(inbox, "Sign-in locked after wrong codes")


def test_wrong_passwords_mail_nobody(app, client, user, inbox):
    for _ in range(app.config["IDP_LOCKOUT_THRESHOLD"] + 1):
        page = client.get("/login").get_data(as_text=True)
        client.post("/login", data={"csrf_token": csrf_token(page), "email": "alice@example.com", "password": "wrong"})
    assert subjects(inbox) == []


def test_a_change_rolled_back_mails_nobody(app, user, inbox):
    from idp import audit
    from idp.extensions import db

    with app.test_request_context():
        audit.emit("user.disabled", user_id=user.id)
        db.session.rollback()
        db.session.commit()
    assert subjects(inbox) == []


def test_the_cli_mails_too(app, user, inbox):
    assert app.test_cli_runner().invoke(args=["users", "disable", "alice@example.com"]).exit_code == 0
    security_mail(inbox, "Your account was disabled")
