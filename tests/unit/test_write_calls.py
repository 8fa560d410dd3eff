"""BatchWriteItem calls at their limits, retries with backoff, and what each item becomes.

Limits (docs/aws-facts.md#dynamodb): 25 requests and 16 MB a call; the paced upserter
also keeps a call within one second of its budget. Backoff: exponential from the base
delay, capped, times the jitter, never past the deadline.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from sqs_blueprint.batch_write import Entry, pack_calls
from sqs_blueprint.items import to_item
from sqs_blueprint.records import Record
from sqs_blueprint.upsert import BatchOutcome, Upserter, write_records
from tests.unit.tables import create_table

MB16 = 16 * 1024 * 1024


def entries(sizes: list[int], alone: set[int] | None = None) -> list[Entry]:
    return [Entry(str(i), {}, s, [i], {}, i in (alone or set())) for i, s in enumerate(sizes)]


def shape(chunks: list[list[Entry]]) -> list[int]:
    return [len(c) for c in chunks]


def test_25_items_make_one_call_and_26_two() -> None:
    assert shape(pack_calls(entries([100] * 25))) == [25]
    assert shape(pack_calls(entries([100] * 26))) == [25, 1]
    assert shape(pack_calls(entries([100] * 50))) == [25, 25]
    assert pack_calls([]) == []


def test_16_mb_exactly_is_one_call() -> None:
    assert shape(pack_calls(entries([MB16 // 2, MB16 // 2]))) == [2]
    assert shape(pack_calls(entries([MB16 // 2, MB16 // 2 + 1]))) == [1, 1]


def test_a_call_carries_at_most_the_wcu_cap() -> None:
    kb = 1024
    assert shape(pack_calls(entries([kb, kb, kb]), max_wcu=3)) == [3]
    assert shape(pack_calls(entries([kb, kb, kb + 1]), max_wcu=3)) == [2, 1]
    assert shape(pack_calls(entries([4 * kb, kb]), max_wcu=3)) == [1, 1]  # over the cap: alone
    assert shape(pack_calls(entries([kb] * 30), max_wcu=100)) == [25, 5]
    assert shape(pack_calls(entries([kb] * 5), max_wcu=None)) == [5]


def test_an_item_marked_alone_gets_a_call_of_its_own() -> None:
    assert shape(pack_calls(entries([10] * 5, alone={2}))) == [2, 1, 2]
    assert shape(pack_calls(entries([10] * 3, alone={0}))) == [1, 2]
    assert shape(pack_calls(entries([10] * 3, alone={0, 1, 2}))) == [1, 1, 1]


def test_an_entry_costs_one_wcu_per_started_kb() -> None:
    costs = [e.wcu for e in entries([1, 1024, 1025, 2048, 2049, 409_600])]
    assert costs == [1, 1, 2, 2, 3, 400]


# ---------------------------------------------------------------- on moto


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def throttle(client: Any, operation: str, times: int) -> list[int]:
    """Answer the next ``times`` calls with ThrottlingException; counts every call."""
    calls = [0]

    def hook(**_: Any) -> None:
        calls[0] += 1
        if calls[0] <= times:
            raise ClientError(
                {
                    "Error": {"Code": "ThrottlingException", "Message": "slow down"},
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                },
                operation,
            )

    client.meta.events.register(f"before-call.dynamodb.{operation}", hook)
    return calls


@pytest.fixture
def ddb(aws: None) -> Any:
    client = boto3.client("dynamodb", config=Config(retries={"total_max_attempts": 1}))
    create_table(client, "t")
    return client


def upserter(ddb: Any, t: Clock, jitter: float = 1.0, **kwargs: Any) -> Upserter:
    return Upserter(
        "t", dynamodb_client=ddb, clock=t.clock, sleep=t.sleep, jitter=lambda: jitter, **kwargs
    )


@pytest.mark.parametrize("operation", ["BatchWriteItem", "PutItem"])
def test_backoff_doubles_to_its_cap(ddb: Any, operation: str) -> None:
    throttle(ddb, operation, 5)
    t = Clock()
    up = upserter(ddb, t, base_delay=0.1, max_delay=0.5)
    if operation == "PutItem":
        result = up.put_versioned([to_item({"id": 1, "v": 1}, ["id"])], "v")
    else:
        result = up.put_many([to_item({"id": 1})])
    assert (result.written, result.failed) == (1, {})
    assert t.slept == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5])


def test_backoff_is_scaled_by_the_jitter(ddb: Any) -> None:
    throttle(ddb, "BatchWriteItem", 2)
    t = Clock()
    upserter(ddb, t, jitter=0.25, base_delay=1.0).put_many([to_item({"id": 1})])
    assert t.slept == pytest.approx([0.25, 0.5])


def test_backoff_never_sleeps_past_the_deadline(ddb: Any) -> None:
    calls = throttle(ddb, "BatchWriteItem", 1000)
    t = Clock()
    result = upserter(ddb, t, base_delay=0.4, max_delay=10, deadline_seconds=1.0).put_many(
        [to_item({"id": 1})]
    )
    assert t.slept == pytest.approx([0.4, 0.6])  # 0.8 would pass the deadline: 0.6 is left
    assert calls[0] == 3
    assert result.failed == {
        0: "not written before the deadline: throttled (ThrottlingException: slow down)"
    }


def test_versioned_backoff_never_sleeps_past_the_deadline(ddb: Any) -> None:
    calls = throttle(ddb, "PutItem", 1000)
    t = Clock()
    up = upserter(ddb, t, base_delay=0.4, max_delay=10, deadline_seconds=1.0)
    result = up.put_versioned([to_item({"id": 1, "v": 1}, ["id"])], "v")
    assert t.slept == pytest.approx([0.4, 0.6])
    assert calls[0] == 3
    assert result.failed == {0: "not written before the deadline: throttled"}


@pytest.mark.parametrize("pk", [None, "", 5])
def test_an_item_without_a_string_key_fails_alone(ddb: Any, pk: Any) -> None:
    bad: dict[str, Any] = {"x": 1} if pk is None else {"pk": pk}
    for result in (
        upserter(ddb, Clock()).put_many([bad, to_item({"id": 1})]),
        upserter(ddb, Clock()).put_versioned([{**bad, "v": 1}, to_item({"id": 1, "v": 1})], "v"),
    ):
        assert result.failed == {0: "item has no string partition key 'pk'"}
        assert result.written == 1


def test_an_item_too_large_fails_alone(ddb: Any) -> None:
    big = to_item({"d": "x" * 409_600})
    result = upserter(ddb, Clock()).put_many([big, to_item({"id": 1})])
    assert result.written == 1
    assert result.failed[0].startswith("item is 409,6")


@pytest.mark.parametrize("version", [True, False, "1", None])
def test_a_version_must_be_a_number(ddb: Any, version: Any) -> None:
    result = upserter(ddb, Clock()).put_versioned([{"pk": "k", "v": version}], "v")
    assert result.failed == {0: f"version field 'v' must be a number, got {version!r}"}


def test_duplicates_count_once_written_and_every_absorbed_copy(ddb: Any) -> None:
    items = [to_item({"id": 1}), to_item({"id": 1}), to_item({"id": 1}), to_item({"id": 2})]
    result = upserter(ddb, Clock()).put_many(items)
    assert (result.written, result.duplicates, result.noops, result.failed) == (2, 2, 0, {})


def test_versioned_copies_are_noops_and_a_stored_newer_version_wins(ddb: Any) -> None:
    up = upserter(ddb, Clock())
    first = up.put_versioned([to_item({"id": 1, "v": 5}, ["id"])] * 3, "v")
    assert (first.written, first.noops, first.failed) == (1, 2, {})
    older = up.put_versioned([to_item({"id": 1, "v": 4}, ["id"])] * 2, "v")
    assert (older.written, older.noops, older.failed) == (0, 2, {})
    newer = up.put_versioned([to_item({"id": 1, "v": 6}, ["id"])], "v")
    assert (newer.written, newer.noops, newer.failed) == (1, 0, {})


def test_a_paced_call_never_carries_more_than_a_second_of_the_budget(ddb: Any) -> None:
    calls: list[int] = []
    ddb.meta.events.register(
        "provide-client-params.dynamodb.BatchWriteItem",
        lambda params, **_: calls.append(len(params["RequestItems"]["t"])),
    )
    t = Clock()
    result = upserter(ddb, t, wcu_per_second=3, deadline_seconds=100).put_many(
        [to_item({"id": i}) for i in range(7)]
    )
    assert (result.written, calls) == (7, [3, 3, 1])
    # The window opens after a second (a new pacer counts the second before it as
    # full), then one call a second.
    assert t.now == pytest.approx(3.0)
    calls.clear()
    upserter(ddb, Clock(), wcu_per_second=0.5, deadline_seconds=100).put_many(
        [to_item({"id": i}) for i in range(2)]
    )
    assert calls == [1, 1]  # below 1 WCU/s a call still carries one item


def _records(*bodies: str) -> list[Record]:
    return [Record(message_id=f"m{i}", receipt_handle="r", body=b) for i, b in enumerate(bodies)]


def test_write_records_reports_counts_and_failures_by_message(ddb: Any) -> None:
    records = _records('{"id": 1}', "not json", '{"id": 1}', '{"id": 2, "pk": 1}')
    outcome = write_records(records, upserter=upserter(ddb, Clock()), key_fields=["id"])
    assert (outcome.written, outcome.duplicates, outcome.noops) == (1, 1, 0)
    assert sorted(outcome.failed) == ["m1", "m3"]
    assert outcome.failed_ids() == ["m1", "m3"]
    assert outcome.batch_response() == {
        "batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m3"}]
    }


def test_a_fifo_batch_fails_from_its_first_failure_on() -> None:
    outcome = BatchOutcome(order=["a", "b", "c", "d"], failed={"b": "x", "d": "y"})
    assert outcome.failed_ids(fifo=True) == ["b", "c", "d"]
    assert outcome.failed_ids() == ["b", "d"]
    assert BatchOutcome(order=["a"]).failed_ids(fifo=True) == []
    assert outcome.batch_response(fifo=True) == {
        "batchItemFailures": [{"itemIdentifier": i} for i in ("b", "c", "d")]
    }


def test_write_records_versioned_counts_noops(ddb: Any) -> None:
    up = upserter(ddb, Clock())
    records = _records('{"id": 1, "v": 2}', '{"id": 1, "v": 1}', '{"id": 1, "v": "x"}')
    outcome = write_records(records, upserter=up, key_fields=["id"], version_field="v")
    assert (outcome.written, outcome.noops, sorted(outcome.failed)) == (1, 1, ["m2"])


def test_each_call_starts_its_count_afresh() -> None:
    kb = 1024
    assert shape(pack_calls(entries([MB16, MB16 // 2, MB16 // 2]))) == [1, 2]
    assert shape(pack_calls(entries([3 * kb, kb, kb, kb]), max_wcu=3)) == [1, 3]
    assert shape(pack_calls(entries([kb] * 25 + [kb] * 3), max_wcu=3)) == [3] * 9 + [1]


def test_the_default_backoff_and_deadline(ddb: Any) -> None:
    """From 0.05 s, doubling to 2 s, for 20 s at most."""
    throttle(ddb, "BatchWriteItem", 10_000)
    t = Clock()
    up = Upserter("t", dynamodb_client=ddb, clock=t.clock, sleep=t.sleep, jitter=lambda: 1.0)
    result = up.put_many([to_item({"id": 1})])
    assert t.slept[:8] == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0])
    assert t.now == pytest.approx(20.0)
    assert list(result.failed) == [0]


def test_once_out_of_budget_no_later_call_is_sent(ddb: Any) -> None:
    """At 2 WCU/s the 3-WCU item needs the window to itself, which it gets only when the
    first item leaves it, after the deadline; the 1-WCU item after it would fit beside
    the first, but the batch stops there: both are reported, neither written."""
    small, big = to_item({"id": 1}), to_item({"d": "x" * 2500})
    t = Clock()
    up = upserter(ddb, t, wcu_per_second=2, deadline_seconds=1.5)
    result = up.put_many([small, big, to_item({"id": 2})])
    assert result.written == 1
    assert sorted(result.failed) == [1, 2]
    assert len(ddb.scan(TableName="t")["Items"]) == 1


def test_an_unexpected_error_in_a_versioned_write_fails_that_item_alone(ddb: Any) -> None:
    def boom(params: dict[str, Any], **_: Any) -> None:
        if b'"id": {"N": "1"}' in params["body"] or b'"id":{"N":"1"}' in params["body"]:
            raise RuntimeError("boom")

    ddb.meta.events.register("before-call.dynamodb.PutItem", boom)
    items = [to_item({"id": 1, "v": 1}, ["id"]), to_item({"id": 2, "v": 1}, ["id"])]
    result = upserter(ddb, Clock()).put_versioned(items, "v")
    assert (result.written, result.failed) == (1, {0: "RuntimeError: boom"})


def test_an_outcome_starts_at_zero() -> None:
    outcome = BatchOutcome()
    assert (outcome.written, outcome.duplicates, outcome.noops) == (0, 0, 0)
    assert (outcome.order, outcome.failed, outcome.failed_ids()) == ([], {}, [])
