"""Mail in the person's language: the invitation's (chosen by whoever invites), then what
the person chose on the language switch; English when nothing says otherwise."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from idp import i18n, mail
from idp.extensions import db
from idp.models import User
from tests.helpers import Actions, csrf_token, make_user
from tests.integration.test_admin import admin, post, sign_in  # noqa: F401 (fixture)
from tests.integration.test_onboarding import accept, ask_reset, invite, outbox, outbox_link

JA = {"Accept-Language": "ja"}


def locale_of(app, email: str) -> str | None:
    with app.app_context():
        return db.session.scalar(select(User.locale).where(User.email == email))


def test_an_invitation_in_japanese_makes_a_japanese_account(app):
    link = invite(app, "hanako@example.com", "--language", "ja")["invite_url"]
    (message,) = outbox(app)
    assert message["Subject"] == "アカウントへの招待"
    body = message.get_content()
    assert link in body and "パスワードを設定してください" in body and "invited" not in body
    http = app.test_client()
    http.set_cookie(i18n.COOKIE, "ja")
    assert accept(http, link).status_code == 303
    assert locale_of(app, "hanako@example.com") == "ja"


def test_an_invitation_is_in_english_unless_asked(app):
    invite(app, "john@example.com")
    (message,) = outbox(app)
    assert message["Subject"] == "You are invited" and "invited you" in message.get_content()


def test_the_console_invites_in_the_language_chosen(client, app, admin):  # noqa: F811
    sign_in(client, "root@example.com", admin[1])
    page = client.get("/admin/invitations", headers=JA).get_data(as_text=True)
    assert '<option value="ja" lang="ja" selected>' in page
    assert post(client, "/admin/invitations", email="taro@example.com", language="ja").status_code == 303
    (message,) = [m for m in outbox(app) if m["To"] == "taro@example.com"]
    assert message["Subject"] == "アカウントへの招待"


def test_the_switch_sets_the_language_of_later_mail(app, client, user):
    Actions(client).login("/login?next=/account")
    assert locale_of(app, user.email) is None
    client.get("/language/ja?next=/account")
    assert locale_of(app, user.email) == "ja"
    # A reset asked from an English page still goes out in the person's language.
    anonymous = app.test_client()
    ask_reset(anonymous, user.email)
    assert outbox_link(app, user.email, "パスワードの再設定")


def test_without_a_language_of_their_own_mail_follows_the_page(app):
    make_user(app, "kenji@example.com")
    http = app.test_client()
    page = http.get("/password/forgot", headers=JA).get_data(as_text=True)
    http.post("/password/forgot", headers=JA, data={"csrf_token": csrf_token(page), "email": "kenji@example.com"})
    assert outbox_link(app, "kenji@example.com", "パスワードの再設定")


def test_the_new_browser_notice_in_japanese(app):
    with app.test_request_context("/"):
        subject, body = mail.compose("new_device", "ja", site="http://localhost", address="192.0.2.1", browser="",
                                     when=datetime(2026, 12, 1, 4, 5, tzinfo=timezone.utc))
    assert subject == "新しいブラウザーからログインがありました"
    assert "日時:    2026/12/01 4:05:00 UTC" in body and "IP アドレス: 192.0.2.1" in body and "不明なブラウザー" in body
