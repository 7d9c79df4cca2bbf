"""A full run of a live server with JSON logs (IDP_LOG_FORMAT=json): the operator's commands,
an invitation mailed and accepted, wrong and right passwords, an authenticator app and its
recovery codes, the code flow, refresh, a refresh-token reuse, userinfo, introspection,
revocation and a metrics scrape. Then the whole log is searched for every secret, code,
token and password that went by: none may be there."""

from __future__ import annotations

import html
import json
import re
import secrets
import threading
import urllib.request

import pyotp
import pytest
from aiosmtpd.controller import Controller

from tests import live, redis_db
from tests.interop.oidc_http import Browser, Pkce, RelyingParty, find_form, query, request
from tests.integration.test_mfa import totp_secret_of

pytestmark = pytest.mark.e2e

REDIRECT_URI = "http://localhost:8080/logs/cb"


class Inbox:
    def __init__(self) -> None:
        self.bodies: list[str] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001, N802
        with self.lock:
            self.bodies.append(envelope.content.decode("utf-8", "replace"))
        return "250 OK"


def absolute(server, location: str) -> str:  # noqa: ANN001
    return location if location.startswith("http") else server.url + location


def test_a_full_run_logs_no_secret_code_token_or_password():
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=live.free_port())
    smtp.start()
    metrics_token = "metrics-" + secrets.token_hex(16)
    server = live.start({
        "IDP_LOG_FORMAT": "json", "IDP_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}", "IDP_METRICS_TOKEN": metrics_token,
        "REDIS_URL": redis_db.url("TEST_SPARE_REDIS_URL", 9),
    })
    seen: dict[str, str] = {"metrics token": metrics_token}
    try:
        # The operator.
        # Strict rotation: the run below reuses a refresh token and expects the refusal.
        registered = server.create_client(public=False, redirect_uri=REDIRECT_URI, refresh_grace_seconds=0)
        seen["client secret"] = registered["client_secret"]
        email, password = "logs@example.com", "a long password " + secrets.token_hex(8)
        seen["password"] = password
        server.create_user(email, password)
        invite_url = server.cli_json("users", "invite", "newcomer@example.com")["invite_url"]
        seen["invitation token"] = invite_url.rsplit("/", 1)[1]

        # A wrong password, then the code flow.
        browser = Browser()
        form = find_form(browser.get(server.url + "/login").text, "password").hidden()
        seen["csrf token"] = form["csrf_token"]
        wrong = "wrong password " + secrets.token_hex(6)
        seen["wrong password"] = wrong
        assert browser.post(server.url + "/login", {**form, "email": email, "password": wrong}).status == 401
        rp = RelyingParty(issuer=server.url, client_id=registered["client_id"], redirect_uri=REDIRECT_URI,
                          client_secret=registered["client_secret"])
        pkce, state = Pkce(), secrets.token_urlsafe(12)
        callback = browser.navigate(rp.authorization_url(pkce, state, "n-" + secrets.token_hex(4)), REDIRECT_URI, email, password)
        code = query(callback)["code"]
        seen["authorization code"], seen["pkce verifier"] = code, pkce.verifier
        tokens = rp.post("token_endpoint", {"grant_type": "authorization_code", "code": code,
                                            "redirect_uri": REDIRECT_URI, "code_verifier": pkce.verifier}).json()
        seen.update({"access token": tokens["access_token"], "id token": tokens["id_token"],
                     "refresh token": tokens["refresh_token"]})
        assert rp.userinfo(tokens["access_token"]).status == 200
        assert rp.post("introspection_endpoint", {"token": tokens["access_token"]}).json()["active"]
        refreshed = rp.refresh(tokens["refresh_token"]).json()
        seen["rotated refresh token"] = refreshed["refresh_token"]
        assert rp.refresh(tokens["refresh_token"]).status == 400  # reuse: the family is revoked
        assert rp.post("revocation_endpoint", {"token": refreshed["access_token"]}).status == 200
        assert rp.post("token_endpoint", {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
                                          "code_verifier": pkce.verifier}).status == 400  # a replayed code
        for name, cookie in ((c.name, c.value) for c in browser.jar):
            seen[f"cookie {name}"] = cookie

        # An authenticator app, and the recovery codes shown once.
        page = browser.get(server.url + "/account/mfa/totp/new")
        assert page.status == 200, page.status
        totp_secret = totp_secret_of(page.text)
        seen["totp secret"] = totp_secret
        form = find_form(page.text, "code").hidden()
        done = browser.post(server.url + "/account/mfa/totp/new", {**form, "code": pyotp.TOTP(totp_secret).now()})
        assert done.status == 303, (done.status, done.text[:300])
        codes = re.findall(r"<li><code>([^<]+)</code></li>", browser.get(absolute(server, done.location)).text)
        assert codes
        for i, recovery in enumerate(codes):
            seen[f"recovery code {i}"] = html.unescape(recovery)

        # The invitation, accepted in another browser.
        newcomer = Browser()
        page = newcomer.get(invite_url)
        new_password = "quiet harbour lantern " + secrets.token_hex(8)
        seen["newcomer's password"] = new_password
        accepted = newcomer.post(invite_url, {**find_form(page.text, "password").hidden(), "password": new_password,
                                              "password_confirm": new_password})
        assert accepted.status in (302, 303), accepted.text[:300]
        assert any(seen["invitation token"] in body for body in inbox.bodies)  # it was mailed, not logged

        # A request id given by a proxy, and a metrics scrape.
        given_id = "run-" + secrets.token_hex(8)
        scrape = urllib.request.Request(server.url + "/metrics", headers={
            "Authorization": f"Bearer {metrics_token}", "X-Request-ID": given_id})
        with urllib.request.urlopen(scrape) as response:
            assert response.headers["X-Request-ID"] == given_id
        assert request(server.url + "/readyz").status == 200
    finally:
        live.terminate(server.process)  # every worker has written its last line
        log = (server.tmp / "server.log").read_text()
        server.stop()
        smtp.stop()

    ours = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert ours, log[:2000]
    assert all(entry["request_id"] is None or re.fullmatch(r"[\w.:+/=-]{1,128}", entry["request_id"]) for entry in ours)
    events = {entry["audit"]["event"] for entry in ours if "audit" in entry}
    assert {"login.failed", "login.password_ok", "mfa.added", "invitation.used"} <= events, events
    assert all(entry["request_id"] for entry in ours if entry.get("audit", {}).get("event") == "login.failed")
    leaked = {name for name, value in seen.items() if value and value in log}
    assert not leaked, f"in the log: {sorted(leaked)}"
