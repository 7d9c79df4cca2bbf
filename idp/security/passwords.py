"""argon2id password hashing with a bound on the hashes computed at once.

Each hash holds `memory_kib` of memory while it runs; without a bound, a flood of sign-ins
multiplies that by the number of threads. Callers that cannot get a slot in time get
`HasherBusy`, which the web layer answers with 503.

The bound is also what a worker keeps: glibc reuses a freed hash buffer for the next hash
(its mmap threshold rises to the buffer's size), so a worker holds at most `max_concurrent`
buffers (4 × 19 MiB at the defaults) once it has seen that many sign-ins at once. Giving
each buffer back at once (a fixed mmap threshold, as this module did before) made every
hash fault its 19 MiB in again page by page: 11.5 ms of system time per verification, 40 %
of the hash itself (issue 8, tests/unit/test_password_memory.py).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .. import metrics
from . import legacy_hashes


class HasherBusy(RuntimeError):
    pass


@dataclass(frozen=True)
class Argon2Params:
    memory_kib: int = 19456
    time_cost: int = 2
    parallelism: int = 1


class Passwords:
    def __init__(self, params: Argon2Params, max_concurrent: int, wait_seconds: float = 5.0):
        self._hasher = PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
            type=Type.ID,
        )
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._wait = wait_seconds
        # A real hash to verify against when the email is unknown, so both paths cost the same.
        self._dummy = self._hasher.hash("not-a-password-anyone-has")

    def _slot(self) -> threading.BoundedSemaphore:
        if not self._slots.acquire(timeout=self._wait):
            raise HasherBusy("too many password hashes in flight")
        return self._slots

    def hash(self, password: str) -> str:
        slots = self._slot()
        try:
            return self._hasher.hash(password)
        finally:
            slots.release()

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Verify; with no stored hash (unknown user) spend the same time and return False.
        A hash imported from another system is verified by its own library (legacy_hashes),
        in a slot like ours: bcrypt, PBKDF2 and scrypt are costly by design too."""
        slots = self._slot()
        try:
            if stored_hash is not None and not legacy_hashes.is_ours(stored_hash):
                return legacy_hashes.verify(stored_hash, password)
            started = time.perf_counter()
            try:
                self._hasher.verify(stored_hash or self._dummy, password)
            finally:
                metrics.argon2_took(time.perf_counter() - started)
            return stored_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        finally:
            slots.release()

    def needs_rehash(self, stored_hash: str) -> bool:
        """Anything but argon2id with the configured parameters: another format, another
        argon2 type, or older parameters."""
        return not legacy_hashes.is_ours(stored_hash) or self._hasher.check_needs_rehash(stored_hash)
