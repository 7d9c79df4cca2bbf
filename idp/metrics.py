"""Prometheus metrics. Counting is in memory (one process) or, when the server set
PROMETHEUS_MULTIPROC_DIR before this module was imported (idp.metrics_dir), in per-process
files that `/metrics` adds up across every worker (prometheus-client's multiprocess mode).

An increment is a write to memory or to a memory-mapped file: no Redis round trip, no SQL
statement, a microsecond or two. Label values come from fixed sets, never from input, so
the number of series is bounded. Every series exists from the start at 0: an alert on
`rate()` sees the first event too.
"""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess

#: Decided once, at import: prometheus-client picks its storage at that moment too.
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

FACTORS = ("pwd", "otp", "recovery_code", "hwk", "passkey", "fed")
SIGN_INS = Counter(
    "idp_sign_ins", "Sign-in steps evaluated, by factor and result (a locked attempt is not evaluated).",
    ["factor", "result"],
)
LOCKOUTS = Counter("idp_lockouts", "Lockout counters that reached their threshold, by kind.", ["counter"])
SECOND_FACTOR_FAILURES = Counter("idp_second_factor_failures", "Wrong second factors, by factor.", ["factor"])
STEP_UPS = Counter("idp_step_ups", "Step-ups: a signed-in person asked for a stronger factor, and those completed.", ["stage"])
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
TOKENS = Counter("idp_tokens_issued", "Token responses issued, by grant type.", ["grant_type"])
REFRESH_REUSE = Counter("idp_refresh_token_reuse", "Refresh tokens presented again after rotation (the grant is revoked).")
INVITATIONS = Counter("idp_invitations", "Invitations sent (and re-sent) and used.", ["event"])
REDIS_UNAVAILABLE = Counter("idp_redis_unavailable", "Requests answered 503 because Redis could not be reached.")

REQUEST_SECONDS = Histogram(
    "idp_request_duration_seconds", "Time to answer a request, by endpoint (the route's rule).", ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ARGON2_SECONDS = Histogram(
    "idp_argon2_verify_seconds", "Time of one argon2id password verification (unknown emails included).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 1, 2.5),
)

# Children bound once: an increment is then a lookup in a plain dict, not prometheus-client's
# locked label resolution.
_SIGN_INS = {(f, r): SIGN_INS.labels(f, r) for f in FACTORS for r in ("success", "failure", "locked")}
_LOCKOUTS = {kind: LOCKOUTS.labels(kind) for kind in ("account", "device", "address")}
_SECOND_FACTOR_FAILURES = {f: SECOND_FACTOR_FAILURES.labels(f) for f in ("otp", "recovery_code", "hwk")}
_STEP_UPS = {stage: STEP_UPS.labels(stage) for stage in ("asked", "completed")}
_TOKENS = {g: TOKENS.labels(g) for g in GRANT_TYPES}
_INVITATIONS = {e: INVITATIONS.labels(e) for e in ("sent", "used")}
_ENDPOINTS: dict[str, object] = {}
REFRESH_REUSE.inc(0)
REDIS_UNAVAILABLE.inc(0)


def sign_in(factor: str, result: str) -> None:
    _SIGN_INS[(factor, result)].inc()


def lockout(counter_key: str) -> None:
    """`counter_key` as the lockout names it: ip:…, acct:… or acct:…:dev:…."""
    kind = "address" if counter_key.startswith("ip:") else "device" if ":dev:" in counter_key else "account"
    _LOCKOUTS[kind].inc()


def second_factor_failed(factor: str) -> None:
    child = _SECOND_FACTOR_FAILURES.get(factor)
    if child is not None:
        child.inc()


def step_up(stage: str) -> None:
    _STEP_UPS[stage].inc()


def token_issued(grant_type: str | None) -> None:
    child = _TOKENS.get(grant_type or "")
    if child is not None:
        child.inc()


def refresh_token_reused() -> None:
    REFRESH_REUSE.inc()


def invitation(event: str) -> None:
    _INVITATIONS[event].inc()


def redis_unavailable() -> None:
    REDIS_UNAVAILABLE.inc()


def request_took(endpoint: str, seconds: float) -> None:
    child = _ENDPOINTS.get(endpoint)
    if child is None:
        # Endpoints are the app's routes (a fixed set) or "unmatched": bounded.
        child = _ENDPOINTS.setdefault(endpoint, REQUEST_SECONDS.labels(endpoint))
    child.observe(seconds)  # type: ignore[attr-defined]


def argon2_took(seconds: float) -> None:
    ARGON2_SECONDS.observe(seconds)


def exposition() -> tuple[bytes, str]:
    """The text format, summed over every process of this server in multiprocess mode."""
    if MULTIPROCESS:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
