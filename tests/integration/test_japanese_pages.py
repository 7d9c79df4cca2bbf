"""Every page a person reads, in Japanese, with no English left apart from names, codes
and the switch's "English" (issue 11: "no English is left on a ja page")."""

from __future__ import annotations

import html
import re

import pyotp
import pytest
from sqlalchemy import update

from idp import clock, i18n
from idp.extensions import db
from idp.models import Client
from tests.helpers import Actions, add_totp, make_client
from tests.integration.test_admin import admin, post, sign_in  # noqa: F401 (fixture)
from tests.integration.test_onboarding import invite

# Names and codes that are the same in every language.
ALLOWED = {
    "English", "ID", "IP", "URI", "URL", "NUL", "acr", "pwd", "mfa", "phr", "kid", "alg", "client_id",
    "client_secret", "RS256", "ES256", "EdDSA", "http", "https", "localhost", "UTC", "NAME", "callback",
    "login", "upstream", "ja", "en", "Google", "QR", "PKCE", "DPoP", "nonce", "offline_access", "RFC", "JWKS",
}


def english_left(page: str) -> list[str]:
    page = re.sub(r"<(script|style|code|time)\b.*?</\1>", " ", page, flags=re.S)
    page = re.sub(r'<(\w+)[^>]*\blang="en"[^>]*>.*?</\1>', " ", page, flags=re.S)
    page = re.sub(r'<input[^>]*type="hidden"[^>]*>', " ", page)
    messages = re.findall(r'<div id="webauthn-messages"[^>]*>', page)  # the script's sentences
    attributes = re.findall(r'\b(?:title|placeholder|aria-label|alt|value)="([^"]*)"', page)
    attributes += [v for m in messages for v in re.findall(r'data-[\w-]+="([^"]*)"', m)]
    text = " ".join([re.sub(r"<[^>]+>", " ", page), *attributes])
    text = html.unescape(text)
    text = re.sub(r"\S+@\S+|https?://\S+|/[\w/.-]+|\b[\w-]{20,}\b", " ", text)  # addresses, paths, tokens
    words = re.findall(r"[A-Za-z][\w'-]+", text)
    return sorted({w for w in words if w not in ALLOWED})


def html_of(response) -> str:
    assert response.status_code < 500
    body = response.get_data(as_text=True)
    assert '<html lang="ja">' in body, body[:200]
    return body


@pytest.fixture
def ja(app):
    http = app.test_client()
    http.set_cookie(i18n.COOKIE, "ja")
    return http


def test_the_pages_before_sign_in(app, ja):
    link = invite(app, "new@example.com", "--require-mfa")["invite_url"].removeprefix("http://localhost")
    spa = make_client(app, public=True)
    pages = {
        "/login": ja.get("/login"),
        "/password/forgot": ja.get("/password/forgot"),
        "invite": ja.get(link),
        "404": ja.get("/no-such-page"),
        "bad client": ja.get("/authorize?client_id=nobody&response_type=code"),
        "expired flow": ja.get("/authorize/resume?flow=gone"),
        "unknown invitation": ja.get("/invite/not-a-token"),
        "sign out": ja.get("/logout"),
        "upstream refused": ja.get("/login/upstream/nobody/callback?state=x"),
    }
    assert spa
    for name, response in pages.items():
        assert english_left(html_of(response)) == [], name


def test_the_pages_of_a_signed_in_person(app, ja, user):
    actions = Actions(ja)
    actions.login("/login?next=/account")
    secret = add_totp(app, user.id, label="仕事用スマホ")
    for path in ("/account", "/account/password", "/account/setup", "/account/mfa/totp/new"):
        response = ja.get(path)
        if response.status_code in (302, 303):  # a step-up first: that page is checked too
            mfa = ja.get(response.location)
            assert english_left(html_of(mfa)) == [], response.location
            actions.second_factor(response.location, code=pyotp.TOTP(secret).at(clock.now()))
            response = ja.get(path)
        assert english_left(html_of(response)) == [], path


def test_the_console(app, ja, admin, user):  # noqa: F811
    sign_in(ja, "root@example.com", admin[1])
    portal = make_client(app, public=False)
    with app.app_context():
        db.session.execute(update(Client).where(Client.client_id == portal.client_id).values(name="社内ポータル"))
        db.session.commit()
    invite(app, "guest@example.com")
    for path in ("/admin", f"/admin/users/{user.id}", "/admin/invitations", "/admin/clients", "/admin/upstreams",
                 "/admin/keys", "/admin/audit"):
        assert english_left(html_of(ja.get(path))) == [], path
    done = post(ja, "/admin/invitations", email="friend@example.com")
    assert english_left(html_of(ja.get(done.location))) == []


def test_the_check_sees_english():
    assert english_left('<p>ログイン <b>Sign in</b></p><input placeholder="Phone">') == ["Phone", "Sign", "in"]
    assert english_left('<p lang="en">Details</p><code>invalid_request</code> alice@example.com') == []
