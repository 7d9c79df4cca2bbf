"""Who is trying, and may they try now? Every failed factor of a sign-in is counted under
the account (or, from a trusted browser, under that browser's own counter for the account)
and under the client address; unknown emails are counted exactly like real ones. Second
factors are also counted on a long-memory counter per account (SecondFactorCap).
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from .. import clock
from ..store import counters
from ..store.counters import Rule
from .addresses import counted_address
from .policy import Limits, key_ttl, retry_after, schedule


class Locked(Exception):
    def __init__(self, retry_after: int, *, second_factor_cap: bool = False):
        super().__init__(f"locked for {retry_after} s")
        self.retry_after = retry_after
        #: The account's second-factor cap is reached: no wait of the doubling schedule ends
        #: it, only a complete sign-in by another route, an admin unlock, or a long quiet.
        self.second_factor_cap = second_factor_cap


class Busy(Exception):
    """Not locked, but the counter's room below its threshold is held by attempts still
    being evaluated, for longer than a request should wait: try again in a second (503).
    Nothing was reserved or counted."""

    retry_after = 1


def account_key(email: str) -> str:
    """A hash, not the address: Redis never holds the emails people typed."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


@dataclass(frozen=True)
class SecondFactorCap:
    """NIST SP 800-63B-4 §3.2.2: at most `cap` (≤ 100) consecutive failed second factors per
    account. Not reset by a correct password, only by a complete sign-in; remembered for
    `memory` seconds after the last failure. After `notify` of them the owner is told."""

    cap: int = 20
    memory: int = 30 * 86400
    notify: int = 3


@dataclass(frozen=True)
class Attempt:
    """The counters one attempt is charged to."""

    account: str | None  # account_key(email), or None when no account is named (passkey)
    ip: str
    device: str | None = None  # a trusted browser's id for this account (device cookie)
    second_factor: bool = False  # a TOTP code, recovery code or security key after the password

    def rules(self, regulator: "Regulator") -> list[Rule]:
        address = counted_address(self.ip, v6_prefix=regulator.ipv6_prefix)
        rules = [regulator.rule(f"ip:{address}", regulator.ip_threshold)]
        if self.account and self.device:
            # OWASP "device cookies": a browser that signed in to this account before has a
            # counter of its own, so an attacker elsewhere cannot lock it out.
            rules.append(regulator.rule(f"acct:{self.account}:dev:{self.device}", regulator.limits.threshold))
        elif self.account:
            rules.append(regulator.rule(f"acct:{self.account}", regulator.limits.threshold))
        if self.account and self.second_factor:
            # One per account, device or not: the cap bounds every guesser of the code.
            rules.append(regulator.second_factor_rule(self.account))
        return rules


@dataclass(frozen=True)
class Failure:
    """What a failed attempt did to its counters."""

    reached_lock: list[str]  # the counters it locked (for the audit log)
    second_factor_failures: int  # its place on the account's second-factor counter (0: none)
    tell_owner: bool  # the failure after which the owner is mailed (once per run)


@dataclass
class Reservation:
    attempt: Attempt
    rules: list[Rule]
    rid: str
    #: After this many second-factor failures in a row the owner is told (0: never).
    notify_after: int = 0

    def failed(self) -> Failure:
        """The credential was wrong: each reservation becomes a failure, in one round trip."""
        steps = [counters.Settle(rule, "f", self.notify_after if rule.key.startswith("mfa:") else 0)
                 for rule in self.rules]
        results = counters.settle(self.rid, steps, now_ms=clock.now_ms())
        second = [(n, mailed) for rule, (n, mailed) in zip(self.rules, results) if rule.key.startswith("mfa:")]
        return Failure(
            reached_lock=[rule.key for rule, (n, _) in zip(self.rules, results) if n == rule.threshold],
            second_factor_failures=second[0][0] if second else 0,
            tell_owner=bool(second and second[0][1]),
        )


