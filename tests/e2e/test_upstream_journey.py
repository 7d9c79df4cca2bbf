"""Sign in with "Google" in a real browser: node-oidc-provider on loopback plays Google
(tests/upstream), the provider is a live server of its own.

An invitation (second factor required) is accepted with "Continue with Google"; the new
account enrols an authenticator app; then, in a fresh browser, the person signs in to a
client through Google, is asked for the second factor, and the client's tokens say
`amr` fed, otp, mfa. An identity that nobody invited is refused on a clear page.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import urllib.request
from urllib.parse import urlencode

import pyotp
import pytest

from tests import live, redis_db
from tests import upstream as up

from .pages import enrol_totp, expect, jwt_claims, pkce_pair, query
from .servers import RecordingServer

pytestmark = pytest.mark.e2e

REDIS_URL = redis_db.url("TEST_UPSTREAM_REDIS_URL", 10)
INVITEE = up.Account(f"invitee-{secrets.token_hex(3)}@example.com", name="Invited Person")
STRANGER = up.Account("stranger@example.com")


@pytest.fixture(scope="module")
def provider():
    server = live.start({"REDIS_URL": REDIS_URL})
    try:
        google = up.start(redirect_uris=[f"{server.url}/login/upstream/google/callback"], accounts=[INVITEE, STRANGER])
    except Exception:
        server.stop()
        raise
    try:
        server.cli("upstreams", "add", "google", "--issuer", google.issuer, "--client-id", google.client_id,
                   "--client-secret-stdin", "--display-name", "Google", stdin=google.client_secret + "\n")
        yield server, google
    finally:
        google.stop()
        server.stop()


def _at(issuer: str, path: str) -> re.Pattern:
    return re.compile("^" + re.escape(issuer + path) + r"(\?.*)?$")


def _at_google(page, google: up.Upstream, account: up.Account) -> None:
    """The upstream's own sign-in page: who the person is there."""
    page.wait_for_url(re.compile("^" + re.escape(google.issuer) + "/interaction/"))
    page.locator("#upstream-email").fill(account.email)
    page.locator("#upstream-submit").click()


def _new_context(browser):
    context = browser.new_context()
    context.set_default_timeout(10_000)
    context.set_default_navigation_timeout(10_000)
    return context


def test_invitation_with_google_then_sign_in_through_google_and_the_second_factor(provider, browser, page, watch):
    server, google = provider
    issuer = server.url
    invite_url = server.cli_json("users", "invite", INVITEE.email, "--require-mfa")["invite_url"]

    # 1. The invitation, accepted with Google (no password chosen).
    page.goto(invite_url)
    expect(page.locator("#upstream-google")).to_have_text("Continue with Google")
    page.locator("#upstream-google").click()
    _at_google(page, google, INVITEE)
    page.wait_for_url(_at(issuer, "/account/setup"))
    secret, codes = enrol_totp(page, issuer)
    assert len(codes) == 10
    page.locator("#recovery-continue").click()
    page.wait_for_url(_at(issuer, "/account"))
    expect(page.locator("#account-email")).to_contain_text(INVITEE.email)
    expect(page.locator("#upstream-links")).to_contain_text(INVITEE.email)

    # 2. Another browser: sign in to a client through Google, then the second factor.
    receiver = RecordingServer()
    context = _new_context(browser)
    try:
        client_id = server.create_client(public=True, redirect_uri=receiver.redirect_uri)["client_id"]
        verifier, challenge = pkce_pair()
        state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        other = context.new_page()
        other.goto(issuer + "/authorize?" + urlencode({
            "response_type": "code", "client_id": client_id, "redirect_uri": receiver.redirect_uri,
            "scope": "openid email", "state": state, "nonce": nonce,
            "code_challenge": challenge, "code_challenge_method": "S256",
        }))
        other.wait_for_url(_at(issuer, "/login"))
        other.locator("#upstream-google").click()
        _at_google(other, google, INVITEE)
        other.wait_for_url(_at(issuer, "/login/mfa"))
        # The enrolment used this time step's code; the next step's is within the drift window.
        other.locator("#code").fill(pyotp.TOTP(secret).at(time.time() + 30))
        other.locator("#totp-submit").click()
        other.wait_for_url(re.compile("^" + re.escape(receiver.redirect_uri) + r"\?"))
        answer = query(other.url)
        assert answer["state"] == [state] and answer["iss"] == [issuer], answer
        body = urlencode({"grant_type": "authorization_code", "code": answer["code"][0], "client_id": client_id,
                          "redirect_uri": receiver.redirect_uri, "code_verifier": verifier}).encode()
        with urllib.request.urlopen(urllib.request.Request(issuer + "/token", data=body), timeout=10) as response:
            tokens = json.load(response)
    finally:
        context.close()
        receiver.stop()
    claims = jwt_claims(tokens["id_token"])
    assert claims["amr"] == ["fed", "otp", "mfa"] and claims["acr"] == "mfa", claims
    assert claims["nonce"] == nonce
    assert jwt_claims(tokens["access_token"])["amr"] == ["fed", "otp", "mfa"]

    assert not watch.page_errors, watch.page_errors
    assert not watch.csp_violations, watch.csp_violations


def test_an_identity_nobody_invited_is_refused(provider, page):
    server, google = provider
    page.goto(server.url + "/login")
    page.locator("#upstream-google").click()
    _at_google(page, google, STRANGER)
    page.wait_for_url(re.compile("^" + re.escape(server.url) + "/login/upstream/google/callback"))
    expect(page.locator("#upstream-refused")).to_have_attribute("data-reason", "unlinked")
    expect(page.locator("#upstream-refused")).to_contain_text("invitation")
