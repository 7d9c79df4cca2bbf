"""The example resource server (examples/api/app.py) against the live provider over
real HTTP: a password-only token reads /api/profile, gets RFC 9470's step-up challenge from
/api/admin and /api/payment, and keeps verifying across signing-key rotations without a
restart: old tokens with the retired (still published) key, new ones after a JWKS refetch
triggered by their unknown kid."""

from __future__ import annotations

import base64
import importlib.util
import json
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.interop.oidc_http import Browser, HttpResponse, RelyingParty, request
from tests.live import free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
REDIRECT_URI = "http://localhost:8080/resource-server/cb"
#: The live server re-reads its keys every 2 s (tests/live.py); new tokens show a rotation
#: within that, so 10 s is generous.
ROTATION_TIMEOUT = 10
#: The example's refetch rate limit, shortened so the test need not wait 10 s between fetches.
MIN_REFETCH_INTERVAL = 1.0


def _kid(token: str) -> str:
    header = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


def _challenge(response: HttpResponse) -> dict[str, str]:
    value = response.headers.get("www-authenticate", "")
    scheme, _, rest = value.partition(" ")
    assert scheme.lower() == "bearer", value
    params = {}
    for item in filter(None, (p.strip() for p in rest.split('", '))):
        name, _, quoted = item.partition("=")
        params[name] = quoted.strip('"')
    return params


@dataclass
class RunningExample:
    url: str
    app: object

    @property
    def jwks(self):  # noqa: ANN201
        return self.app.extensions["resource_server"].jwks

    def call(self, path: str, token: str | None, method: str = "GET") -> HttpResponse:
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return request(self.url + path, method=method, headers=headers)


@pytest.fixture
def example(live_server):
    spec = importlib.util.spec_from_file_location("resource_server_example", ROOT / "examples" / "api" / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # The example as `python examples/api/app.py --issuer …` builds it, on a thread
    # of this process so the test can watch its JWKS cache.
    app = module.create_app(live_server.url, min_refetch_interval=MIN_REFETCH_INTERVAL)
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield RunningExample(f"http://127.0.0.1:{port}", app)
    server.shutdown()
    thread.join(5)


def _new_token_with_kid(rp: RelyingParty, refresh_token: str, kid: str) -> tuple[str, str]:
    """Refresh until an access token is signed with `kid`; returns (access, refresh token)."""
    deadline = time.monotonic() + ROTATION_TIMEOUT
    seen = set()
    while True:
        response = rp.refresh(refresh_token)
        assert response.status == 200, (response.status, response.text)
        body = response.json()
        refresh_token = body["refresh_token"]
        seen.add(_kid(body["access_token"]))
        if _kid(body["access_token"]) == kid:
            return body["access_token"], refresh_token
        assert time.monotonic() < deadline, f"no token signed with {kid} within {ROTATION_TIMEOUT}s (saw {seen})"
        time.sleep(0.3)


def test_example_resource_server_against_the_live_provider(live_server, example):
    email = f"rs-{secrets.token_hex(4)}@example.com"
    password = "rs " + secrets.token_urlsafe(12)
    live_server.create_user(email, password)
    created = live_server.create_client(public=True, redirect_uri=REDIRECT_URI)
    rp = RelyingParty(issuer=live_server.url, client_id=created["client_id"], redirect_uri=REDIRECT_URI)
    body = rp.sign_in(Browser(), email, password)  # password only: acr pwd
    old_token, refresh_token = body["access_token"], body["refresh_token"]
    old_kid = _kid(old_token)

    # Any valid token reads the profile.
    response = example.call("/api/profile", old_token)
    assert response.status == 200, (response.status, response.text)
    profile = response.json()
    assert profile["acr"] == "pwd" and profile["client_id"] == rp.client_id
    assert example.jwks.fetch_count == 1

    # No token: the bare challenge (RFC 6750 §3.1).
    response = example.call("/api/profile", None)
    assert response.status == 401 and response.headers["www-authenticate"] == "Bearer"

    # Too weak for /api/admin: RFC 9470's challenge, naming the level to ask for.
    response = example.call("/api/admin", old_token)
    assert response.status == 401, (response.status, response.text)
    challenge = _challenge(response)
    assert challenge["error"] == "insufficient_user_authentication", challenge
    assert challenge["acr_values"] == "mfa" and "max_age" not in challenge, challenge
    assert response.json()["error"] == "insufficient_user_authentication"
    # /api/payment also names its freshness requirement.
    response = example.call("/api/payment", old_token, method="POST")
    assert response.status == 401
    assert _challenge(response) | {"error_description": ""} == {
        "error": "insufficient_user_authentication", "error_description": "", "acr_values": "mfa", "max_age": "300",
    }
    # What the challenge asks for is what the provider offers.
    assert "mfa" in rp.metadata["acr_values_supported"]

    # Rotation 1: the new active key was published as `next` before, so the example already
    # has it: the new token verifies with no fetch at all.
    kid1 = live_server.cli_json("keys", "rotate")["kid"]
    rotated_1 = time.monotonic()
    assert kid1 != old_kid
    token1, refresh_token = _new_token_with_kid(rp, refresh_token, kid1)
    response = example.call("/api/profile", token1)
    assert response.status == 200, (response.status, response.text)
    assert example.jwks.fetch_count == 1

    # Rotation 2 activates a key published after the example fetched the JWKS: unknown kid,
    # one refetch, no restart. (Wait out the live server's 2 s key cache since rotation 1, so
    # whichever worker answers the refetch publishes that key, and our own rate limit.)
    time.sleep(max(0.0, rotated_1 + 2.5 - time.monotonic()))
    kid2 = live_server.cli_json("keys", "rotate")["kid"]
    assert kid2 not in {old_kid, kid1}
    token2, refresh_token = _new_token_with_kid(rp, refresh_token, kid2)
    response = example.call("/api/profile", token2)
    assert response.status == 200, (response.status, response.text)
    assert response.json()["sub"] == profile["sub"]
    assert example.jwks.fetch_count == 2

    # The first token, signed by a key retired two rotations ago but still published (its
    # tokens are live), and the one between still verify, from the refreshed cache.
    for token in (old_token, token1, token2):
        response = example.call("/api/profile", token)
        assert response.status == 200, (_kid(token), response.status, response.text)
        assert example.call("/api/admin", token).status == 401  # still only pwd
    assert example.jwks.fetch_count == 2

    # Refreshed tokens carry the original sign-in's authentication (acr, auth_time).
    assert example.call("/api/profile", token2).json()["auth_time"] == profile["auth_time"]
