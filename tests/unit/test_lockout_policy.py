"""Lockout arithmetic (pure functions, no Redis)."""

import pytest

from idp.lockout.policy import Limits, key_ttl, lock_seconds, retry_after, schedule

COGNITO = Limits(threshold=5, base=1, cap=900, reset=900)


@pytest.mark.parametrize(
    "failures, seconds",
    [(0, 0), (4, 0), (5, 1), (6, 2), (7, 4), (10, 32), (14, 512), (15, 900), (40, 900), (10_000, 900)],
)
def test_cognito_numbers(failures, seconds):
    assert lock_seconds(failures, COGNITO) == seconds


def test_schedule_ends_at_the_cap():
    assert schedule(COGNITO) == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900]
    assert schedule(Limits(threshold=3, base=10, cap=25, reset=60)) == [10, 20, 25]


def test_retry_after():
    assert retry_after(5, last_failure=100, now=100, limits=COGNITO) == 1
    assert retry_after(5, last_failure=100, now=101, limits=COGNITO) == 0
    assert retry_after(8, last_failure=100, now=103, limits=COGNITO) == 5
    assert retry_after(4, last_failure=100, now=100, limits=COGNITO) == 0
    # Forgotten after the quiet period, even at the cap.
    assert retry_after(40, last_failure=100, now=1000, limits=COGNITO) == 0


def test_every_counter_expires():
    assert key_ttl(COGNITO) == 1800
