"""The recipes of docs/recipes/ against a live provider, exactly as their pages show them:
each client is registered with the page's `idp clients create` line, each app runs from the
file the page embeds, on a loopback port of its own.

- The web apps (Flask with Authlib, Node with openid-client): Debian's chromium signs in
  through the hosted pages, the app shows the claims, sign-out goes through the end-session
  endpoint and back, and the next sign-in asks for the password again.
- The APIs (PyJWT, npm's jose): a real access token passes; no token, an ID token, a token
  for another audience and a forged signature are refused with 401."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from tests import live
from tests.interop.oidc_http import Browser, RelyingParty
from tests.recipe_docs import RECIPES, registration

from .pages import expect, jwt_claims, query, sign_in, wait_for_login_page

pytestmark = pytest.mark.e2e

NODE = shutil.which("node")


def _needs_node(folder: str) -> None:
    if NODE is None:
        pytest.skip("`node` is not on PATH")
    if not (RECIPES / folder / "node_modules").is_dir():
        pytest.skip(f"docs/recipes/{folder}/node_modules is missing: run `make node`")


@dataclass
class Recipe:
    """A recipe's program, started by this test and stopped by its PID."""

    process: subprocess.Popen
    log: Path
    log_file: IO[str]
    origin: str

    def stop(self) -> None:
        live.terminate(self.process)
        self.log_file.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start(command: list[str], env: dict, port: int, tmp: Path) -> Recipe:
    log = tmp / f"recipe-{port}.log"
    log_file = log.open("w")
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=Path(command[-1]).parent,
                               stdout=log_file, stderr=subprocess.STDOUT)
    recipe = Recipe(process, log, log_file, f"http://localhost:{port}")
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return recipe
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                recipe.stop()
                raise RuntimeError(f"{command} did not start:\n{recipe.output()}") from None
            time.sleep(0.05)


# --- the web apps --------------------------------------------------------------------------

WEB_APPS = {
    # page, documented origin, command
    "flask_authlib": ("flask-authlib.md", "http://localhost:5002", [sys.executable, str(RECIPES / "flask_authlib/app.py")]),
    "node_openid_client": ("node-openid-client.md", "http://localhost:5003", [NODE or "node", str(RECIPES / "node_openid_client/app.mjs")]),
}


def _web_app(live_server, tmp_path: Path, name: str):
    page_name, documented, command = WEB_APPS[name]
    port = live.free_port()
    origin = f"http://localhost:{port}"
    created = json.loads(live_server.cli(*registration(RECIPES / page_name, {documented: origin})))
    assert "client_secret" in created, created  # a confidential client, as the page says
    env = {
        "OIDC_ISSUER": live_server.url,
        "OIDC_CLIENT_ID": created["client_id"],
        "OIDC_CLIENT_SECRET": created["client_secret"],
        "APP_URL": origin,
    }
    recipe = start(command, env, port, tmp_path)
    return recipe, created["client_id"]


@pytest.fixture(scope="module")
def person(live_server) -> tuple[str, str, str]:
    """One person for the module's sign-ins (creating one costs a production-strength hash)."""
    email = f"recipe-{secrets.token_hex(4)}@example.com"
    password = "e2e " + secrets.token_urlsafe(16)
    name = "Aiko Recipe 山田"  # through both apps' HTML and JSON escaping
    live_server.cli("users", "create", email, "--name", name, "--password-stdin", stdin=password + "\n")
    return email, password, name


