"""Pacing holds in every one-second span, however late the machine runs the writer.

The writes are made on moto with an injected clock that only moves when something
takes time: a sleep that ends late (a busy machine), a request that waits before it
reaches the server and an answer that waits before it reaches the writer. Each
write's WCU and the time the server saw it are recorded by botocore hooks and sized
by the meter's own rules (independent of the library's); every span of 1,000 ms is
then counted one by one.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any

import boto3
import pytest
from botocore.config import Config

from sqs_blueprint.local.meter import item_size, write_units
from sqs_blueprint.pacing import WindowPacer
from sqs_blueprint.upsert import Upserter, to_item
from tests.unit.tables import create_table

TABLE = "paced"
BUDGET = 50  # WCU/s: the local stage's share of one invocation


class BusyTime:
    """A clock moved by sleeps that overrun by up to ``late`` s and by request delays."""

    def __init__(self, seed: int, late: float) -> None:
        self.now = 0.0
        self.rnd = random.Random(seed)
        self.late = late
        self.writes: list[tuple[float, int]] = []  # (when the server saw it, WCU)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds + self.rnd.uniform(0, self.late)

    def idle(self, seconds: float) -> None:
        self.now += seconds

    def watch(self, client: Any) -> None:
        events = client.meta.events
        events.register("provide-client-params.dynamodb.BatchWriteItem", self._batch)
        events.register("provide-client-params.dynamodb.PutItem", self._put)
        events.register("after-call.dynamodb.*", self._answered)

    def _arrive(self, items: list[dict[str, Any]]) -> None:
        self.now += self.rnd.uniform(0, self.late)  # the request waits for a CPU
        self.writes.append((self.now, sum(write_units(item_size(i)) for i in items)))

    def _batch(self, params: dict[str, Any], **_: Any) -> None:
        (requests,) = params["RequestItems"].values()
        self._arrive([r["PutRequest"]["Item"] for r in requests])

    def _put(self, params: dict[str, Any], **_: Any) -> None:
        self._arrive([params["Item"]])

    def _answered(self, **_: Any) -> None:
        self.now += self.rnd.uniform(0, self.late)  # so does the answer


def busiest_span(writes: Sequence[tuple[float, float]]) -> float:
    """The most WCU in any span [s, s + 1 s): the busiest one starts at a write."""
    return max((sum(w for at, w in writes if s <= at < s + 1.0) for s, _ in writes), default=0)


@pytest.fixture
def ddb(aws: None) -> Iterator[Any]:
    client = boto3.client("dynamodb", config=Config(retries={"total_max_attempts": 1}))
    create_table(client, TABLE)
    yield client


def items(rnd: random.Random, count: int, key: str = "id") -> list[dict[str, Any]]:
    """Bodies of 0.1 to 20 KB, as the demo's ordinary and large records."""
    sizes = (100, 900, 1500, 3000, 9000, 20_000)
    return [
        to_item({key: f"{rnd.random()}", "v": 1, "d": "x" * rnd.choice(sizes)})
        for _ in range(count)
    ]


def paced_writes(ddb: Any, seed: int, late: float) -> BusyTime:
    """Overwrites, a quiet spell, more overwrites and versioned writes, all written."""
    t = BusyTime(seed, late)
    t.watch(ddb)
    up = Upserter(
        TABLE,
        dynamodb_client=ddb,
        wcu_per_second=BUDGET,
        deadline_seconds=600,
        clock=t.clock,
        sleep=t.sleep,
    )
    assert not up.put_many(items(t.rnd, 150)).failed
    t.idle(30)  # a quiet spell earns no burst
    assert not up.put_many(items(t.rnd, 60)).failed
    assert not up.put_versioned(items(t.rnd, 20), "v").failed
    return t


@pytest.mark.parametrize("seed", range(6))
def test_no_one_second_span_exceeds_the_budget_on_a_busy_machine(ddb: Any, seed: int) -> None:
    t = paced_writes(ddb, seed, late=0.4)
    assert busiest_span(t.writes) <= BUDGET


def test_no_span_exceeds_the_budget_on_time_and_the_budget_is_used(ddb: Any) -> None:
    t = paced_writes(ddb, 7, late=0.0)
    assert busiest_span(t.writes) <= BUDGET
    total = sum(w for _, w in t.writes)
    assert t.now <= 1.2 * total / BUDGET + 30


