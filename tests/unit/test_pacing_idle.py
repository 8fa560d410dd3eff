"""The token bucket after idle periods and below 1 unit per second, on a fake clock.

The guarantee of a bucket of ``rate`` units a second and a burst of ``burst``: between
any two moments, what it hands out is at most ``burst + rate * seconds between them``,
however long it sat idle before.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sqs_blueprint.pacing import TokenBucket


class Clock:
    """Time that moves only when someone sleeps or the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def bucket(rate: float, burst: float | None = None) -> tuple[TokenBucket, Clock]:
    clock = Clock()
    return TokenBucket(rate, burst, clock=clock, sleep=clock.sleep), clock


def test_a_full_bucket_lets_its_burst_through_at_once_and_no_more() -> None:
    b, clock = bucket(rate=10, burst=5)
    assert all(b.acquire(1) for _ in range(5))
    assert clock.slept == []
    assert b.acquire(1)
    assert clock.slept == [pytest.approx(0.1)]


def test_idle_time_refills_only_up_to_the_burst() -> None:
    b, clock = bucket(rate=10, burst=5)
    assert b.acquire(5)
    clock.now += 3600  # an hour idle: 36,000 units of refill, capped at 5
    assert all(b.acquire(1) for _ in range(5))
    assert clock.slept == []
    assert b.acquire(1)  # the sixth waits for its share
    assert clock.slept == [pytest.approx(0.1)]


def test_the_burst_defaults_to_one_second_of_the_rate() -> None:
    b, clock = bucket(rate=4)
    clock.now += 60
    assert b.acquire(4)
    assert clock.slept == []
    assert b.acquire(2)
    assert clock.slept == [pytest.approx(0.5)]


def test_no_burst_every_unit_waits_for_its_share() -> None:
    b, clock = bucket(rate=2, burst=0)
    clock.now += 60
    assert b.acquire(1)
    assert b.acquire(3)
    assert clock.slept == [pytest.approx(0.5), pytest.approx(1.5)]


@pytest.mark.parametrize(("rate", "wait"), [(0.5, 2.0), (0.25, 4.0), (0.1, 10.0)])
def test_rates_below_one_unit_a_second(rate: float, wait: float) -> None:
    b, clock = bucket(rate=rate, burst=0)
    assert b.acquire(1)
    assert b.acquire(1)
    assert clock.slept == [pytest.approx(wait), pytest.approx(wait)]


def test_a_partial_refill_is_spent_first() -> None:
    b, clock = bucket(rate=10, burst=10)
    assert b.acquire(10)
    clock.now += 0.3  # 3 units back
    assert b.acquire(5)
    assert clock.slept == [pytest.approx(0.2)]


def test_a_wait_longer_than_max_wait_takes_nothing() -> None:
    b, clock = bucket(rate=1, burst=1)
    assert b.acquire(1)
    assert b.acquire(3, max_wait=2.9) is False
    assert clock.slept == []
    assert b.acquire(3, max_wait=3.0) is True  # exactly the limit is allowed
    assert clock.slept == [pytest.approx(3.0)]
    clock.now += 10
    assert b.acquire(5, max_wait=0) is False  # 1 held, 4 to wait for
    assert b.acquire(1, max_wait=0)  # the refused request took nothing
    assert clock.slept == [pytest.approx(3.0)]


@pytest.mark.parametrize("rate", [0, -1, -0.5])
def test_a_rate_must_be_positive(rate: float) -> None:
    with pytest.raises(
        ValueError, match=f"rate must be greater than 0 units per second, got {rate}"
    ):
        TokenBucket(rate)


def test_a_tiny_rate_is_a_rate() -> None:
    b, clock = bucket(rate=0.001, burst=0)
    assert b.acquire(0.001)
    assert clock.slept == [pytest.approx(1.0)]


STEPS = st.lists(st.tuples(st.floats(0, 50), st.floats(0.01, 8)), min_size=1, max_size=30)


@given(
    rate=st.sampled_from([0.2, 0.5, 1, 3, 25]), burst=st.sampled_from([0, 1, 4, 10]), steps=STEPS
)
def test_no_window_sees_more_than_burst_plus_rate(
    rate: float, burst: float, steps: list[tuple[float, float]]
) -> None:
    """Idle for ``idle`` seconds, then take ``units``: from the end of any acquisition to
    the end of any later one, the units handed out are within burst + rate * seconds."""
    b, clock = bucket(rate=rate, burst=burst)
    ends: list[float] = [clock.now]
    taken: list[float] = [0.0]
    for idle, units in steps:
        clock.now += idle
        assert b.acquire(units)
        ends.append(clock.now)
        taken.append(units)
    for i in range(len(ends)):
        for j in range(i + 1, len(ends)):
            handed_out = sum(taken[i + 1 : j + 1])
            assert handed_out <= burst + rate * (ends[j] - ends[i]) + 1e-6
