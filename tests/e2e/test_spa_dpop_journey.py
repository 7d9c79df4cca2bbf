"""The example SPA (examples/spa, oidc-client-ts with DPoP) and the example API
(examples/api) against the live provider, in Debian's chromium: the journey of issue 10.

A person without a second factor signs in with the password (acr pwd) and reads the API.
Their authenticator app is then enrolled elsewhere (imported, as a migration does), so the
payment's RFC 9470 challenge is a real step-up: the provider asks only for the code. The
refresh token renews the session silently and is useless without the browser's key; a
signing-key rotation goes unnoticed; sign-out ends the provider's session.

Screenshots of each screen go to artifacts/spa/.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pyotp
import pytest
from joserfc.jwk import import_key
from werkzeug.serving import make_server

from tests.dpop import DpopKey
from tests.interop.oidc_http import request
from tests.live import free_port
from tests.recipe_docs import RECIPES, registration

from .pages import expect, jwt_claims, jwt_header, sign_in, sign_out_at_provider, wait_for_login_page
from .servers import ROOT, SpaServer

pytestmark = pytest.mark.e2e

SPA_SOURCE = ROOT / "examples" / "spa"
API_SOURCE = ROOT / "examples" / "api" / "app.py"
ARTIFACTS = ROOT / "artifacts" / "spa"
#: The access token lives 300 s; renewing 292 s early renews about every 8 s, so the test
#: sees silent renewals without waiting minutes (the app's default is 60 s before expiry).
RENEW_EARLY = 292
RENEW_TIMEOUT_MS = 30_000


# --- the example API and the built SPA ------------------------------------------------------

class RunningApi:
    def __init__(self, app, port: int) -> None:  # noqa: ANN001
        self.app = app
        self.origin = f"http://localhost:{port}"
        self._server = make_server("127.0.0.1", port, app, threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def jwks(self):  # noqa: ANN201
        return self.app.extensions["resource_server"].jwks

    def stop(self) -> None:
        self._server.shutdown()


def _load_api_module():  # noqa: ANN202
    import importlib.util

    spec = importlib.util.spec_from_file_location("example_api", API_SOURCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def spa_build(tmp_path_factory) -> Path:
    """examples/spa built as `npm run build` does, into a folder of the test's own."""
    if not (SPA_SOURCE / "node_modules" / "esbuild").is_dir():
        pytest.skip("examples/spa/node_modules is missing: run `make node`")
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is missing")
    out = tmp_path_factory.mktemp("spa-dist")
    result = subprocess.run([node, "build.mjs"], cwd=SPA_SOURCE, env={"PATH": "/usr/bin:/bin", "SPA_OUTDIR": str(out)},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (out / "app.js").is_file() and (out / "index.html").is_file()
    return out


@pytest.fixture(scope="module")
def journey(live_server, spa_build):
    """The SPA served from its build, the API on a thread of this process (so the test
    can watch its JWKS cache), and the client registered as docs/recipes/spa.md says."""
    spa = SpaServer(spa_build, files={}, redirect_path="/")
    api_port = free_port()
    app = _load_api_module().create_app(live_server.url, min_refetch_interval=1, cors_origins=[spa.origin])
    api = RunningApi(app, api_port)
    spa.connect_also = (api.origin,)
    # The recipe's very line, on this test's origin.
    line = registration(RECIPES / "spa.md", {"http://localhost:5173": spa.origin})
    assert {"--public", "--dpop"} <= set(line) and spa.redirect_uri in line and spa.post_logout_redirect_uri in line
    client = json.loads(live_server.cli(*line))
    spa.config = {"issuer": live_server.url, "client_id": client["client_id"], "api": api.origin,
                  "renew_before_expiry_seconds": RENEW_EARLY}
    yield spa, api
    api.stop()
    spa.stop()


# --- what the browser did -------------------------------------------------------------------

class Traffic:
    """The token endpoint's answers and the API's, as the browser saw them."""

    def __init__(self, page, issuer: str, api_origin: str) -> None:  # noqa: ANN001
        self.tokens: list[dict] = []  # token responses, oldest first
        self.token_requests: list[dict] = []  # {"form": ..., "dpop": header or None}
        self.api: list[dict] = []  # {"method", "path", "status", "www": ..., "authorization", "dpop"}
        self._lock = threading.RLock()
        page.on("response", lambda r: self._seen(r, issuer, api_origin))

    def _seen(self, response, issuer: str, api_origin: str) -> None:  # noqa: ANN001
        req = response.request
        if req.method == "OPTIONS":
            return
        if req.url == issuer + "/token":
            form = dict(re.findall(r"([^&=]+)=([^&]*)", req.post_data or ""))
            with self._lock:
                self.token_requests.append({"form": form, "dpop": req.headers.get("dpop")})
            if response.status == 200:
                # Read outside the lock: reading the body lets Playwright dispatch the next
                # response event on this same thread, whose handler takes the lock too (it
                # hung the suite once).
                body = response.json()
                with self._lock:
                    self.tokens.append(body)
        elif req.url.startswith(api_origin + "/"):
            with self._lock:
                self.api.append({
                    "method": req.method, "path": req.url[len(api_origin):], "status": response.status,
                    "www": response.headers.get("www-authenticate"),
                    "authorization": req.headers.get("authorization"), "dpop": req.headers.get("dpop"),
                })

    def last_api(self, path: str) -> dict:
        with self._lock:
            return [c for c in self.api if c["path"] == path][-1]


def status(page, *expected: str) -> str:  # noqa: ANN001
    """Wait until the SPA's body[data-status] is one of `expected` (or error)."""
    words = "|".join(re.escape(w) for w in (*expected, "error", "renew-error"))
    body = page.locator("body")
    try:
        expect(body).to_have_attribute("data-status", re.compile(f"^({words})$"))
    except AssertionError as error:
        raise AssertionError(f"the SPA at {page.url} never reached {expected}: "
                             f"{body.get_attribute('data-status')!r}") from error
    word = body.get_attribute("data-status")
    assert word in expected, f"SPA status {word!r} at {page.url}: {page.locator('#error').text_content()}"
    return word


def shot(page, name: str) -> None:  # noqa: ANN001
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def renewals(page) -> int:  # noqa: ANN001
    return int(page.locator("#renewal-count").text_content())


def wait_for_renewal(page, after: int) -> int:  # noqa: ANN001
    expect(page.locator("#renewal-count")).not_to_have_text(str(after), timeout=RENEW_TIMEOUT_MS)
    return renewals(page)


def proof_key(proof: str) -> str:
    """The RFC 7638 thumbprint of the key in a DPoP proof's header."""
    return import_key(jwt_header(proof)["jwk"]).thumbprint()


def code_after(secret: str, step: int | None) -> tuple[str, int]:
    """A TOTP code of a later 30 s step than `step` (a step is accepted once)."""
    totp = pyotp.TOTP(secret)
    while True:
        now = int(time.time())
        if step is None or now // 30 > step:
            return totp.at(now), now // 30
        time.sleep(0.5)


def enter_code(page, issuer: str, secret: str, step: int | None) -> int:  # noqa: ANN001
    page.wait_for_url(re.compile("^" + re.escape(issuer) + r"/login/mfa(\?|$)"))
    code, used = code_after(secret, step)
    page.locator("#code").fill(code)
    page.locator("#totp-submit").click()
    return used


def refresh_without_the_key(issuer: str, client_id: str, refresh_token: str, proof: str | None = None):  # noqa: ANN201
    headers = {"Accept": "application/json", **({"DPoP": proof} if proof else {})}
    return request(issuer + "/token", method="POST", headers=headers, form={
        "grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id,
    })


# --- the journey ----------------------------------------------------------------------------

def test_spa_signs_in_steps_up_renews_survives_rotation_and_signs_out(page, journey, live_server, make_user, watch):
    spa, api = journey
    issuer = live_server.url
    client_id = spa.config["client_id"]
    email, password = make_user()
    page.set_viewport_size({"width": 1200, "height": 820})
    traffic = Traffic(page, issuer, api.origin)

    # --- sign in with the password (the person has no second factor yet) ----------------
    page.goto(spa.origin + "/")
    status(page, "ready")
    shot(page, "01-welcome")
    page.locator("#sign-in").click()
    sign_in(page, issuer, email, password)
    status(page, "signed-in")
    assert page.url == spa.origin + "/", "the code and state must leave the address bar"
    claims = json.loads(page.locator("#claims").text_content())
    assert claims["iss"] == issuer and claims["email"] == email
    assert claims["acr"] == "pwd" and claims["amr"] == ["pwd"]
    expect(page.locator("#token-type")).to_contain_text("DPoP")
    first = traffic.tokens[-1]
    assert first["token_type"] == "DPoP" and "refresh_token" in first
    assert traffic.token_requests[-1]["dpop"], "the code was redeemed without a DPoP proof"
    jkt = jwt_claims(first["access_token"])["cnf"]["jkt"]
    signed_in_with = [u for _, u in watch.requests if u.startswith(issuer + "/authorize?")][-1]
    assert f"dpop_jkt={jkt}" in signed_in_with, "the code was not bound to the key (RFC 9449 §10)"

    # Seed 004: nothing of the tokens in web storage; the key is a non-extractable CryptoKey.
    stored = page.evaluate("() => JSON.stringify({local: {...localStorage}, session: {...sessionStorage}})")
    for secret in (first["access_token"], first["refresh_token"], first["id_token"]):
        assert secret not in stored
    key = page.evaluate("""() => new Promise((resolve, reject) => {
        const open = indexedDB.open("oidc");
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
            const get = open.result.transaction("dpop").objectStore("dpop").getAll();
            get.onsuccess = () => resolve(get.result.map((s) => ({
                type: s.keys.privateKey.type, extractable: s.keys.privateKey.extractable,
                alg: s.keys.privateKey.algorithm.name, curve: s.keys.privateKey.algorithm.namedCurve})));
        };
    })""")
    assert key == [{"type": "private", "extractable": False, "alg": "ECDSA", "curve": "P-256"}]

    # --- a plain API call with the DPoP-bound token ------------------------------------
    page.locator("#call-profile").click()
    status(page, "profile-ok")
    call = traffic.last_api("/api/profile")
    assert call["status"] == 200
    assert call["authorization"].startswith("DPoP ") and call["dpop"]
    proof = jwt_claims(call["dpop"])
    assert proof["htm"] == "GET" and proof["htu"] == api.origin + "/api/profile" and "ath" in proof
    profile = json.loads(page.locator("#profile-json").text_content())
    assert profile["sub"] == claims["sub"] and profile["acr"] == "pwd"
    shot(page, "02-home")

    # --- the person's authenticator app, enrolled elsewhere (imported) ------------------
    secret = pyotp.random_base32()
    people = live_server.tmp / "people.jsonl"
    people.write_text(json.dumps({"email": email, "totp_secrets": [secret]}) + "\n")
    assert live_server.cli_json("users", "import", str(people))["updated"] == 1

    # --- the payment asks for more (RFC 9470); step-up asks only for the code -----------
    page.locator("#approve-payment").click()
    status(page, "step-up")
    challenge = traffic.last_api("/api/payment")
    assert challenge["status"] == 401
    assert challenge["www"].startswith("DPoP "), challenge["www"]
    assert 'error="insufficient_user_authentication"' in challenge["www"]
    assert 'acr_values="mfa"' in challenge["www"] and 'max_age="300"' in challenge["www"]
    shot(page, "03-step-up")
    page.locator("#step-up-continue").click()
    page.wait_for_url(lambda url: url.startswith(issuer))
    authorize = [u for _, u in watch.requests if u.startswith(issuer + "/authorize?")][-1]
    assert "acr_values=mfa" in authorize and "max_age=300" in authorize
    page.wait_for_url(re.compile("^" + re.escape(issuer) + r"/login/mfa(\?|$)"))
    assert page.locator("#password").count() == 0, "step-up asked for the password again"
    expect(page.locator("#code")).to_be_visible()
    shot(page, "03b-provider-asks-only-the-code")
    step = enter_code(page, issuer, secret, None)
    status(page, "payment-ok")  # the call was retried with the new token
    stepped = json.loads(page.locator("#claims").text_content())
    assert stepped["sub"] == claims["sub"] and stepped["sid"] == claims["sid"]
    assert stepped["acr"] == "mfa" and stepped["amr"] == ["pwd", "otp", "mfa"]
    payment = json.loads(page.locator("#payment-json").text_content())
    assert payment["payment"] == "accepted" and payment["acr"] == "mfa"
    assert traffic.last_api("/api/payment")["status"] == 200
    shot(page, "04-approved")

    # --- silent renewal with the DPoP-bound refresh token ------------------------------
    count = wait_for_renewal(page, renewals(page))
    renewal = [r for r in traffic.token_requests if r["form"].get("grant_type") == "refresh_token"][-1]
    assert renewal["dpop"], "the refresh went without a DPoP proof"
    assert jwt_claims(renewal["dpop"])["htu"] == issuer + "/token"
    current = traffic.tokens[-1]
    assert jwt_claims(current["access_token"])["acr"] == "mfa"
    assert jwt_claims(current["access_token"])["cnf"]["jkt"] == jkt == proof_key(renewal["dpop"])
    shot(page, "05-renewed")

    # A thief with the current refresh token but not the key gets nothing.
    stolen = current["refresh_token"]
    replay = refresh_without_the_key(issuer, client_id, stolen)
    assert replay.status == 400 and replay.json()["error"] == "invalid_dpop_proof", replay.text
    other_key = DpopKey()
    replay = refresh_without_the_key(issuer, client_id, stolen, other_key.proof("POST", issuer + "/token"))
    assert replay.status == 400 and replay.json()["error"] == "invalid_dpop_proof", replay.text
    # ... and the person's session goes on.
    count = wait_for_renewal(page, count)

    # --- a signing-key rotation mid-session --------------------------------------------
    fetched = api.jwks.fetch_count
    live_server.cli("keys", "rotate")
    active = live_server.cli_json("keys", "rotate")["kid"]  # a key the API has never seen
    deadline = time.monotonic() + 60
    while jwt_header(traffic.tokens[-1]["access_token"])["kid"] != active:
        assert time.monotonic() < deadline, "no token signed by the new key"
        count = wait_for_renewal(page, count)
    page.locator("#call-profile").click()
    status(page, "profile-ok")
    assert traffic.last_api("/api/profile")["status"] == 200
    assert api.jwks.fetch_count > fetched, "the API verified a token of an unknown kid without fetching the JWKS"

    # --- sign-out at the provider --------------------------------------------------------
    page.locator("#sign-out").click()
    sign_out_at_provider(page, issuer, spa.post_logout_redirect_uri)
    status(page, "signed-out")
    shot(page, "06-signed-out")
    gone = page.evaluate("""() => new Promise((resolve) => {
        const open = indexedDB.open("oidc");
        open.onsuccess = () => {
            const keys = open.result.transaction("dpop").objectStore("dpop").getAllKeys();
            keys.onsuccess = () => resolve(keys.result.length);
        };
    })""")
    assert gone == 0, "the DPoP key outlived the sign-out"
    last_refresh = traffic.tokens[-1]["refresh_token"]
    assert refresh_without_the_key(issuer, client_id, last_refresh).status == 400

    # --- the next sign-in asks for the password again ----------------------------------
    page.locator("#sign-in-again").click()
    wait_for_login_page(page, issuer)
    expect(page.locator("#password")).to_have_value("")
    sign_in(page, issuer, email, password)
    enter_code(page, issuer, secret, step)
    status(page, "signed-in")
    again = json.loads(page.locator("#claims").text_content())
    assert again["sub"] == claims["sub"] and again["sid"] != claims["sid"]
    assert again["acr"] == "mfa"

    assert not watch.page_errors, watch.page_errors
    assert not watch.csp_violations, watch.csp_violations
