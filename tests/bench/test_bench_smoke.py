"""The benchmark harness must not rot: its smoke mode runs from start to finish, measures
every endpoint on both servers, and our provider answers every request of it correctly.

No speed is asserted, ever: this runs on a shared CI machine. About two minutes; only
when the suite runs on PostgreSQL (the benchmark makes its own PostgreSQL database anyway,
so once per CI run is enough).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench import cells

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.bench,
    pytest.mark.skipif(
        not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
        reason="the benchmark smoke run goes with the PostgreSQL pass of the suite (TEST_DATABASE_URL)",
    ),
]


def _rows(table: str) -> dict[tuple[str, int], list[str]]:
    rows = {}
    for line in table.splitlines():
        cols = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cols) == 9 and cols[1].isdigit():
            rows[(re.sub(r" \(flows\)$", "", cols[0]), int(cols[1]))] = cols
    return rows


def test_smoke_run_measures_every_endpoint_on_both_sides():
    assert shutil.which("wrk"), "wrk is missing: `make install-test` installs it"
    assert (ROOT / "bench/peer/node_modules/oidc-provider").is_dir(), "`make install-test` installs the peer"
    done = subprocess.run([sys.executable, "-m", "bench", "--smoke"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]

    rows = _rows(done.stdout)
    for endpoint in cells.ENDPOINTS:
        for connections in (1, 16):
            cols = rows.get((endpoint.title, connections))
            assert cols is not None, f"no row for {endpoint.title} at {connections}:\n{done.stdout}"
            peer_rate, ours_rate, errors = cols[2], cols[3], cols[7]
            assert peer_rate != "-" and ours_rate != "-", cols
            ours_errors = int(errors.split("/")[1])
            assert ours_errors == 0, f"our provider failed requests in {endpoint.title} at {connections}: {cols}"
    assert "Peak RSS" in done.stdout and "argon2id" in done.stdout and "jose" in done.stdout
    # The password flows' sign-in requests are timed apart from the flows, on both sides.
    for side in ("peer", "ours"):
        line = next(l for l in done.stdout.splitlines() if f"{side}: its sign-in request alone" in l)
        assert re.search(r"\d ms = argon2id \+ -?\d+ %", line), line
    # What each side's processes spent per request (bench/cpu.py), for every cell.
    spent = {}
    for line in done.stdout.splitlines():
        cols = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cols) == 5 and cols[1].isdigit() and "=" in cols[2]:
            spent[(re.sub(r" \(flows\)$", "", cols[0]), int(cols[1]))] = cols
    for endpoint in cells.ENDPOINTS:
        for connections in (1, 16):
            cols = spent.get((endpoint.title, connections))
            assert cols is not None, f"no CPU row for {endpoint.title} at {connections}:\n{done.stdout}"
            for side in cols[2:4]:
                assert float(side.split("=")[1]) > 0, cols