def _page(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _sign_in_show_claims_sign_out(page, live_server, person, recipe: Recipe, client_id: str) -> None:
    issuer = live_server.url
    email, password, name = person
    app = recipe.origin
    before = int(time.time())

    # A callback that no sign-in of this browser started is refused, not a server error.
    status, body = _page(f"{app}/callback?code=forged&state=forged&iss={issuer}")
    assert status == 400 and 'id="error"' in body, (status, body)

    page.goto(app + "/")
    page.locator("#sign-in").click()
    sign_in(page, issuer, email, password)
    page.wait_for_url(app + "/")
    expect(page.locator("#email")).to_have_text(email)
    claims = json.loads(page.locator("#claims").text_content())
    # From the ID token (checked by the client library) ...
    assert claims["iss"] == issuer
    assert claims["aud"] == client_id or claims["aud"] == [client_id]
    assert claims["acr"] == "pwd" and claims["amr"] == ["pwd"]
    assert before - 5 <= claims["auth_time"] <= time.time() + 5
    assert claims["sid"]
    # ... and from userinfo, as the scopes release them.
    assert claims["email"] == email and claims["email_verified"] is True
    assert claims["name"] == name

    # Sign-out through the end-session endpoint, back to the app with its state.
    page.locator("#sign-out").click()
    page.wait_for_url(re.compile("^" + re.escape(app + "/signed-out?")))
    expect(page.locator("#signed-out")).to_be_visible()
    assert query(page.url)["state"][0]

    # The provider's session ended too: signing in again asks for the password.
    page.locator("#sign-in").click()
    wait_for_login_page(page, issuer)


@pytest.mark.parametrize("name", ["flask_authlib", "node_openid_client"])
def test_web_app_recipe(page, live_server, person, tmp_path, name):
    if name.startswith("node_"):
        _needs_node(name)
    recipe, client_id = _web_app(live_server, tmp_path, name)
    try:
        _sign_in_show_claims_sign_out(page, live_server, person, recipe, client_id)
    except Exception as error:
        raise AssertionError(f"{error}\n--- the app's log:\n{recipe.output()}") from error
    finally:
        recipe.stop()


# --- the APIs ------------------------------------------------------------------------------

APIS = {
    "pyjwt": lambda: [sys.executable, str(RECIPES / "pyjwt_api/api.py")],
    "jose": lambda: (_needs_node("jose_api"), [NODE, str(RECIPES / "jose_api/api.mjs")])[1],
}


@pytest.fixture(scope="module")
def tokens(live_server, person) -> dict:
    """A token response for a person signed in through the hosted pages."""
    redirect_uri = "http://localhost:8080/recipes/cb"
    created = live_server.create_client(public=True, redirect_uri=redirect_uri)
    email, password, _ = person
    rp = RelyingParty(issuer=live_server.url, client_id=created["client_id"], client_secret=None,
                      redirect_uri=redirect_uri)
    body = rp.sign_in(Browser(), email, password)
    body["client_id"] = created["client_id"]
    return body


def _get(url: str, token: str | None = None) -> tuple[int, dict, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
            return response.status, dict(response.headers), json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.load(error)


def _forged(token: str) -> str:
    header, payload, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return ".".join((header, payload, flipped))


@pytest.mark.parametrize("api", sorted(APIS))
def test_api_recipe(api, live_server, tokens, tmp_path):
    command = APIS[api]()
    with ExitStack() as stack:
        # One API expecting the provider's audience (the issuer), one expecting another's.
        right, wrong = [], []
        for started, extra in ((right, {}), (wrong, {"API_AUDIENCE": "https://other-api.example.com"})):
            port = live.free_port()
            recipe = start(command, {"OIDC_ISSUER": live_server.url, "PORT": str(port), **extra}, port, tmp_path)
            stack.callback(recipe.stop)
            started.append(recipe)
        (right,), (wrong,) = right, wrong
        me = right.origin + "/api/me"
        try:
            status, _, body = _get(me, tokens["access_token"])
            assert status == 200, body
            claims = jwt_claims(tokens["access_token"])
            assert body["sub"] == claims["sub"] and body["client_id"] == tokens["client_id"]
            assert body["acr"] == "pwd"

            status, headers, _ = _get(me)
            assert status == 401 and headers["WWW-Authenticate"] == "Bearer"

            for refused in (tokens["id_token"], _forged(tokens["access_token"]), "not-a-jwt"):
                status, headers, body = _get(me, refused)
                assert status == 401, (refused, body)
                assert headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'

            status, headers, _ = _get(wrong.origin + "/api/me", tokens["access_token"])
            assert status == 401 and headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
        except Exception as error:
            raise AssertionError(f"{error}\n--- the API's log:\n{right.output()}") from error
