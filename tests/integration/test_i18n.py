"""Which language a page speaks: ui_locales, then the switch's cookie, then Accept-Language
(issue 11); the switch itself; and discovery's ui_locales_supported."""

from __future__ import annotations

import html as html_lib
import re
from datetime import datetime, timezone
from urllib.parse import unquote

import pytest

from idp import i18n

JA = {"Accept-Language": "ja,en;q=0.5"}


def lang(response) -> str:
    match = re.search(r'<html lang="([^"]+)"', response.get_data(as_text=True))
    assert match, "no <html lang>"
    return match.group(1)


def test_accept_language_chooses_when_nothing_else_does(client):
    assert lang(client.get("/login", headers=JA)) == "ja"
    assert lang(client.get("/login", headers={"Accept-Language": "fr, en;q=0.8"})) == "en"
    assert lang(client.get("/login", headers={"Accept-Language": "ja-JP"})) == "ja"
    assert lang(client.get("/login")) == "en"


def test_the_cookie_beats_accept_language(client):
    client.set_cookie(i18n.COOKIE, "en")
    assert lang(client.get("/login", headers=JA)) == "en"
    client.set_cookie(i18n.COOKIE, "ja")
    assert lang(client.get("/login")) == "ja"


@pytest.mark.parametrize("value", ["fr", "ja; x=1", "abcdef0123456789", "", "JA"])
def test_a_cookie_other_than_en_or_ja_is_ignored(client, value):
    client.set_cookie(i18n.COOKIE, value)
    assert lang(client.get("/login", headers=JA)) == "ja"
    assert lang(client.get("/login")) == "en"


def test_ui_locales_beats_the_cookie_on_every_page_of_the_flow(client, actions, spa):
    client.set_cookie(i18n.COOKIE, "en")
    login = actions.authorize(spa, ui_locales="fr-CA ja-JP en")
    assert login.status_code == 302 and "/login?flow=" in login.location
    page = client.get(login.location, headers={"Accept-Language": "en"})
    assert lang(page) == "ja"
    # The wrong password: the same flow, the same language.
    wrong = actions.login(login.location, password="not the password")
    assert wrong.status_code == 401 and lang(wrong) == "ja"


def test_the_switch_within_a_flow_beats_its_ui_locales(client, actions, spa):
    login = actions.authorize(spa, ui_locales="ja")
    assert lang(client.get(login.location)) == "ja"
    switched = client.get("/language/en", query_string={"next": login.location})
    assert switched.location == login.location
    assert lang(client.get(login.location)) == "en"
    wrong = actions.login(login.location, password="not the password")
    assert wrong.status_code == 401 and lang(wrong) == "en"
    # Another browser cannot change the language of this one's flow.
    other = client.application.test_client()
    other.get("/language/ja", query_string={"next": login.location})
    assert lang(client.get(login.location)) == "en"


def test_ui_locales_we_do_not_speak_fall_back_to_the_cookie(client, actions, spa):
    client.set_cookie(i18n.COOKIE, "ja")
    login = actions.authorize(spa, ui_locales="fr de")
    assert lang(client.get(login.location)) == "ja"


def test_the_switch_remembers_the_language_and_goes_back(client):
    response = client.get("/language/ja?next=/login%3Fflow%3Dabc")
    assert response.status_code == 303 and response.location == "/login?flow=abc"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{i18n.COOKIE}=ja;") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert lang(client.get("/login", headers={"Accept-Language": "en"})) == "ja"
    client.get("/language/en?next=/login")
    assert lang(client.get("/login", headers=JA)) == "en"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "evil", None])
def test_the_switch_never_redirects_off_site(client, target):
    query = {"next": target} if target is not None else {}
    response = client.get("/language/en", query_string=query)
    assert response.status_code == 303 and response.location == "/"


def test_the_switch_sets_no_other_value(client):
    assert client.get("/language/fr").status_code == 404
    assert client.get("/language/ja%3B%20tracker%3D1").status_code == 404


def test_every_page_has_the_switch_pointing_back_to_it(client):
    html = client.get("/login?next=/account", headers=JA).get_data(as_text=True)
    assert 'id="language-switch"' in html
    href = html_lib.unescape(re.search(r'<a id="language-en"[^>]* href="([^"]+)"', html).group(1))
    back = client.get(href)
    assert back.status_code == 303 and unquote(back.location) == "/login?next=/account"
    assert 'id="language-ja" lang="ja" aria-current="true"' in html
    assert 'id="language-switch"' in client.get("/no-such-page").get_data(as_text=True)


def test_discovery_lists_the_languages(client):
    assert client.get("/.well-known/openid-configuration").get_json()["ui_locales_supported"] == ["en", "ja"]


def test_times_are_written_for_the_language_in_utc_with_the_zone(app):
    moment = datetime(2026, 12, 1, 13, 5, 9, tzinfo=timezone.utc)
    with app.test_request_context("/"):
        with i18n.language("en"):
            assert i18n.format_when(moment) == "Dec 1, 2026, 1:05:09\u202fPM UTC"
            assert str(i18n.when(int(moment.timestamp()))) == (
                '<time datetime="2026-12-01T13:05:09Z" data-local="medium">Dec 1, 2026, 1:05:09\u202fPM UTC</time>'
            )
        with i18n.language("ja"):
            assert i18n.format_when(moment) == "2026/12/01 13:05:09 UTC"
        assert i18n.when(None) == ""


def test_a_page_s_strings_follow_a_language_switched_mid_request(app):
    """The templates' translations are kept for the request (i18n.catalogue), yet a mail
    composed in its reader's language in the middle of one gets that language, the page
    after it the page's, and a language chosen anew (a flow's ui_locales) takes over."""
    page = app.jinja_env.from_string("{{ _('Sign in') }}")
    with app.test_request_context("/login", headers=JA):
        signed_in_ja = page.render()
        assert signed_in_ja != "Sign in"
        with i18n.language("en"):
            assert page.render() == "Sign in"
        assert page.render() == signed_in_ja
        i18n.use_ui_locales("en")
        assert page.render() == "Sign in"
