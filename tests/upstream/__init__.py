"""A real upstream OpenID provider for the tests: node-oidc-provider (tests/upstream/server.mjs)
on a loopback port, started by the test and stopped by its PID. It plays "Google".

`Agent` is the part of a browser the integration tests need at the upstream: it follows the
upstream's redirects with a cookie jar of its own and stops at the first URL outside the
upstream (our callback), which the test then hands to Flask's test client.
"""

from __future__ import annotations

import http.cookiejar
import json
import secrets
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests import live

HERE = Path(__file__).resolve().parent
SERVER = HERE / "server.mjs"
INSTALLED = HERE / "node_modules" / "oidc-provider"


@dataclass(frozen=True)
class Account:
    email: str
    email_verified: bool = True
    name: str | None = None
    amr: list[str] | None = None
    acr: str | None = None
    sub: str = field(default_factory=lambda: "up-" + secrets.token_hex(6))


@dataclass
class Upstream:
    issuer: str
    client_id: str
    client_secret: str
    process: subprocess.Popen
    accounts: dict[str, Account]
    tmp: Path

    def stop(self) -> None:
        live.terminate(self.process)
        shutil.rmtree(self.tmp, ignore_errors=True)


def start(*, redirect_uris: list[str], accounts: list[Account], claims_in_id_token: bool = True) -> Upstream:
    if not INSTALLED.is_dir():
        import pytest

        pytest.skip("tests/upstream/node_modules is missing: run `make node` (npm ci in tests/upstream)")
    # A free port can be taken by another test's server before node binds it: then node
    # exits at once, and a new port is tried. 60 s for a start on a loaded CI machine (20 s
    # was once not enough for the 27 tests of test_upstream.py).
    for attempt in range(3):
        port = live.free_port()
        issuer = f"http://localhost:{port}"
        client_id, client_secret = "idp-" + secrets.token_hex(4), secrets.token_urlsafe(24)
        tmp = Path(tempfile.mkdtemp(prefix="idp-upstream-"))
        fixtures = {
            "port": port,
            "issuer": issuer,
            "claims_in_id_token": claims_in_id_token,
            "clients": [{
                "client_id": client_id, "client_secret": client_secret, "redirect_uris": redirect_uris,
                "grant_types": ["authorization_code"], "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_basic",
            }],
            "accounts": [{k: v for k, v in a.__dict__.items() if v is not None} for a in accounts],
        }
        (tmp / "fixtures.json").write_text(json.dumps(fixtures))
        log = open(tmp / "upstream.log", "w")
        process = subprocess.Popen(["node", str(SERVER), str(tmp / "fixtures.json")], cwd=HERE, stdout=log, stderr=subprocess.STDOUT)
        upstream = Upstream(issuer, client_id, client_secret, process, {a.email: a for a in accounts}, tmp)
        try:
            live.wait_until_serving(port, process, tmp / "upstream.log", upstream.stop, "the upstream", 60)
        except RuntimeError as error:
            if attempt == 2 or "EADDRINUSE" not in str(error):
                raise
            continue
        return upstream
    raise AssertionError("unreachable")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        return None


class Agent:
    """A person's browser at the upstream: its own cookies, redirects followed by hand."""

    def __init__(self, upstream: Upstream):
        self.upstream = upstream
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def _open(self, url: str, data: dict | None = None) -> tuple[int, str, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(urllib.request.Request(url, data=body), timeout=10) as response:
                return response.status, response.headers.get("Location", ""), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("Location", ""), error.read().decode()

    def sign_in(self, authorization_url: str, email: str) -> str:
        """Follow the authorization request, sign in as `email`, and return the URL the
        upstream finally redirects to (the callback, with code, state and iss)."""
        url, form = authorization_url, None
        for _ in range(10):
            status, location, page = self._open(url, form)
            form = None
            if status in (301, 302, 303, 307, 308):
                url = urllib.parse.urljoin(url, location)
                if not url.startswith(self.upstream.issuer):
                    return url
                continue
            if status == 200 and 'id="upstream-form"' in page:
                form = {"email": email}
                continue
            raise AssertionError(f"the upstream answered {status} at {url}: {page[:500]}")
        raise AssertionError("too many redirects at the upstream")