class Regulator:
    def __init__(
        self, limits: Limits, ip_threshold: int, second_factor: SecondFactorCap | None = None, ipv6_prefix: int = 64,
    ):
        self.limits = limits
        self.ip_threshold = ip_threshold
        self.ipv6_prefix = ipv6_prefix
        #: Seconds a request waits for attempts in flight to settle (an argon2 verification
        #: takes tens of milliseconds) before it is answered Busy.
        self.max_wait = 3.0
        self.second_factor = second_factor or SecondFactorCap()
        self._schedule_ms = [seconds * 1000 for seconds in schedule(limits)]

    def rule(self, key: str, threshold: int) -> Rule:
        return Rule(key, threshold, self.limits.reset * 1000, key_ttl(self.limits))

    def second_factor_rule(self, account: str) -> Rule:
        memory = self.second_factor.memory
        return Rule(f"mfa:{account}", self.second_factor.cap, memory * 1000, memory, hard=True)

    def reserve(self, attempt: Attempt) -> Reservation:
        """Reserve room for the attempt on its counters before it is evaluated, or raise
        Locked. When the room left is held by attempts in flight, wait (briefly) for them
        to settle rather than refuse: a correct password is never turned away for others'
        pending attempts, only, past the wait, asked to retry in a second (Busy)."""
        rules = attempt.rules(self)
        pause, waited = 0.01, 0.0
        while True:
            result = counters.reserve(rules, now_ms=clock.now_ms(), schedule_ms=self._schedule_ms)
            if isinstance(result, str):
                notify = self.second_factor.notify if attempt.second_factor else 0
                return Reservation(attempt, rules, result, notify_after=notify)
            self._raise_if_locked(result)
            if waited >= self.max_wait:
                raise Busy()
            time.sleep(pause)
            waited += pause
            pause = min(pause * 2, 0.2)

    @staticmethod
    def _raise_if_locked(refusal: counters.Refusal) -> None:
        if refusal.wait_ms:
            # Retry-After in whole seconds, rounded up
            raise Locked(-(-refusal.wait_ms // 1000), second_factor_cap=refusal.hard)

    def succeeded(self, reservation: Reservation, *, complete: bool, account: str | None = None) -> None:
        """A correct credential. A complete sign-in forgets the account's (or device's)
        failures and its second-factor failures (`account` names the account when the
        attempt did not: an upstream sign-in); a password that still awaits its second
        factor only gives its own reservation back, so knowing the password does not reset
        the budget for guessing the code. The address counter only gets its own reservation
        back: a spraying address that guesses one password right keeps the rest of its record."""
        forgotten = ("acct:", "mfa:") if complete else ()
        steps = [counters.Settle(rule, "x" if rule.key.startswith(forgotten) else "r") for rule in reservation.rules]
        account = account or reservation.attempt.account
        if complete and account and not reservation.attempt.second_factor:
            steps.append(counters.Settle(self.second_factor_rule(account), "x"))
        counters.settle(reservation.rid, steps, now_ms=clock.now_ms())

    def not_evaluated(self, reservation: Reservation) -> None:
        """The attempt stopped before its credential was looked at: nothing to count."""
        counters.settle(reservation.rid, [counters.Settle(rule, "r") for rule in reservation.rules],
                        now_ms=clock.now_ms())

    def unlock(self, email: str) -> int:
        account = account_key(email)
        return counters.clear_prefix(f"acct:{account}") + counters.clear_prefix(f"mfa:{account}")

    def client_failed(self, client_id: str) -> None:
        """A wrong client secret at the token endpoint: counted per client_id, or Locked if
        the counter already is (then nothing more is counted)."""
        result = counters.charge([self.rule(f"client:{client_id}", self.limits.threshold)],
                                 now_ms=clock.now_ms(), schedule_ms=self._schedule_ms)
        if isinstance(result, counters.Refusal):
            self._raise_if_locked(result)

    def status(self, email: str) -> dict:
        """What an admin sees: failures in the current window and the wait, if locked, and
        the second-factor failures since the last complete sign-in."""
        account = account_key(email)
        now = clock.now_ms() / 1000
        second = counters.read(f"mfa:{account}")
        second_failures = second.failures if second and now - second.last_failure / 1000 < self.second_factor.memory else 0
        extra = {"second_factor_failures": second_failures,
                 "second_factor_blocked": second_failures >= self.second_factor.cap}
        counter = counters.read(f"acct:{account}")
        if counter is None or now - counter.last_failure / 1000 >= self.limits.reset:
            return {"failures": 0, "locked_for": 0, **extra}
        last = counter.last_failure / 1000
        wait = retry_after(counter.failures, last, now, self.limits)
        return {"failures": counter.failures, "locked_for": math.ceil(wait), "last_failure": int(last), **extra}
