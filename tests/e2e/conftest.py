"""Fixtures for the real-browser tests: Debian's chromium driven by Playwright (never a
downloaded browser), the test SPA on a loopback port of its own, and a redirect-URI
endpoint that records what reaches it. The provider is tests/conftest.py's `live_server`."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .servers import OIDC_CLIENT_TS, RecordingServer, SpaServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Fail fast: every step here takes well under a second when the provider behaves.
TIMEOUT_MS = 10_000

# Reports Content-Security-Policy violations of every page to the test (the binding
# survives navigations; the script is injected by the browser, so CSP does not block it).
_CSP_REPORTER = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__e2eCspViolation({
    page: location.href, directive: e.violatedDirective, blocked: e.blockedURI,
    source: e.sourceFile, line: e.lineNumber,
  });
});
"""


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright Python package is missing: pip install -e '.[test]'")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    except Exception:
        playwright.stop()
        raise
    yield browser
    browser.close()
    playwright.stop()


@dataclass
class Watch:
    """What the browser reported while a test ran."""

    console: list[tuple[str, str, str]] = field(default_factory=list)  # (page url, type, text)
    page_errors: list[str] = field(default_factory=list)
    csp_violations: list[dict] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, url)

    def csp_console_messages(self) -> list[str]:
        return [
            text for _, _, text in self.console
            if "Content Security Policy" in text or "Content-Security-Policy" in text
        ]


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
def context(browser, watch: Watch):
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    context.expose_binding("__e2eCspViolation", lambda source, v: watch.csp_violations.append(v))
    context.add_init_script(_CSP_REPORTER)
    context.on("console", lambda m: watch.console.append((m.page.url if m.page else "", m.type, m.text)))
    context.on("weberror", lambda e: watch.page_errors.append(str(e.error)))
    context.on("request", lambda r: watch.requests.append((r.method, r.url)))
    yield context
    context.close()


@pytest.fixture
def page(context):
    return context.new_page()


@pytest.fixture(scope="session")
def spa(live_server):
    """The test SPA, registered with the provider as a public client."""
    if not OIDC_CLIENT_TS.is_file():
        pytest.skip(f"{OIDC_CLIENT_TS} is missing: run `npm ci` in tests/node")
    server = SpaServer()
    created = live_server.create_client(
        public=True,
        redirect_uri=server.redirect_uri,
        post_logout_redirect_uri=server.post_logout_redirect_uri,
    )
    server.config = {"issuer": live_server.url, "client_id": created["client_id"]}
    yield server
    server.stop()


@dataclass
class Receiver:
    server: RecordingServer
    client_id: str

    @property
    def redirect_uri(self) -> str:
        return self.server.redirect_uri


@pytest.fixture(scope="session")
def _receiver(live_server):
    server = RecordingServer()
    created = live_server.create_client(public=True, redirect_uri=server.redirect_uri)
    yield Receiver(server, created["client_id"])
    server.stop()


@pytest.fixture
def receiver(_receiver: Receiver) -> Receiver:
    """A public client whose only redirect URI is a loopback endpoint recording every hit."""
    _receiver.server.reset()
    return _receiver


@pytest.fixture
def make_user(live_server):
    """Creates a person of their own for a test: (email, password)."""

    def make() -> tuple[str, str]:
        email = f"e2e-{secrets.token_hex(4)}@example.com"
        password = "e2e " + secrets.token_urlsafe(12)
        live_server.create_user(email, password)
        return email, password

    return make
