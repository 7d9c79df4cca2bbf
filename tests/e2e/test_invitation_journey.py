"""The invitation journey in a real browser, with real mail.

A bootstrap admin (command line, second factor required) signs in and enrols an
authenticator app, invites a person from the admin console; the invitation arrives at an
SMTP server on loopback; the invitee opens the mailed link in a browser of their own, is
refused a common password, chooses a good one, enrols a second factor, and then signs in
to a client at acr `mfa` without being asked again. Then the refusals: the used link (410),
an invitation for an address that already has an account, a non-admin at /admin (403).
Separately: an admin whose session is at acr `pwd` does not get the console, but the
second-factor enrolment (step-up, not just the role).

The provider is a dedicated live server (tests/live.py) whose IDP_SMTP_URL points at the
SMTP server, with a Redis database of its own.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
import time
import urllib.request
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from urllib.parse import urlencode

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from tests import live, redis_db

from .pages import enrol_totp, expect, fill_login, jwt_claims, pkce_pair, query
from .servers import RecordingServer

pytestmark = pytest.mark.e2e

Controller = pytest.importorskip("aiosmtpd.controller", reason="aiosmtpd is missing: pip install -e '.[test]'").Controller

# The dedicated server's Redis database (flushed when it starts).
REDIS_URL = redis_db.url("TEST_INVITE_REDIS_URL", 7)
TIMEOUT_MS = 10_000
ADMIN_EMAIL = "admin@example.com"


# --- an SMTP server on loopback that keeps what it receives -----------------------------

@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


class Mailbox:
    """An aiosmtpd handler: every message accepted is kept, parsed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.mails: list[Mail] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001, N802
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        with self.lock:
            self.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Mail]:
        with self.lock:
            return [m for m in self.mails if address in m.rcpt_tos]

    def count(self) -> int:
        with self.lock:
            return len(self.mails)

    def wait_for(self, address: str, timeout: float = 5.0) -> Mail:
        deadline = time.monotonic() + timeout
        while not (found := self.to(address)):
            if time.monotonic() > deadline:
                with self.lock:
                    seen = [(m.rcpt_tos, m.message["Subject"]) for m in self.mails]
                raise AssertionError(f"no mail to {address} within {timeout} s; the SMTP server got {seen}")
            time.sleep(0.05)
        assert len(found) == 1, f"{len(found)} mails to {address}: {[m.message['Subject'] for m in found]}"
        return found[0]


@dataclass
class Provider:
    server: live.LiveServer
    mailbox: Mailbox
    database: Engine

    @property
    def issuer(self) -> str:
        return self.server.url

    def rows(self, sql: str, **params) -> list[dict]:
        with self.database.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text(sql), params)]


@pytest.fixture(scope="module")
def provider():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=live.free_port())
    controller.start()
    try:
        server = live.start({
            "IDP_SMTP_URL": f"smtp://127.0.0.1:{controller.port}",
            "REDIS_URL": REDIS_URL,
        })
    except Exception:
        controller.stop()
        raise
    engine = create_engine(server.env["DATABASE_URL"])
    try:
        yield Provider(server, mailbox, engine)
    finally:
        engine.dispose()
        server.stop()
        controller.stop()


