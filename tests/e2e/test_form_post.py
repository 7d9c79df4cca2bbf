"""response_mode=form_post (OAuth 2.0 Form Post Response Mode) in a real browser: after the
sign-in, the browser POSTs code, state and iss to the redirect URI; nothing goes in a URL."""

from __future__ import annotations

import json
import secrets
import urllib.request
from urllib.parse import urlencode, urlsplit

import pytest

from .pages import expect, jwt_claims, pkce_pair, sign_in

pytestmark = pytest.mark.e2e


def test_form_post_response_mode(page, live_server, receiver, make_user, watch):
    issuer = live_server.url
    email, password = make_user()
    verifier, challenge = pkce_pair()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    params = {
        "response_type": "code",
        "client_id": receiver.client_id,
        "redirect_uri": receiver.redirect_uri,
        "scope": "openid email",
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "response_mode": "form_post",
    }
    page.goto(issuer + "/authorize?" + urlencode(params))
    with page.expect_request(lambda r: r.url.startswith(receiver.server.origin)) as arrival:
        sign_in(page, issuer, email, password)
    request = arrival.value
    assert request.method == "POST", f"{request.method} {request.url}"
    assert request.url == receiver.redirect_uri, "the response must not be in the URL"
    page.wait_for_url(receiver.redirect_uri)
    expect(page.locator("#received")).to_be_visible()

    hits = [h for h in receiver.server.snapshot() if h.path != "/favicon.ico"]  # the browser's own
    assert [(h.method, h.path, h.query) for h in hits] == [("POST", "/cb", {})], hits
    form = hits[0].form
    assert hits[0].headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
    assert {k: len(v) for k, v in form.items()} == {"code": 1, "state": 1, "iss": 1}, form
    assert form["state"] == [state]
    assert form["iss"] == [issuer]  # RFC 9207
    # Referrer-Policy no-referrer on the provider's page: the client learns no provider URL.
    assert "referer" not in hits[0].headers, hits[0].headers.get("referer")
    # The code never appeared in any URL the browser requested.
    code = form["code"][0]
    assert not [url for _, url in watch.requests if code in url]
    to_client = [url for _, url in watch.requests if urlsplit(url).netloc == urlsplit(receiver.redirect_uri).netloc]
    assert not [url for url in to_client if urlsplit(url).query], to_client
    assert not watch.csp_violations, watch.csp_violations

    # And it is a real code: the client redeems it with the PKCE verifier.
    body = urlencode({
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": receiver.redirect_uri,
        "client_id": receiver.client_id,
        "code_verifier": verifier,
    }).encode()
    with urllib.request.urlopen(urllib.request.Request(issuer + "/token", data=body), timeout=10) as response:
        tokens = json.load(response)
    claims = jwt_claims(tokens["id_token"])
    assert claims["nonce"] == nonce
    assert claims["aud"] == receiver.client_id or receiver.client_id in claims["aud"]
    assert claims["acr"] == "pwd" and claims["amr"] == ["pwd"]
