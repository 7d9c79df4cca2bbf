"""An authorization request whose redirect_uri is not registered (exactly) for the client:
the person sees an error page on the provider, and the browser never goes to that URI
(RFC 6749 §4.1.2.1, RFC 9700 §4.1.3: exact string matching)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from .pages import expect, pkce_pair

pytestmark = pytest.mark.e2e

# Each is a near miss of the registered http://localhost:<port>/cb, served by the same
# recording server, so a redirect there would be seen.
VARIANTS = {
    "other path": "{origin}/evil",
    "extra query": "{origin}/cb?next=evil",
    "trailing slash": "{origin}/cb/",
    "longer path": "{origin}/cbx",
    "other host": "http://127.0.0.1:{port}/cb",
}


@pytest.mark.parametrize("template", VARIANTS.values(), ids=VARIANTS.keys())
def test_unregistered_redirect_uri_shows_an_error_and_goes_nowhere(page, live_server, receiver, watch, template):
    issuer = live_server.url
    server = receiver.server
    redirect_uri = template.format(origin=server.origin, port=server.port)
    _, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": receiver.client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid",
        "state": "st-e2e",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    url = issuer + "/authorize?" + urlencode(params)
    response = page.goto(url)
    assert response.status == 400
    assert response.request.redirected_from is None
    expect(page.locator("#error-code")).to_be_visible()
    expect(page.locator("#error-code")).to_have_text("invalid_request")
    # Give a meta refresh or a script every chance to move on.
    page.wait_for_timeout(300)
    assert page.url == url
    assert page.locator("a[href^='http://localhost:%d'], a[href^='http://127.0.0.1:%d']" % (server.port, server.port)).count() == 0
    assert not [u for _, u in watch.requests if f":{server.port}/" in u], watch.requests
    assert server.snapshot() == []
