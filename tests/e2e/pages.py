"""What a person does in the browser, by the stable element ids of the hosted pages
(/work/shared/INTERFACE.md) and of the test SPA (tests/e2e/spa/app.js)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest

# The test modules take `expect` from here too: without playwright they are skipped, not broken.
pytest.importorskip("playwright.sync_api", reason="the playwright Python package is missing: pip install -e '.[test]'")

from playwright.sync_api import Page, expect  # noqa: E402


def spa_status(page: Page, *expected: str) -> str:
    """Wait until the SPA's #status reads one of `expected` (or error), and insist on the former."""
    words = "|".join(re.escape(w) for w in (*expected, "error"))
    status = page.locator("#status")
    try:
        expect(status).to_have_text(re.compile(f"^({words})$"))
    except AssertionError as error:
        raise AssertionError(
            f"the SPA at {page.url} never reached {expected}: status {status.text_content()!r}"
        ) from error
    word = status.text_content()
    assert word in expected, f"SPA status {word!r} at {page.url}: {page.locator('#error').text_content()}"
    return word


def spa_claims(page: Page) -> dict:
    return json.loads(page.locator("#claims").text_content())


def wait_for_login_page(page: Page, issuer: str) -> None:
    page.wait_for_url(re.compile("^" + re.escape(issuer) + r"/login(\?|$)"))
    expect(page.locator("#password")).to_be_visible()


def fill_login(page: Page, email: str, password: str) -> None:
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)


def sign_in(page: Page, issuer: str, email: str, password: str) -> None:
    """On the provider's hosted page, sign in with a password."""
    wait_for_login_page(page, issuer)
    fill_login(page, email, password)
    page.locator("#login-submit").click()


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def csp_directives(header: str | None) -> dict[str, str]:
    directives = {}
    for part in (header or "").split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            directives[name.lower()] = value.strip()
    return directives


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def _jwt_part(token: str, index: int) -> dict:
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def jwt_claims(token: str) -> dict:
    """The payload of a JWT, unverified (the signature is other tests' business)."""
    return _jwt_part(token, 1)


def jwt_header(token: str) -> dict:
    """The protected header of a JWT (kid, typ, a DPoP proof's jwk), unverified."""
    return _jwt_part(token, 0)


def sign_out_at_provider(page: Page, issuer: str, signed_out_uri: str) -> None:
    """After the app sent the browser to the end-session endpoint: confirm if the provider
    asks (with a valid id_token_hint it need not), and wait for the post-logout URI."""
    signed_out = re.compile("^" + re.escape(signed_out_uri) + r"(\?|$)")
    confirm = re.compile("^" + re.escape(issuer) + r"/logout")
    page.wait_for_url(lambda url: bool(signed_out.match(url) or confirm.match(url)))
    if confirm.match(page.url):
        page.locator("#logout-confirm").click()
        page.wait_for_url(signed_out)


# --- second factors on the hosted pages ---------------------------------------------------

def totp_now(secret: str) -> str:
    """The code an authenticator app with this base32 secret shows now (SHA-1, 6 digits, 30 s)."""
    import time

    import pyotp

    return pyotp.TOTP(secret).at(time.time())


def enrol_totp(page: Page, issuer: str) -> tuple[str, list[str]]:
    """From the second-factor enrolment page (/account/setup), add an authenticator app.

    Returns (base32 secret, recovery codes) and leaves the browser on the page that shows
    the recovery codes once; pressing #recovery-continue is the caller's business.
    """
    page.wait_for_url(re.compile("^" + re.escape(issuer) + r"/account/setup(\?|$)"))
    page.locator("#setup-totp").click()
    page.wait_for_url(re.compile("^" + re.escape(issuer) + r"/account/mfa/totp/new(\?|$)"))
    secret = page.locator("#totp-secret").text_content().strip()
    assert re.fullmatch(r"[A-Z2-7]{16,}=*", secret), f"#totp-secret is not base32: {secret!r}"
    page.locator("#code").fill(totp_now(secret))
    page.locator("#totp-confirm").click()
    codes = page.locator("#recovery-codes > *")
    try:
        expect(codes.first).to_be_visible()
    except AssertionError as error:
        problem = page.locator("#totp-error")
        why = problem.text_content() if problem.count() else "no #totp-error"
        raise AssertionError(f"TOTP enrolment did not reach the recovery codes: at {page.url} ({why})") from error
    return secret, [c.strip() for c in codes.all_text_contents()]
