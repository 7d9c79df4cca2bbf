"""Who is trying, and may they try now? Every failed factor of a sign-in is counted under
the account (or, from a trusted browser, under that browser's own counter for the account)
and under the client address; unknown emails are counted exactly like real ones.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

from .. import clock
from ..store import counters
from .policy import Limits, key_ttl, retry_after, schedule


class Locked(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"locked for {retry_after} s")
        self.retry_after = retry_after


def account_key(email: str) -> str:
    """A hash, not the address: Redis never holds the emails people typed."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Attempt:
    """The counters one attempt is charged to."""

    account: str | None  # account_key(email), or None when no account is named (passkey)
    ip: str
    device: str | None = None  # a trusted browser's id for this account (device cookie)

    def keys(self, regulator: "Regulator") -> list[tuple[str, int]]:
        keys = [(f"ip:{self.ip}", regulator.ip_threshold)]
        if self.account and self.device:
            # OWASP "device cookies": a browser that signed in to this account before has a
            # counter of its own, so an attacker elsewhere cannot lock it out.
            keys.append((f"acct:{self.account}:dev:{self.device}", regulator.limits.threshold))
        elif self.account:
            keys.append((f"acct:{self.account}", regulator.limits.threshold))
        return keys


@dataclass
class Reservation:
    attempt: Attempt
    keys: list[tuple[str, int]]
    counts: list[int] = field(default_factory=list)

    def reached_lock(self) -> list[str]:
        """The counters that this attempt, if it fails, locks (for the audit log)."""
        return [k for (k, threshold), n in zip(self.keys, self.counts) if n == threshold]


class Regulator:
    def __init__(self, limits: Limits, ip_threshold: int):
        self.limits = limits
        self.ip_threshold = ip_threshold
        self._schedule_ms = [seconds * 1000 for seconds in schedule(limits)]

    def reserve(self, attempt: Attempt) -> Reservation:
        """Count the attempt before it is evaluated, or raise Locked."""
        keys = attempt.keys(self)
        return Reservation(attempt, keys, self._reserve(keys))

    def _reserve(self, keys: list[tuple[str, int]]) -> list[int]:
        wait_ms, counts = counters.reserve(
            keys, now_ms=clock.now_ms(), ttl=key_ttl(self.limits), reset_ms=self.limits.reset * 1000,
            schedule_ms=self._schedule_ms,
        )
        if wait_ms:
            raise Locked(-(-wait_ms // 1000))  # Retry-After in whole seconds, rounded up
        return counts

    def succeeded(self, reservation: Reservation, *, complete: bool) -> None:
        """A correct credential. A complete sign-in forgets the account's (or device's)
        failures; a password that still awaits its second factor only gives its own
        reservation back, so knowing the password does not reset the budget for guessing
        the code. The address counter only gets its own reservation back: a spraying
        address that guesses one password right keeps the rest of its record."""
        keys = [key for key, _ in reservation.keys]
        forget = [k for k in keys if complete and k.startswith("acct:")]
        counters.settle(forget=forget, give_back=[k for k in keys if k not in forget])

    def unlock(self, email: str) -> int:
        return counters.clear_prefix(f"acct:{account_key(email)}")

    def client_failed(self, client_id: str) -> None:
        """A wrong client secret at the token endpoint: counted per client_id, or Locked if
        the counter already is (then nothing more is counted)."""
        self._reserve([(f"client:{client_id}", self.limits.threshold)])

    def status(self, email: str) -> dict:
        """What an admin sees: failures in the current window and the wait, if locked."""
        counter = counters.read(f"acct:{account_key(email)}")
        now = clock.now_ms() / 1000
        if counter is None or now - counter.last_failure / 1000 >= self.limits.reset:
            return {"failures": 0, "locked_for": 0}
        last = counter.last_failure / 1000
        wait = retry_after(counter.failures, last, now, self.limits)
        return {"failures": counter.failures, "locked_for": math.ceil(wait), "last_failure": int(last)}
