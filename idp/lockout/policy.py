"""The lockout arithmetic, as Cognito publishes it: after THRESHOLD failures, locked for
BASE·2^(n−THRESHOLD) seconds, capped at MAX, forgotten after RESET quiet seconds."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    threshold: int = 5
    base: int = 1
    cap: int = 900
    reset: int = 900


def lock_seconds(failures: int, limits: Limits) -> int:
    """How long the failure number `failures` locks (0 below the threshold)."""
    if failures < limits.threshold:
        return 0
    exponent = failures - limits.threshold
    if exponent >= 63:
        return limits.cap
    return min(limits.cap, limits.base * 2**exponent)


def schedule(limits: Limits) -> list[int]:
    """Lock durations for failures = threshold, threshold+1, … up to the first capped one.
    The Redis script looks durations up here, so the arithmetic lives in one place."""
    durations = []
    failures = limits.threshold
    while True:
        durations.append(lock_seconds(failures, limits))
        if durations[-1] >= limits.cap:
            return durations
        failures += 1


def retry_after(failures: int, last_failure: float, now: float, limits: Limits) -> float:
    """Seconds until the next attempt is allowed (0: allowed now)."""
    if now - last_failure >= limits.reset:
        return 0
    return max(0, last_failure + lock_seconds(failures, limits) - now)


def key_ttl(limits: Limits) -> int:
    """Every counter expires: after the longest lock plus the quiet period nothing is left."""
    return limits.cap + limits.reset
