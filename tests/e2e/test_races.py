"""Races across processes, against a live server with two worker processes: a refresh token
or a code redeemed twice at the same moment yields exactly one success."""

from __future__ import annotations

import json
import os
import secrets
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests import live, redis_db
from tests.interop.oidc_http import Browser, RelyingParty

REDIRECT_URI = "http://localhost:8080/race/cb"
TRIALS = 8


def _rp(live_server, **options) -> tuple[RelyingParty, str, str]:
    email = f"race-{secrets.token_hex(5)}@example.com"
    password = "race " + secrets.token_urlsafe(16)
    live_server.create_user(email, password)
    created = live_server.create_client(public=True, redirect_uri=REDIRECT_URI, **options)
    return RelyingParty(live_server.url, created["client_id"], REDIRECT_URI), email, password


def _at_once(*calls):
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_concurrent_refresh_yields_one_success(live_server):
    rp, email, password = _rp(live_server)
    browser = Browser()
    for _ in range(TRIALS):
        token = rp.sign_in(browser, email, password)["refresh_token"]
        results = _at_once(lambda: rp.refresh(token), lambda: rp.refresh(token))
        statuses = sorted(r.status for r in results)
        assert statuses == [200, 400], [r.text for r in results]
        loser = next(r for r in results if r.status == 400)
        assert loser.json()["error"] == "invalid_grant"


def test_concurrent_refresh_inside_the_grace_window_gets_the_same_successor(live_server):
    rp, email, password = _rp(live_server, refresh_grace_seconds=10)
    browser = Browser()
    for _ in range(TRIALS):
        token = rp.sign_in(browser, email, password)["refresh_token"]
        results = _at_once(lambda: rp.refresh(token), lambda: rp.refresh(token))
        assert [r.status for r in results] == [200, 200], [r.text for r in results]
        successors = {r.json()["refresh_token"] for r in results}
        assert len(successors) == 1
        assert rp.refresh(successors.pop()).status == 200


def test_concurrent_code_redemption_yields_one_success(live_server):
    from tests.interop.oidc_http import Pkce, query

    rp, email, password = _rp(live_server)
    browser = Browser()
    for _ in range(TRIALS):
        pkce, state = Pkce(), secrets.token_urlsafe(8)
        callback = browser.navigate(rp.authorization_url(pkce, state, "n"), REDIRECT_URI, email, password)
        code = query(callback)["code"]
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": pkce.verifier}
        results = _at_once(lambda: rp.post("token_endpoint", data), lambda: rp.post("token_endpoint", data))
        assert sorted(r.status for r in results) == [200, 400], [r.text for r in results]
        # The loser's reuse revoked the grant the winner got (RFC 6749 §4.1.2).
        winner = next(r for r in results if r.status == 200).json()
        assert rp.refresh(winner["refresh_token"]).status == 400


@pytest.mark.parametrize("attempt", range(2))
def test_first_start_makes_one_active_and_one_next_key(attempt):
    # A Redis database of its own: flushing the shared live server's would sign its tests out.
    server = live.start({"REDIS_URL": redis_db.url("TEST_SPARE_REDIS_URL", 9)})
    try:
        def fetch():
            with urllib.request.urlopen(server.url.replace("localhost", "127.0.0.1") + "/jwks.json") as r:
                return json.load(r)

        _at_once(*[fetch] * 16)
        states = sorted(k["state"] for k in server.cli_json("keys", "list")["keys"])
        assert states == ["active", "next"]
    finally:
        server.stop()


def test_a_code_redeemed_while_the_session_signs_out_leaves_nothing_usable(live_server):
    """Issue 9, item 4, raced: whichever commits first, after the sign-out neither the code
    nor what it may have been exchanged for still works."""
    import re

    from tests.interop.oidc_http import Pkce, query

    rp, email, password = _rp(live_server)
    for _ in range(TRIALS):
        browser = Browser()
        pkce, state = Pkce(), secrets.token_urlsafe(8)
        code = query(browser.navigate(rp.authorization_url(pkce, state, "n"), REDIRECT_URI, email, password))["code"]
        token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get(live_server.url + "/account").text).group(1)
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": pkce.verifier}
        exchange, signed_out = _at_once(
            lambda: rp.post("token_endpoint", data),
            lambda: browser.post(live_server.url + "/account/sign-out", {"csrf_token": token}),
        )
        assert signed_out.status == 200, signed_out.text[:300]
        if exchange.status == 200:
            tokens = exchange.json()
            assert rp.refresh(tokens["refresh_token"]).status == 400
            userinfo = urllib.request.Request(live_server.url + "/userinfo",
                                              headers={"Authorization": "Bearer " + tokens["access_token"]})
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(userinfo)
            assert refused.value.code == 401
        else:
            assert exchange.status == 400 and exchange.json()["error"] == "invalid_grant"
        assert rp.post("token_endpoint", data).status == 400
