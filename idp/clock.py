"""The one place the provider reads the time, so tests can move it."""

import time


def now() -> int:
    """Seconds since the epoch, as JWT NumericDate values are."""
    return int(time.time())
