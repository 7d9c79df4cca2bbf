"""Issue 13 item 5: REDIS_URL in Cluster form, against a real three-primary Redis Cluster
on loopback. The lockout, session and flow tests run against it unchanged (a script whose
keys crossed a slot would fail them with CROSSSLOT), and so do the live race tests."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests import redis_servers

pytestmark = [pytest.mark.redis_ha,
              pytest.mark.skipif(not redis_servers.AVAILABLE, reason="redis-server or redis-cli missing")]

ROOT = Path(__file__).resolve().parents[2]
AGAINST_THE_CLUSTER = [
    "tests/integration/test_lockout.py", "tests/integration/test_second_factor_cap.py",
    "tests/integration/test_ipv6_counting.py", "tests/integration/test_login.py", "tests/integration/test_mfa.py",
    "tests/integration/test_logout.py", "tests/integration/test_code_flow.py",
    "tests/e2e/test_lockout_live.py::test_fifty_parallel_wrong_passwords_evaluate_at_most_the_threshold",
    "tests/e2e/test_lockout_live.py::test_parallel_correct_passwords_are_never_refused_for_attempts_in_flight",
]


@pytest.fixture(scope="module")
def cluster():
    started = redis_servers.start_cluster()
    yield started
    started.stop()


def test_the_lockout_session_and_flow_tests_pass_on_a_cluster(cluster):
    env = {**os.environ, "TEST_REDIS_URL": cluster.url, "TEST_LIVE_REDIS_URL": cluster.url,
           "TEST_SPARE_REDIS_URL": cluster.url}
    env.pop("TEST_DATABASE_URL", None)  # the topology of Redis is what is tested here
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *AGAINST_THE_CLUSTER],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=1500,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_an_attempts_counters_live_on_several_nodes_and_none_exceeds_its_threshold(cluster):
    """One account, guessed at from 40 addresses at once: the account's counter and the
    addresses' counters are in different slots (reserved one slot at a time, given back
    when a later one refuses), and still no more than the threshold is evaluated."""
    from idp import create_app
    from idp.lockout.regulator import Attempt, Busy, Locked
    from idp.store import counters
    from tests.conftest import TEST_CONFIG

    app = create_app({**TEST_CONFIG, "REDIS_URL": cluster.url})
    regulator = app.extensions["idp.regulator"]
    account = "c" * 32
    slots = {app.extensions["idp.redis"].keyslot(counters.redis_key(k)) for k in
             (f"acct:{account}", f"mfa:{account}", "ip:192.0.2.1", "ip:192.0.2.2")}
    assert len(slots) >= 2  # the script cannot take them in one call

    def attempt(i: int) -> str:
        with app.app_context():
            try:
                reservation = regulator.reserve(Attempt(account=account, ip=f"192.0.2.{i}", second_factor=True))
            except Locked:
                return "locked"
            except Busy:
                return "busy"
            reservation.failed()
            return "evaluated"

    with ThreadPoolExecutor(40) as pool:
        outcomes = list(pool.map(attempt, range(1, 41)))
    assert 1 <= outcomes.count("evaluated") <= regulator.limits.threshold, outcomes
    with app.app_context():
        assert counters.read(f"acct:{account}").failures == outcomes.count("evaluated")
