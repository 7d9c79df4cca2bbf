"""The hosted pages in a real browser: a wrong password keeps the person on the page with an
error; security headers; no CSP violations; the pages cannot be framed."""

from __future__ import annotations

import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest

from .pages import csp_directives, expect, fill_login, sign_in, spa_status, wait_for_login_page

pytestmark = pytest.mark.e2e


def _assert_security_headers(headers: dict[str, str], where: str) -> None:
    headers = {k.lower(): v for k, v in headers.items()}
    csp = csp_directives(headers.get("content-security-policy"))
    assert csp.get("frame-ancestors") == "'none'", f"{where}: Content-Security-Policy {headers.get('content-security-policy')!r}"
    assert headers.get("x-frame-options", "").upper() == "DENY", f"{where}: X-Frame-Options {headers.get('x-frame-options')!r}"
    assert headers.get("referrer-policy", "").lower() == "no-referrer", f"{where}: Referrer-Policy {headers.get('referrer-policy')!r}"


def _start_sign_in(page, spa) -> None:
    page.goto(spa.origin + "/index.html")
    spa_status(page, "ready")
    page.locator("#sign-in").click()


def test_wrong_password_shows_error_and_stays_on_the_page(page, spa, live_server, make_user, watch):
    issuer = live_server.url
    email, password = make_user()
    _start_sign_in(page, spa)
    wait_for_login_page(page, issuer)
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: frame == page.main_frame and navigations.append(frame.url))

    fill_login(page, email, "not " + password)
    with page.expect_response(lambda r: r.url.startswith(issuer + "/login") and r.request.method == "POST") as info:
        page.locator("#login-submit").click()
    response = info.value
    assert response.status == 401
    page.wait_for_load_state()
    error = page.locator("#login-error")
    expect(error).to_be_visible()
    assert error.text_content().strip()
    # No redirect: the browser shows the answer to its POST, on the provider.
    assert response.request.redirected_from is None
    assert page.url == issuer + "/login"
    assert navigations == [issuer + "/login"], navigations
    assert not any(url.startswith(spa.origin + "/callback") for _, url in watch.requests)
    _assert_security_headers(response.headers, "the 401 sign-in page")
    expect(page.locator("#password")).to_have_value("")

    # The same page still completes the sign-in with the right password.
    sign_in(page, issuer, email, password)
    spa_status(page, "signed-in")


HOSTED_PAGES = {
    "sign-in page": "/login",
    "authorization error page": "/authorize?" + urlencode({"client_id": "nobody", "response_type": "code"}),
    "signed-out page": "/logout",
    "not-found page": "/no-such-page",
}


@pytest.mark.parametrize("path", HOSTED_PAGES.values(), ids=HOSTED_PAGES.keys())
def test_hosted_pages_send_security_headers(live_server, path):
    try:
        with urllib.request.urlopen(live_server.url + path, timeout=10) as response:
            headers, content_type = dict(response.headers), response.headers.get_content_type()
    except urllib.error.HTTPError as error:
        headers, content_type = dict(error.headers), error.headers.get_content_type()
    assert content_type == "text/html"
    _assert_security_headers(headers, path)


def test_login_page_has_no_csp_violations(page, spa, live_server, watch):
    _start_sign_in(page, spa)
    wait_for_login_page(page, live_server.url)
    response = page.reload(wait_until="networkidle")  # the page as served, and its headers
    _assert_security_headers(response.headers, "the sign-in page")
    # Every stylesheet the page links to is allowed by the policy and loaded.
    assert page.evaluate(
        "() => [...document.querySelectorAll('link[rel=stylesheet]')].every(l => l.sheet !== null)"
    ), "a stylesheet of the sign-in page did not load"
    assert not watch.csp_violations, watch.csp_violations
    assert not watch.csp_console_messages(), watch.csp_console_messages()
    assert not watch.page_errors, watch.page_errors


def test_sign_in_page_cannot_be_framed(page, spa, live_server, watch):
    """frame-ancestors 'none', enforced by the browser: another origin gets no sign-in form."""
    page.goto(spa.origin + "/frame.html")
    spa_status(page, "framed")
    frame = page.locator("#idp-frame").element_handle().content_frame()
    page.wait_for_load_state("networkidle")
    assert frame.locator("#login-form").count() == 0, "the sign-in page rendered inside a frame"
    refused = [t for t in watch.csp_console_messages() if "frame-ancestors" in t]
    assert refused or frame.url.startswith("chrome-error:"), (frame.url, watch.console)
