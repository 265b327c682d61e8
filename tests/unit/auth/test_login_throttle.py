"""The failed-login throttle: per user name, a sliding window, bounded memory."""

from __future__ import annotations

import pytest

from kiln.auth.ratelimit import LoginThrottle
from kiln.errors import TooManyRequests


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000

    def __call__(self) -> int:
        return self.now


def test_the_limit_blocks_only_that_user_until_the_window_passes() -> None:
    clock = Clock()
    throttle = LoginThrottle(3, 60, clock=clock)
    for _ in range(3):
        throttle.check("alice")
        throttle.failure("alice")
        clock.now += 1000
    with pytest.raises(TooManyRequests, match=r"user 'alice'; try again in 57 seconds"):
        throttle.check("alice")
    assert throttle.retry_after("alice") == 57
    throttle.check("bob")  # others are not slowed down
    clock.now += 56_000
    with pytest.raises(TooManyRequests, match="try again in 1 seconds"):
        throttle.check("alice")
    clock.now += 1000  # the first failure leaves the window: one more try
    throttle.check("alice")
    assert throttle.retry_after("alice") is None


def test_a_success_clears_the_failures() -> None:
    clock = Clock()
    throttle = LoginThrottle(2, 60, clock=clock)
    throttle.failure("alice")
    throttle.success("alice")
    throttle.failure("alice")
    throttle.check("alice")
    throttle.failure("alice")
    with pytest.raises(TooManyRequests, match="alice"):
        throttle.check("alice")


def test_failures_spread_over_more_than_the_window_never_block() -> None:
    clock = Clock()
    throttle = LoginThrottle(3, 10, clock=clock)
    for _ in range(20):
        throttle.check("alice")
        throttle.failure("alice")
        clock.now += 5_001  # at most two failures in any 10 s
    assert throttle.tracked() == 1


def test_memory_is_bounded() -> None:
    clock = Clock()
    throttle = LoginThrottle(2, 60, max_names=100, clock=clock)
    throttle.failure("target")
    throttle.failure("target")
    for index in range(1000):
        clock.now += 1
        throttle.failure(f"user{index}")
    assert throttle.tracked() <= 100


def test_expired_names_go_first_when_full() -> None:
    clock = Clock()
    throttle = LoginThrottle(2, 10, max_names=3, clock=clock)
    throttle.failure("old")
    clock.now += 20_000
    throttle.failure("a")
    throttle.failure("a")
    throttle.failure("b")
    throttle.failure("c")  # full: "old" has expired and goes, "a" stays blocked
    with pytest.raises(TooManyRequests, match="'a'"):
        throttle.check("a")
    assert throttle.tracked() == 3
