"""The one place the provider reads the time, so tests can move it."""

import time


def now() -> int:
    """Seconds since the epoch, as JWT NumericDate values are."""
    return int(time.time())


def now_ms() -> int:
    """Milliseconds, for the lockout: a one-second lock must last a second, not until the
    next tick of the wall clock."""
    return int(time.time() * 1000)
