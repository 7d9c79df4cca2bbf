"""A worker's threads reuse their argon2 buffers (19 MiB each at the defaults): a hash
does not fault its memory in page by page, and what stays is one buffer per thread that
hashes, the slots bounding it (idp/security/passwords.py).

Each case runs in a fresh interpreter: malloc's state is per process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import json, resource
    from concurrent.futures import ThreadPoolExecutor
    from idp.security.passwords import Argon2Params, Passwords

    def rss_kib():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

    passwords = Passwords(Argon2Params(memory_kib=19456, time_cost=1, parallelism=1), max_concurrent=4)
    stored = passwords.hash("pw")
    baseline = rss_kib()

    server = ThreadPoolExecutor(4)  # a worker's request threads, long-lived as a server's

    def burst(n):
        list(server.map(lambda _: passwords.verify(stored, "pw"), range(n)))

    burst(4)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        burst(8)  # more sign-ins at once than slots: they wait for one
    faults_per_hash = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / 40
    print(json.dumps({"grown_kib": rss_kib() - baseline, "faults_per_hash": faults_per_hash}))
""")


def test_hash_buffers_are_reused_and_bounded_by_the_slots():
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    m = json.loads(out.stdout.strip().splitlines()[-1])
    # 19 MiB is 4,864 pages: a hash given fresh memory faults each of them in.
    assert m["faults_per_hash"] < 1000, m
    # Four threads, four buffers at most (and some slack for the interpreter).
    assert m["grown_kib"] < (4 * 19 + 16) * 1024, m