def _new_context(browser):
    """A browser of its own (another person): no cookies shared with the admin's."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    return context


def _at(issuer: str, path: str) -> re.Pattern:
    """The page at `path` on the provider, with or without a query string."""
    return re.compile("^" + re.escape(issuer + path) + r"(\?.*)?$")


def _sign_in_with_password(page, issuer: str, email: str, password: str, next_path: str) -> None:
    page.goto(f"{issuer}/login?" + urlencode({"next": next_path}))
    expect(page.locator("#password")).to_be_visible()
    fill_login(page, email, password)
    page.locator("#login-submit").click()


# --- the journey ---------------------------------------------------------------------------

def test_invitation_journey(provider, browser, context, page, watch):
    issuer, server, mailbox = provider.issuer, provider.server, provider.mailbox

    # 1. The bootstrap admin, from the command line.
    admin_password = "console " + secrets.token_urlsafe(12)
    server.cli("users", "create", ADMIN_EMAIL, "--password-stdin", "--admin", "--require-mfa",
               stdin=admin_password + "\n")

    # 2. The admin signs in for the console: the account requires a second factor and has
    #    none, so the password leads to the enrolment, never to the console.
    _sign_in_with_password(page, issuer, ADMIN_EMAIL, admin_password, "/admin")
    page.wait_for_url(_at(issuer, "/account/setup"))
    assert query(page.url).get("next") == ["/admin"], page.url
    assert page.locator("#admin-nav").count() == 0
    _, codes = enrol_totp(page, issuer)
    assert len(codes) == 10 and len(set(codes)) == 10 and all(codes), codes
    page.locator("#recovery-continue").click()
    page.wait_for_load_state()
    # Onward to the console, or to the account page (then the console is one click away).
    assert _at(issuer, "/admin").match(page.url) or _at(issuer, "/account").match(page.url), page.url
    response = page.goto(issuer + "/admin")
    assert response.status == 200, f"GET /admin at acr mfa: {response.status} at {page.url}"
    assert _at(issuer, "/admin").match(page.url), page.url
    expect(page.locator("#admin-nav")).to_be_visible()
    expect(page.locator("#users-table")).to_contain_text(ADMIN_EMAIL)

    # 3. The invitation, from the admin console.
    invitee = f"invitee-{secrets.token_hex(4)}@example.com"
    page.locator("#nav-invitations").click()
    page.wait_for_url(_at(issuer, "/admin/invitations"))
    page.locator("#invite-email").fill(invitee)
    expect(page.locator("#invite-require-mfa")).to_be_checked()
    expect(page.locator("#invite-admin")).not_to_be_checked()
    page.locator("#invite-submit").click()
    expect(page.locator("#admin-message")).to_be_visible()
    expect(page.locator("#admin-message")).to_contain_text("invitation sent")
    assert page.locator("#admin-error").count() == 0
    expect(page.locator("#invitations-table")).to_contain_text(invitee)
    expect(page.locator("#invitations-table tbody tr", has_text=invitee)).to_contain_text("pending")

    # 4. The mail: plain text, to the invitee, with the link and who sent it.
    mail = mailbox.wait_for(invitee)
    message = mail.message
    assert mail.rcpt_tos == [invitee]
    assert message["To"] == invitee
    assert message["Subject"]
    assert not message.is_multipart() and message.get_content_type() == "text/plain", message.get_content_type()
    body = message.get_content()
    links = re.findall(r"https?://\S+/invite/\S+", body)
    assert len(links) == 1, body
    link = links[0]
    assert re.fullmatch(re.escape(issuer) + r"/invite/[A-Za-z0-9_-]{20,}", link), link
    assert ADMIN_EMAIL in body, f"the mail does not say who invited them:\n{body}"

    # 5. The invitee, in a browser of their own.
    invitee_context = _new_context(browser)
    try:
        guest = invitee_context.new_page()
        response = guest.goto(link)
        assert response.status == 200, response.status
        expect(guest.locator("#invite-form")).to_be_visible()
        expect(guest.locator("#invite-email")).to_contain_text(invitee)

        # A common password: refused with the reason, on the same page; nobody is created.
        guest.locator("#password").fill("password123")
        guest.locator("#password_confirm").fill("password123")
        with guest.expect_response(lambda r: r.url == link and r.request.method == "POST") as info:
            guest.locator("#invite-submit").click()
        assert info.value.status == 400, info.value.status
        expect(guest.locator("#invite-error")).to_be_visible()
        expect(guest.locator("#invite-error")).to_contain_text("common")
        assert guest.url == link
        assert provider.rows("SELECT id FROM users WHERE email = :e", e=invitee) == []
        (invitation,) = provider.rows("SELECT used_at FROM invitations WHERE email = :e", e=invitee)
        assert invitation["used_at"] is None, "a refused password used up the invitation"

        # A good one: the account exists, and the second factor comes next.
        password = "garden " + secrets.token_urlsafe(12)
        guest.locator("#password").fill(password)
        guest.locator("#password_confirm").fill(password)
        guest.locator("#invite-submit").click()
        guest.wait_for_url(_at(issuer, "/account/setup"))
        (account,) = provider.rows("SELECT is_admin, mfa_required FROM users WHERE email = :e", e=invitee)
        assert not account["is_admin"] and account["mfa_required"], account
        _, invitee_codes = enrol_totp(guest, issuer)
        assert len(invitee_codes) == 10 and not set(invitee_codes) & set(codes), invitee_codes
        guest.locator("#recovery-continue").click()
        guest.wait_for_url(_at(issuer, "/account"))
        expect(guest.locator("#account-email")).to_contain_text(invitee)
        expect(guest.locator("#totp-list li")).to_have_count(1)

        # 6. The invitee signs in to a client: the session already has both factors.
        _signs_in_to_a_client_at_mfa(provider, guest, invitee)

        # 7. Refusals.
        # The link again: used, said clearly, no form.
        response = guest.goto(link)
        assert response.status == 410, f"GET {link} after use: {response.status}"
        expect(guest.locator("#error-description")).to_contain_text("already used")
        expect(guest.locator("#error-code")).to_have_text("invalid_link")
        assert guest.locator("#invite-form").count() == 0
        # A non-admin at the console.
        response = guest.goto(issuer + "/admin")
        assert response.status == 403, f"GET /admin as {invitee}: {response.status} at {guest.url}"
        expect(guest.locator("#error-code")).to_have_text("forbidden")
        assert guest.locator("#admin-nav").count() == 0
    finally:
        invitee_context.close()

    # An invitation for an address that has an account (emails match case-insensitively).
    sent_before = mailbox.count()
    page.goto(issuer + "/admin/invitations")
    page.locator("#invite-email").fill(invitee.upper())
    page.locator("#invite-submit").click()
    expect(page.locator("#admin-error")).to_be_visible()
    expect(page.locator("#admin-error")).to_contain_text("already has an account")
    assert page.locator("#admin-message").count() == 0
    assert mailbox.count() == sent_before, [m.rcpt_tos for m in mailbox.mails[sent_before:]]
    assert len(provider.rows("SELECT id FROM invitations WHERE lower(email) = :e", e=invitee)) == 1

    assert not watch.page_errors, watch.page_errors
    assert not watch.csp_violations, watch.csp_violations


def _signs_in_to_a_client_at_mfa(provider: Provider, page, invitee: str) -> None:
    issuer = provider.issuer
    receiver = RecordingServer()
    try:
        client_id = provider.server.create_client(public=True, redirect_uri=receiver.redirect_uri)["client_id"]
        verifier, challenge = pkce_pair()
        state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        page.goto(issuer + "/authorize?" + urlencode({
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": receiver.redirect_uri,
            "scope": "openid email",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }))
        # No page of the provider in between: the session is enough.
        page.wait_for_url(re.compile("^" + re.escape(receiver.redirect_uri) + r"\?"))
        answer = query(page.url)
        assert "error" not in answer, answer
        assert answer["state"] == [state] and answer["iss"] == [issuer], answer
        body = urlencode({
            "grant_type": "authorization_code",
            "code": answer["code"][0],
            "redirect_uri": receiver.redirect_uri,
            "client_id": client_id,
            "code_verifier": verifier,
        }).encode()
        with urllib.request.urlopen(urllib.request.Request(issuer + "/token", data=body), timeout=10) as response:
            tokens = json.load(response)
    finally:
        receiver.stop()
    claims = jwt_claims(tokens["id_token"])
    assert claims["nonce"] == nonce
    assert claims["acr"] == "mfa", claims
    assert "otp" in claims["amr"] and "pwd" in claims["amr"], claims["amr"]
    (sub,) = provider.rows("SELECT subject FROM users WHERE email = :e", e=invitee)
    assert claims["sub"] == sub["subject"]
    request = urllib.request.Request(issuer + "/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]})
    with urllib.request.urlopen(request, timeout=10) as response:
        userinfo = json.load(response)
    assert userinfo["email"] == invitee, userinfo
    assert userinfo["sub"] == claims["sub"]


# --- step-up for the console -----------------------------------------------------------------

def test_admin_at_acr_pwd_is_sent_to_enrolment_not_the_console(provider, page):
    """The role alone does not open the console: a password-only session of an admin (no
    second factor enrolled, none required by the account) is sent to enrol one first, for
    pages and form posts alike; once enrolled, the console opens."""
    issuer, mailbox = provider.issuer, provider.mailbox
    email = f"pwd-admin-{secrets.token_hex(4)}@example.com"
    password = "a long admin passphrase " + secrets.token_urlsafe(8)
    provider.server.cli("users", "create", email, "--password-stdin", "--admin", stdin=password + "\n")

    console: list[tuple[int, str]] = []
    page.on("response", lambda r: _at(issuer, "/admin").match(r.url) and console.append((r.status, r.url)))
    _sign_in_with_password(page, issuer, email, password, "/admin")
    page.wait_for_url(_at(issuer, "/account/setup"))
    assert query(page.url).get("next") == ["/admin"], page.url
    expect(page.locator("#setup-totp")).to_be_visible()
    assert page.locator("#admin-nav").count() == 0
    assert console and all(300 <= status < 400 for status, _ in console), console

    for path in ("/admin", "/admin/invitations", "/admin/keys"):
        response = page.goto(issuer + path)
        assert _at(issuer, "/account/setup").match(page.url), f"GET {path} at acr pwd ended at {page.url}"
        assert response.status == 200 and page.locator("#admin-nav").count() == 0, (path, response.status)

    # A form post of the console, with a valid CSRF token of this session, is refused too.
    csrf = page.locator("#webauthn-register-section").get_attribute("data-csrf")
    outsider = f"never-{secrets.token_hex(4)}@example.com"
    sent_before = mailbox.count()
    answer = page.request.post(
        issuer + "/admin/invitations",
        form={"csrf_token": csrf, "email": outsider, "require_mfa": "1"},
        max_redirects=0,
    )
    assert 300 <= answer.status < 400, f"POST /admin/invitations at acr pwd: {answer.status}"
    assert answer.headers["location"].split("?")[0].endswith("/account/setup"), answer.headers["location"]
    assert provider.rows("SELECT id FROM invitations WHERE email = :e", e=outsider) == []
    assert mailbox.count() == sent_before

    # With a second factor enrolled in this session (it counts as used), the console opens.
    enrol_totp(page, issuer)
    page.locator("#recovery-continue").click()
    page.wait_for_load_state()
    response = page.goto(issuer + "/admin")
    assert response.status == 200 and _at(issuer, "/admin").match(page.url), (response.status, page.url)
    expect(page.locator("#admin-nav")).to_be_visible()
