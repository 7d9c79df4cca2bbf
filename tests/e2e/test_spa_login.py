"""A browser SPA on oidc-client-ts, on an origin of its own, signs in through the hosted
page, calls userinfo, refreshes, and signs out: cross-origin calls to /token and /userinfo
prove CORS for the public client's registered origin."""

from __future__ import annotations

import json
import re
import time

import pytest

from .pages import expect, query, sign_in, sign_out_at_provider, spa_claims, spa_status, wait_for_login_page

pytestmark = pytest.mark.e2e


def test_spa_signs_in_refreshes_calls_userinfo_and_signs_out(page, spa, live_server, make_user, watch):
    issuer = live_server.url
    client_id = spa.config["client_id"]
    email, password = make_user()

    # --- sign in through the hosted page ---------------------------------------------
    page.goto(spa.origin + "/index.html")
    spa_status(page, "ready")
    page.locator("#sign-in").click()
    before = int(time.time())
    sign_in(page, issuer, email, password)
    spa_status(page, "signed-in")
    assert page.url == spa.origin + "/index.html"

    claims = spa_claims(page)
    assert claims["iss"] == issuer
    assert claims["aud"] == client_id or client_id in claims["aud"]
    assert claims["acr"] == "pwd"
    assert claims["amr"] == ["pwd"]
    assert isinstance(claims["auth_time"], int)
    assert before - 5 <= claims["auth_time"] <= int(time.time()) + 5
    assert isinstance(claims.get("sid"), str) and claims["sid"]
    assert page.locator("#has-refresh-token").text_content() == "yes"
    first_token = page.locator("#access-token").text_content()

    # --- userinfo, cross-origin with a bearer token (preflighted) ------------------------
    page.locator("#call-userinfo").click()
    spa_status(page, "userinfo-ok")
    userinfo = _json(page.locator("#userinfo").text_content())
    assert userinfo["sub"] == claims["sub"]
    assert userinfo["email"] == email

    # --- refresh with the refresh token; the new access token works ---------------------
    page.locator("#refresh").click()
    spa_status(page, "refreshed")
    refreshed = spa_claims(page)
    second_token = page.locator("#access-token").text_content()
    assert second_token and second_token != first_token
    # OIDC Core 12.2: the same person and authentication as the original sign-in.
    assert refreshed["sub"] == claims["sub"]
    assert refreshed["auth_time"] == claims["auth_time"]
    assert refreshed["acr"] == "pwd" and refreshed["amr"] == ["pwd"]
    page.locator("#userinfo").evaluate("e => e.textContent = ''")
    page.locator("#call-userinfo").click()
    spa_status(page, "userinfo-ok")
    assert _json(page.locator("#userinfo").text_content())["sub"] == claims["sub"]

    # --- RP-initiated logout back to the SPA's post-logout URI --------------------------
    page.locator("#sign-out").click()
    sign_out_at_provider(page, issuer, spa.post_logout_redirect_uri)
    spa_status(page, "signed-out")
    # RP-Initiated Logout §3: the OP MUST echo the RP's state; oidc-client-ts matched it
    # to the one it stored and returned the data that went with it.
    assert "state" in query(page.url), page.url
    assert page.locator("#signout-state").text_content() == '{"from":"e2e-spa"}'

    # --- signing in again asks for the password ------------------------------------------
    page.goto(spa.origin + "/index.html")
    spa_status(page, "ready")
    page.locator("#sign-in").click()
    page.wait_for_url(lambda url: not url.startswith(spa.origin + "/index.html"))
    assert page.url.startswith(issuer + "/login"), f"no password asked after sign-out: {page.url}"
    wait_for_login_page(page, issuer)
    expect(page.locator("#password")).to_have_value("")
    sign_in(page, issuer, email, password)
    spa_status(page, "signed-in")
    again = spa_claims(page)
    assert again["sub"] == claims["sub"]
    assert again["sid"] != claims["sid"], "a new sign-in after sign-out must be a new session"
    assert again["auth_time"] >= claims["auth_time"]

    assert not watch.page_errors, watch.page_errors
    assert not watch.csp_violations, watch.csp_violations


def _json(text: str | None) -> dict:
    assert text, "empty"
    return json.loads(text)
