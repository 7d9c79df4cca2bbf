"""Pages people understand, in a real browser: cancel returns access_denied to the app,
"sign out everywhere else" really ends the other browser's session, a connected app can be
revoked, and every page has a way onward. Screenshots at desktop and phone widths go to
artifacts/screenshots/ (IDP_E2E_ARTIFACTS) for a person to look at."""

from __future__ import annotations

import os
import re
import secrets
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest

from .pages import expect, fill_login, pkce_pair, wait_for_login_page

pytestmark = pytest.mark.e2e

ARTIFACTS = Path(os.environ.get("IDP_E2E_ARTIFACTS", Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"))
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}


def shoot(page, name: str) -> None:
    """One screenshot per width, and the page must offer a way onward (a link or a button)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert page.locator("a[href], button").count() > 0, f"{name}: a dead end at {page.url}"
    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(dict(zip(("width", "height"), WIDTHS["desktop"])))


def authorize_url(issuer: str, client_id: str, redirect_uri: str, state: str, challenge: str | None = None) -> str:
    challenge = challenge or pkce_pair()[1]
    return issuer + "/authorize?" + urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": "openid email",
        "state": state, "nonce": secrets.token_hex(8), "code_challenge": challenge, "code_challenge_method": "S256",
    })


def sign_in_to_account(page, issuer: str, email: str, password: str) -> None:
    page.goto(issuer + "/login?next=/account")
    fill_login(page, email, password)
    page.locator("#login-submit").click()
    page.wait_for_url(issuer + "/account")


def test_cancel_returns_access_denied_to_the_app(page, live_server, receiver):
    issuer = live_server.url
    page.goto(authorize_url(issuer, receiver.client_id, receiver.redirect_uri, "st-cancel"))
    wait_for_login_page(page, issuer)
    expect(page.locator("#client-name")).to_contain_text("live")
    shoot(page, "login-with-app")
    page.locator("#login-cancel").click()
    expect(page.locator("#received")).to_be_visible()
    hit = [h for h in receiver.server.snapshot() if h.path == "/cb"][-1]
    assert hit.query["error"] == ["access_denied"] and hit.query["state"] == ["st-cancel"]
    assert hit.query["iss"] == [issuer]


def test_sign_out_everywhere_else_ends_the_other_browser(browser, page, live_server, make_user):
    issuer = live_server.url
    email, password = make_user()
    sign_in_to_account(page, issuer, email, password)
    shoot(page, "account")
    other_context = browser.new_context()
    other = other_context.new_page()
    try:
        sign_in_to_account(other, issuer, email, password)
        page.goto(issuer + "/account/sessions")
        expect(page.locator("#session-current")).to_have_count(1)
        expect(page.locator("[id^=session-end-]")).to_have_count(1)
        shoot(page, "account-sessions")
        page.locator("#sessions-end-others").click()
        expect(page.locator("#sessions-message")).to_be_visible()
        expect(page.locator("[id^=session-end-]")).to_have_count(0)
        other.goto(issuer + "/account")
        assert other.url.startswith(issuer + "/login"), other.url  # signed out there
        page.goto(issuer + "/account")
        assert page.url == issuer + "/account"  # and not here
    finally:
        other_context.close()


def test_a_connected_app_is_revoked_from_the_account_page(page, live_server, receiver, make_user):
    issuer = live_server.url
    email, password = make_user()
    verifier, challenge = pkce_pair()
    page.goto(authorize_url(issuer, receiver.client_id, receiver.redirect_uri, "st-apps", challenge))
    wait_for_login_page(page, issuer)
    fill_login(page, email, password)
    page.locator("#login-submit").click()
    expect(page.locator("#received")).to_be_visible()
    code = [h for h in receiver.server.snapshot() if h.path == "/cb"][-1].query["code"][0]
    form = urlencode({"grant_type": "authorization_code", "code": code, "redirect_uri": receiver.redirect_uri,
                      "client_id": receiver.client_id, "code_verifier": verifier}).encode()
    with urllib.request.urlopen(issuer + "/token", data=form, timeout=10) as answer:
        assert answer.status == 200  # the grant the app now holds
    page.goto(issuer + "/account/apps")
    button = page.locator(f"#app-revoke-{re.escape(receiver.client_id)}")
    expect(button).to_be_visible()
    shoot(page, "account-apps")
    button.click()
    expect(page.locator("#apps-none")).to_be_visible()


def test_the_start_and_final_pages_lead_onward(page, live_server, make_user):
    issuer = live_server.url
    page.goto(issuer + "/")
    expect(page.locator("#home-sign-in")).to_be_visible()
    shoot(page, "start")
    page.goto(issuer + "/no-such-page")
    expect(page.locator("#error-home")).to_be_visible()
    shoot(page, "not-found")
    email, password = make_user()
    sign_in_to_account(page, issuer, email, password)
    page.goto(issuer + "/")
    expect(page.locator("#home-account")).to_be_visible()
    page.locator("#home-sign-out").click()
    expect(page.locator("#sign-in-again")).to_be_visible()
    shoot(page, "signed-out")
