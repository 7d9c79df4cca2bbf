"""What the lockout costs: time and Redis round trips per sign-in attempt, against the same
sign-in with the lockout switched off, and the Redis memory an attack from 100,000
addresses leaves behind. A benchmark, not a test: it prints figures.

    python bench/lockout.py [--attempts 300] [--addresses 100000]

Uses the real Redis (database 8, flushed) and a temporary SQLite database.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402

from idp import create_app  # noqa: E402
from idp.lockout.regulator import Attempt, Regulator, Reservation  # noqa: E402
from tests.helpers import csrf_token, make_user  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/8"


class NoLockout(Regulator):
    """The comparison: the same code path with the lockout's Redis calls taken out."""

    def __init__(self) -> None:  # noqa: D107
        pass

    def reserve(self, attempt: Attempt) -> Reservation:
        return Reservation(attempt, [], "")

    def succeeded(self, reservation: Reservation, *, complete: bool, account: str | None = None) -> None:
        pass


class RoundTrips:
    """Counts the provider's calls to Redis (each is one network round trip)."""

    def __init__(self, client: redis.Redis) -> None:
        self.count = 0
        original = client.execute_command

        def counted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            self.count += 1
            return original(*args, **kwargs)

        client.execute_command = counted  # type: ignore[method-assign]


def measure(app, email: str, attempts: int, trips: RoundTrips) -> tuple[list[float], float]:
    http = app.test_client()
    token = csrf_token(http.get("/login").get_data(as_text=True))
    timings = []
    counted = 0
    for i in range(attempts):
        # Alternate right and wrong passwords: the account never reaches its threshold.
        password = "correct horse battery staple" if i % 2 else "wrong password"
        before = trips.count
        started = time.perf_counter()
        # A new address every attempt: the address counter would lock one address after 50.
        address = {"REMOTE_ADDR": f"10.9.{i // 250}.{i % 250}"}
        response = http.post("/login", data={"csrf_token": token, "email": email, "password": password},
                             environ_overrides=address)
        timings.append((time.perf_counter() - started) * 1000)
        counted += trips.count - before
        assert response.status_code in (303, 401), response.status_code
        if response.status_code == 303:
            token = csrf_token(http.get("/login").get_data(as_text=True))
    return timings, counted / attempts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--attempts", type=int, default=300)
    parser.add_argument("--addresses", type=int, default=100_000)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="idp-bench-"))
    r = redis.Redis.from_url(REDIS_URL)
    r.flushdb()
    app = create_app({
        "IDP_ENV": "test", "IDP_ISSUER": "http://localhost", "REDIS_URL": REDIS_URL,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.sqlite3'}",
        "SECRET_KEY": "bench", "IDP_DATA_KEYS": "b1:" + "B" * 43,
    })
    with app.app_context():
        upgrade()
    make_user(app, "bench@example.com")
    trips = RoundTrips(app.extensions["idp.redis"])

    print(f"sign-in attempts: {args.attempts} each, argon2id m=19 MiB t=2 p=1, half right and half wrong")
    results = {}
    for label in ("lockout on", "lockout off", "lockout on (again)"):
        if label == "lockout off":
            real = app.extensions["idp.regulator"]
            app.extensions["idp.regulator"] = NoLockout()
        elif label.startswith("lockout on (again)"):
            app.extensions["idp.regulator"] = real
        r.delete(*r.keys("idp:lock:*")) if r.keys("idp:lock:*") else None
        timings, per_attempt = measure(app, "bench@example.com", args.attempts, trips)
        results[label] = timings
        print(f"  {label:20} median {statistics.median(timings):6.2f} ms   mean {statistics.mean(timings):6.2f} ms"
              f"   p95 {sorted(timings)[int(len(timings) * .95)]:6.2f} ms   redis round trips per sign-in POST {per_attempt:.2f}")
    on = statistics.median(results["lockout on"] + results["lockout on (again)"])
    off = statistics.median(results["lockout off"])
    print(f"lockout adds {on - off:+.2f} ms per attempt at the median ({(on - off) / off * 100:+.1f} %)")

    # The memory an attack from many addresses leaves: one failed attempt per address, each
    # against a different account (the worst case: two counters per attempt).
    r.flushdb()
    regulator = app.extensions["idp.regulator"]
    before = int(r.info("memory")["used_memory"])
    started = time.perf_counter()
    with app.app_context():
        for i in range(args.addresses):
            try:
                regulator.reserve(Attempt(account=f"{i:032x}", ip=f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")).failed()
            except Exception:  # noqa: BLE001
                pass
    elapsed = time.perf_counter() - started
    used = int(r.info("memory")["used_memory"]) - before
    keys = r.dbsize()
    sample = r.randomkey()
    print(f"attack from {args.addresses:,} addresses on {args.addresses:,} accounts: {keys:,} keys, "
          f"{used / 1e6:.1f} MB of Redis memory ({used / keys:.0f} bytes a key; MEMORY USAGE of one: "
          f"{r.memory_usage(sample)} bytes), written in {elapsed:.1f} s; every key expires after "
          f"{r.ttl(sample)} s")
    r.flushdb()


if __name__ == "__main__":
    main()
