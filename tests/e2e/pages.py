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


def jwt_claims(token: str) -> dict:
    """The payload of a JWT, unverified (the signature is other tests' business)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
