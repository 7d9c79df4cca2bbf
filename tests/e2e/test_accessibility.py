"""axe-core (npm, tests/node) in Chromium on the pages people use: no serious or critical
violation on the sign-in, account, sessions, apps, enrolment, start, error and console pages."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest

from .conftest import TIMEOUT_MS
from .pages import enrol_totp, expect, fill_login, wait_for_login_page
from .test_account_pages import authorize_url

pytestmark = pytest.mark.e2e

AXE = Path(__file__).resolve().parents[1] / "node" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture
def audited(browser):
    """A page whose CSP lets the test inject axe (the provider's pages forbid injected scripts)."""
    if not AXE.is_file():
        pytest.skip(f"{AXE} is missing: run `make node`")
    context = browser.new_context(bypass_csp=True)
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


def serious_violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    assert result["testEngine"]["name"] == "axe-core" and result["passes"], page.url  # it really ran
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])}×, e.g. {v['nodes'][0]['html'][:120]})"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def check(page, found: dict[str, list[str]]) -> None:
    problems = serious_violations(page)
    if problems:
        found[page.url] = problems


def test_no_serious_accessibility_violations(audited, live_server, receiver):
    page, issuer, found = audited, live_server.url, {}
    for path in ("/", "/login", "/no-such-page", "/password/forgot"):
        page.goto(issuer + path)
        check(page, found)
    page.goto(authorize_url(issuer, receiver.client_id, receiver.redirect_uri, "st-a11y"))
    wait_for_login_page(page, issuer)
    check(page, found)

    email, password = f"a11y-{secrets.token_hex(4)}@example.com", "a11y " + secrets.token_urlsafe(12)
    live_server.cli_json("users", "create", email, "--password-stdin", "--admin", stdin=password + "\n")
    page.goto(issuer + "/login?next=/admin")
    fill_login(page, email, password)
    page.locator("#login-submit").click()
    page.wait_for_url(re.compile("^" + re.escape(issuer) + r"/account/setup"))
    check(page, found)
    page.locator("#setup-totp").click()
    page.wait_for_url(re.compile("^" + re.escape(issuer) + r"/account/mfa/totp/new"))
    check(page, found)
    page.go_back()
    enrol_totp(page, issuer)
    check(page, found)  # the recovery codes
    page.locator("#recovery-continue").click()
    page.wait_for_url(re.compile("^" + re.escape(issuer) + r"/admin"))
    for path in ("/admin", "/admin/invitations", "/admin/clients", "/admin/keys", "/admin/audit", "/admin/upstreams",
                 "/account", "/account/sessions", "/account/apps", "/account/password"):
        page.goto(issuer + path)
        check(page, found)
    page.goto(issuer + "/admin")
    page.locator("#users-table a").first.click()
    check(page, found)
    page.locator("#user-reset-mfa").click()
    expect(page.locator("#confirm-yes")).to_be_visible()
    check(page, found)
    page.goto(issuer + "/account")
    page.locator("#sign-out").click()
    check(page, found)
    assert not found, found
