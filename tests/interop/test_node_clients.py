"""Interoperability with clients nobody on this project wrote: npm's `openid-client` (v6) and
`jose`, driven by tests/node/flow.mjs against the live provider, once as a public client and
once per client authentication method of a confidential client."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "tests" / "node"
NODE = shutil.which("node")

REDIRECT_URI = "http://localhost:8080/node/cb"
POST_LOGOUT_URI = "http://localhost:8080/node/bye"

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(NODE is None, reason="`node` is not on PATH: the npm clients cannot run"),
    pytest.mark.skipif(
        not (NODE_DIR / "node_modules" / "openid-client").is_dir(),
        reason="tests/node/node_modules is missing: run `npm ci` in tests/node",
    ),
]


def run_flow(live_server, *, public: bool, client_auth: str) -> dict:
    email = f"node-{secrets.token_hex(6)}@example.com"
    password = "node " + secrets.token_urlsafe(18)
    live_server.create_user(email, password)
    # Strict rotation, so that the client sees a reused refresh token refused (a
    # confidential client's default grace window would hand it the same successor).
    created = live_server.create_client(
        public=public, redirect_uri=REDIRECT_URI, post_logout_redirect_uri=POST_LOGOUT_URI,
        refresh_grace_seconds=0,
    )
    assert ("client_secret" in created) is not public, created
    env = {
        **os.environ,
        "OIDC_ISSUER": live_server.url,
        "OIDC_CLIENT_ID": created["client_id"],
        "OIDC_CLIENT_SECRET": created.get("client_secret") or "",
        "OIDC_CLIENT_AUTH": client_auth,
        "OIDC_REDIRECT_URI": REDIRECT_URI,
        "OIDC_POST_LOGOUT_REDIRECT_URI": POST_LOGOUT_URI,
        "OIDC_EMAIL": email,
        "OIDC_PASSWORD": password,
    }
    started = time.monotonic()
    result = subprocess.run(
        [NODE, "flow.mjs"], cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, (
        f"flow.mjs ({client_auth}) exited {result.returncode} after {elapsed:.1f}s\n"
        f"--- stderr ---\n{result.stderr}\n--- stdout ---\n{result.stdout}"
    )
    summary = json.loads(result.stdout)
    assert summary["ok"] is True, summary
    assert summary["issuer"] == live_server.url
    assert summary["client_id"] == created["client_id"]
    assert summary["client_auth"] == client_auth

    idt = summary["id_token"]
    assert idt["acr"] == "pwd" and "pwd" in idt["amr"]
    assert isinstance(idt["auth_time"], int) and idt["sid"]

    at = summary["access_token"]
    assert at["typ"] == "at+jwt"
    assert at["aud"] == live_server.url or live_server.url in at["aud"]
    assert at["client_id"] == created["client_id"]

    assert summary["userinfo"]["sub"] == idt["sub"]
    assert summary["userinfo"]["email"] == email
    assert summary["refresh"] == {"rotated": True, "id_token": summary["refresh"]["id_token"],
                                  "reuse_error": "invalid_grant", "family_revoked": True}
    assert summary["revocation"] == {"access_token": True, "refresh_token": True, "unknown_token_ok": True}
    assert summary["logout"]["location"].startswith(POST_LOGOUT_URI + "?")
    assert "state=" in summary["logout"]["location"]
    assert summary["logout"]["prompt_none_after"] == "login_required"
    return summary


def test_public_client(live_server):
    summary = run_flow(live_server, public=True, client_auth="none")
    assert "public_client_refused" in summary["introspection"]


@pytest.mark.parametrize("client_auth", ["client_secret_basic", "client_secret_post"])
def test_confidential_client(live_server, client_auth):
    summary = run_flow(live_server, public=False, client_auth=client_auth)
    intro = summary["introspection"]
    assert intro["access_token"]["active"] is True
    assert intro["refresh_token"]["active"] is True
    assert intro["after_revocation"]["access_token"] == {"active": False}
    assert intro["after_revocation"]["refresh_token"] == {"active": False}
