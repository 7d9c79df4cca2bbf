"""Readiness: can this process serve a sign-in right now? Each dependency is asked in a
thread of its own with a deadline, so a hung database or Redis makes the answer "not
ready" within the deadline instead of holding the load balancer's probe."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import text

#: Seconds a dependency has to answer before it counts as missing.
DEADLINE = 1.5


class Probe:
    """One check with a deadline. A check still running from an earlier probe (hung on a
    dead connection) is not started again: the answer is "missing" until it returns, so a
    stuck dependency holds one thread per process, never one per probe."""

    def __init__(self, check: Callable[[], Any], deadline: float = DEADLINE):
        self._check = check
        self._deadline = deadline
        self._lock = threading.Lock()
        self._running: threading.Thread | None = None

    def __call__(self) -> bool:
        result: list[bool] = []

        def run() -> None:
            try:
                self._check()
                result.append(True)
            except Exception:  # noqa: BLE001 — whatever the failure, the dependency is not there
                result.append(False)

        with self._lock:
            if self._running is not None and self._running.is_alive():
                return False
            self._running = threading.Thread(target=run, name="idp-readyz", daemon=True)
            self._running.start()
        self._running.join(self._deadline)
        return bool(result and result[0])


class Readiness:
    """What `/readyz` reports: the names of the missing dependencies (none: ready)."""

    def __init__(self, engine: Any, redis_client: Any, keys: Any, signing_alg: str, deadline: float = DEADLINE):
        def database() -> None:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))

        self._database = Probe(database, deadline)
        self._redis = Probe(redis_client.ping, deadline)
        self._keys = keys
        self._alg = signing_alg

    def missing(self) -> list[str]:
        missing = [name for name, probe in (("database", self._database), ("redis", self._redis)) if not probe()]
        if not self._signing_key_loaded():
            missing.append("signing_keys")
        return missing

    def _signing_key_loaded(self) -> bool:
        """The process holds the active signing key (loaded once, then cached): without it
        no token can be issued even if the database answers."""
        from .extensions import db

        try:
            return self._alg in self._keys.snapshot().signing
        except Exception:  # noqa: BLE001 — not loadable now (the database is down): not ready
            db.session.rollback()
            return False
