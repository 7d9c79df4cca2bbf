"""Metrics under two worker processes, gunicorn's and granian's: a scripted attack (wrong
passwords, then a lockout) adds up across the workers, including workers that were killed
and replaced in the middle of it."""

from __future__ import annotations

import os
import secrets
import signal
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests import live, redis_db
from tests.interop.oidc_http import Browser, find_form

pytestmark = pytest.mark.e2e

TOKEN = "live-metrics-" + secrets.token_hex(8)
THRESHOLD = 8


def scrape(server) -> dict[str, float]:  # noqa: ANN001
    request = urllib.request.Request(server.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    return {name: float(value) for name, _, value in
            (line.rpartition(" ") for line in text.splitlines() if line and not line.startswith("#"))}


def metric_dir(server) -> Path:  # noqa: ANN001
    dirs = list((Path(server.env["IDP_INSTANCE_PATH"]) / "metrics").iterdir())
    assert len(dirs) == 1, dirs  # one directory for the server, shared by its workers
    return dirs[0]


def worker_pids(server) -> set[int]:  # noqa: ANN001
    return {int(f.stem.split("_")[1]) for f in metric_dir(server).glob("counter_*.db")}


def wait_for(condition, what: str, seconds: float = 30):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.1)
    return result


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


def serving(server) -> bool:  # noqa: ANN001
    try:
        with urllib.request.urlopen(server.url + "/healthz", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def wrong_passwords(server, email: str, n: int) -> list[int]:  # noqa: ANN001
    """n wrong passwords, each from a browser (and connection) of its own, in parallel."""
    browsers = [Browser() for _ in range(n)]
    forms = [find_form(b.get(server.url + "/login").text, "password").hidden() for b in browsers]

    def guess(i: int) -> int:
        return browsers[i].post(server.url + "/login", {**forms[i], "email": email, "password": f"guess {i}"}).status

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(guess, range(n)))


@pytest.mark.parametrize("kind", ["gunicorn", "granian"])
def test_a_scripted_attack_adds_up_across_workers(kind):
    server = live.start({
        "IDP_METRICS_TOKEN": TOKEN,
        "IDP_LOCKOUT_THRESHOLD": str(THRESHOLD),
        "IDP_LOCKOUT_BASE_SECONDS": "60",  # the lock outlasts the test
        "REDIS_URL": redis_db.url("TEST_SPARE_REDIS_URL", 9),
    }, server=kind)
    try:
        email = f"target-{secrets.token_hex(4)}@example.com"
        server.create_user(email, "the right password " + secrets.token_hex(4))
        first = wait_for(lambda: p if len(p := worker_pids(server)) == 2 else None, "two workers")
        assert wrong_passwords(server, email, THRESHOLD // 2) == [401] * (THRESHOLD // 2)
        # The processes that counted so far go away; their replacements count the rest.
        for pid in first:
            os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not any(alive(p) for p in first), "the first workers gone")
        wait_for(lambda: len({p for p in worker_pids(server) - first if alive(p)}) == 2, "two new workers")
        wait_for(lambda: serving(server), "the new workers serving")
        assert wrong_passwords(server, email, THRESHOLD // 2) == [401] * (THRESHOLD // 2)
        assert wrong_passwords(server, email, 1) == [429]
        totals = scrape(server)
        assert totals['idp_sign_ins_total{factor="pwd",result="failure"}'] == THRESHOLD
        assert totals['idp_sign_ins_total{factor="pwd",result="locked"}'] == 1
        assert totals['idp_lockouts_total{counter="account"}'] == 1
        assert totals['idp_lockouts_total{counter="address"}'] == 0
        assert totals["idp_argon2_verify_seconds_count"] >= THRESHOLD
        assert totals['idp_request_duration_seconds_count{endpoint="/login"}'] == 2 * (THRESHOLD + 1)
        # The same sums whichever worker serves the scrape (each scrape opens a connection).
        key = 'idp_sign_ins_total{factor="pwd",result="failure"}'
        assert {scrape(server)[key] for _ in range(6)} == {THRESHOLD}
        assert len(worker_pids(server)) == 4
    finally:
        server.stop()


def test_a_new_server_starts_from_zero_and_removes_the_old_directory():
    first = live.start({"IDP_METRICS_TOKEN": TOKEN})
    instance = Path(first.env["IDP_INSTANCE_PATH"])
    old = metric_dir(first)
    key = 'idp_request_duration_seconds_count{endpoint="/metrics"}'
    scrape(first)
    assert scrape(first)[key] == 1
    live.terminate(first.process)
    # Another server over the same instance directory, as after a restart.
    second = live.start({"IDP_METRICS_TOKEN": TOKEN, "IDP_INSTANCE_PATH": str(instance)})
    try:
        assert metric_dir(second) != old and not old.exists()
        assert scrape(second).get(key, 0) == 0  # not the first server's 2 carried on
    finally:
        second.stop()
        first.stop()