class Steps:
    """A clock that moves only when the pacer sleeps (exactly as long as asked)."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def sent(pacer: WindowPacer, t: Steps, units: float, log: list[tuple[float, float]]) -> None:
    """One request through ``pacer``, seen by the server at once and answered at once."""
    grant = pacer.acquire(units)
    assert grant is not None
    log.append((t.now, units))
    grant.done()


def test_a_new_pacer_does_not_add_its_budget_to_the_last_second_of_the_one_it_replaces() -> None:
    t, log = Steps(), list[tuple[float, float]]()
    old = WindowPacer(10, clock=t.clock, sleep=t.sleep)
    for _ in range(4):
        sent(old, t, 5, log)
    t.now += 0.2  # the environment is replaced: a new process, a new pacer
    new = WindowPacer(10, clock=t.clock, sleep=t.sleep)
    for _ in range(4):
        sent(new, t, 5, log)
    assert busiest_span(log) == 10
    assert log[4][0] == pytest.approx(t.now - 1.0)  # it started one window after it was made


def test_a_request_in_flight_holds_its_room_until_answered() -> None:
    t = Steps()
    pacer = WindowPacer(10, clock=t.clock, sleep=t.sleep)
    t.now = 5.0  # past the window a new pacer counts as full
    first = pacer.acquire(8)
    assert first is not None
    assert pacer.acquire(5, max_wait=0.9) is None  # in flight: counted for at least 1 s
    t.now += 3.0
    first.done()  # answered at 8.0: the server may have seen it then
    assert pacer.acquire(5, max_wait=0.9) is None
    assert pacer.acquire(5) is not None and t.now == pytest.approx(9.0)


def test_a_request_over_the_rate_goes_alone_and_keeps_the_window_for_its_size() -> None:
    t, log = Steps(), list[tuple[float, float]]()
    pacer = WindowPacer(10, clock=t.clock, sleep=t.sleep)
    for units in (3, 30, 3):
        sent(pacer, t, units, log)
    assert [at for at, _ in log] == pytest.approx([1.0, 2.0, 5.0])
    with pytest.raises(ValueError, match="rate must be greater than 0 units per second, got 0"):
        WindowPacer(0)


class Sleeps(Steps):
    """:class:`Steps` that keeps the sleeps asked for and, like ``time.sleep``, refuses
    a negative one."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[float] = []

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        self.asked.append(seconds)
        super().sleep(seconds)


NANO = 1e-9  # the pacer's tolerance for float sums that should be equal (literal here)


def test_sums_that_differ_from_the_limit_by_float_rounding_count_as_equal_to_it() -> None:
    t = Sleeps()
    pacer = WindowPacer(10, clock=t.clock, sleep=t.sleep)  # full until 1.0
    t.now = 1.0 - NANO  # a nanosecond before
    assert pacer.acquire(10) is not None and t.asked == []

    t = Sleeps()
    pacer = WindowPacer(10, clock=t.clock, sleep=t.sleep)  # full until 1.0
    assert pacer.acquire(10, max_wait=1.0 - NANO) is not None  # needs 1.0: within rounding
    assert t.asked == [1.0]

    t = Sleeps()
    pacer = WindowPacer(10, clock=t.clock, sleep=t.sleep)
    t.now = 5.0
    sent(pacer, t, 5, [])
    assert pacer.acquire(5 + NANO) is not None and t.asked == []  # 10 + 1e-9 fits 10


def test_the_wait_ends_when_the_first_request_to_leave_makes_exactly_enough_room() -> None:
    t, log = Sleeps(), list[tuple[float, float]]()
    pacer = WindowPacer(10, clock=t.clock, sleep=t.sleep)
    t.now = 5.0
    sent(pacer, t, 5, log)
    t.now = 5.5
    sent(pacer, t, 5, log)
    t.now = 5.6
    sent(pacer, t, 5, log)  # room once the first leaves, at 6.0 (not the second, at 6.5)
    sent(pacer, t, 5 + NANO, log)  # the rate plus rounding: room once the second leaves
    assert [at for at, _ in log] == pytest.approx([5.0, 5.5, 6.0, 6.5])
    assert busiest_span(log) <= 10 + NANO


def test_a_request_waits_once_for_as_many_requests_to_leave_as_it_needs() -> None:
    t, log = Sleeps(), list[tuple[float, float]]()
    pacer = WindowPacer(10, clock=t.clock, sleep=t.sleep)
    for at, units in ((5.0, 3), (5.2, 7)):
        t.now = at
        sent(pacer, t, units, log)
    t.now = 5.3
    sent(pacer, t, 8, log)  # 3 leaving at 6.0 is not room enough: 7 leaves at 6.2
    assert t.asked == pytest.approx([0.9]) and log[-1][0] == pytest.approx(6.2)
