"""The local cloud's write meter: every DynamoDB write, counted at the server."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqs_blueprint.local import LocalCloud
from sqs_blueprint.local.meter import WriteMeter, item_size, write_units
from sqs_blueprint.upsert import Upserter, to_item

pytestmark = pytest.mark.e2e


@pytest.fixture
def table(cloud: LocalCloud) -> Iterator[tuple[Any, str, WriteMeter]]:
    assert cloud.meter is not None
    ddb = cloud.client("dynamodb")
    name = f"metered-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    yield ddb, name, cloud.meter
    ddb.delete_table(TableName=name)


def _item(pk: str, size: int = 10) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"N": "1"}, "data": {"S": "x" * size}}


def test_a_second_write_of_one_key_is_seen(table: tuple[Any, str, WriteMeter]) -> None:
    ddb, name, meter = table
    ddb.put_item(TableName=name, Item=_item("a"))
    request = [{"PutRequest": {"Item": _item(k)}} for k in ("a", "b")]
    ddb.batch_write_item(RequestItems={name: request})
    ddb.update_item(
        TableName=name,
        Key={"pk": {"S": "b"}, "sk": {"N": "1"}},
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"N": "2"}},
    )
    by_key = meter.writes_by_key(name)
    assert sorted(by_key.values()) == [2, 2]
    assert meter.written_twice(name) == 2
    assert [w.operation for w in meter.writes(name)] == [
        "PutItem",
        "BatchWriteItem",
        "BatchWriteItem",
        "UpdateItem",
    ]


def test_refused_conditions_cost_wcu_but_write_nothing(table: tuple[Any, str, WriteMeter]) -> None:
    ddb, name, meter = table
    ddb.put_item(TableName=name, Item=_item("a", size=3000))
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        ddb.put_item(
            TableName=name,
            Item=_item("a", size=3000),
            ConditionExpression="attribute_not_exists(pk)",
        )
    assert meter.written_twice(name) == 0
    assert [(w.wcu, w.written) for w in meter.writes(name)] == [(3, True), (3, False)]


def test_transactions_cost_twice_and_deletes_count(table: tuple[Any, str, WriteMeter]) -> None:
    ddb, name, meter = table
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": name, "Item": _item("t", size=1500)}},
            {"Delete": {"TableName": name, "Key": {"pk": {"S": "gone"}, "sk": {"N": "1"}}}},
        ]
    )
    assert [w.wcu for w in meter.writes(name)] == [4, 2]


def _metered(writes: list[tuple[float, int]]) -> WriteMeter:
    """A meter that saw one PutItem of ``wcu`` KB at each ``at``."""
    now = [0.0]
    meter = WriteMeter(lambda table: ("pk",), clock=lambda: now[0])
    for n, (at, wcu) in enumerate(writes):
        now[0] = at
        item = {"Item": {"pk": {"S": str(n)}, "data": {"S": "x" * (1024 * wcu - 10)}}}
        meter.record("PutItem", {"TableName": "t", **item}, "200 OK", b"{}")
    return meter


def test_wcu_per_second_counts_from_the_first_write() -> None:
    meter = _metered([(10.0, 2), (10.9, 2), (11.0, 2), (13.5, 2)])
    assert meter.wcu_per_second("t") == [4, 2, 0, 2]


def test_max_rate_slides_over_any_one_second_span() -> None:
    # Bins aligned to the first write see 4, 2, 0, 2; the span from 10.9 s holds 6.
    meter = _metered([(10.0, 2), (10.9, 2), (11.0, 2), (11.85, 2), (13.5, 2)])
    assert meter.max_rate("t") == 6
    # A span is 1,000 ms: writes exactly one second apart never share one.
    assert _metered([(0.0, 5), (1.0, 5), (2.0, 5)]).max_rate("t") == 5
    assert _metered([]).max_rate("t") == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5000), st.integers(1, 4)), max_size=40))
def test_max_rate_is_the_busiest_span_counted_by_brute_force(
    writes_ms: list[tuple[int, int]],
) -> None:
    """Every span [s, s + 1,000 ms) for s on a 1 ms grid (the writes are on that grid,
    so no other start holds more), counted one by one."""
    meter = _metered([(ms / 1000, wcu) for ms, wcu in writes_ms])
    busiest = max(
        (sum(wcu for at, wcu in writes_ms if s <= at < s + 1000) for s in range(-1000, 5001)),
        default=0,
    )
    assert meter.max_rate("t") == busiest


def test_unprocessed_items_are_not_counted() -> None:
    meter = WriteMeter(lambda table: ("pk",))
    puts = [{"PutRequest": {"Item": {"pk": {"S": k}}}} for k in "ab"]
    response = b'{"UnprocessedItems": {"t": [{"PutRequest": {"Item": {"pk": {"S": "b"}}}}]}}'
    meter.record("BatchWriteItem", {"RequestItems": {"t": puts}}, "200 OK", response)
    meter.record("PutItem", {"TableName": "t", "Item": {"pk": {"S": "c"}}}, "400 Bad", b"{}")
    assert list(meter.writes_by_key("t")) == ['{"pk": {"S": "a"}}']


@pytest.mark.parametrize(
    ("item", "size"),
    [
        # The examples of DynamoDB's item size rules, one attribute type each.
        ({"name": {"S": "héllo"}}, 4 + 6),
        ({"n": {"N": "12345"}}, 1 + 3 + 1),
        ({"n": {"N": "-0.00100"}}, 1 + 1 + 1),
        ({"n": {"N": "1.5E+10"}}, 1 + 1 + 1),
        ({"b": {"B": "AAEC"}}, 1 + 3),
        ({"ok": {"BOOL": True}, "no": {"NULL": True}}, 2 + 1 + 2 + 1),
        ({"l": {"L": [{"S": "ab"}, {"N": "7"}]}}, 1 + 3 + (2 + 1) + (2 + 1)),
        ({"m": {"M": {"k": {"S": "v"}}}}, 1 + 3 + (1 + 1 + 1)),
        ({"m": {"M": {}}}, 1 + 3),
        ({"ss": {"SS": ["a", "bc"]}}, 2 + 3),
    ],
)
def test_item_sizes_follow_dynamodbs_rules(item: dict[str, Any], size: int) -> None:
    assert item_size(item) == size


def test_write_units_round_up_per_kilobyte() -> None:
    assert [write_units(n) for n in (0, 1, 1024, 1025, 20_000)] == [1, 1, 1, 2, 20]


def test_concurrent_paced_writers_stay_within_their_shares_at_the_server(cloud: LocalCloud) -> None:
    """Two writers at once, each paced to half the table's WCU, with a thread burning the
    CPU they share: no one-second span the server metered holds more than the table's."""
    assert cloud.meter is not None
    name = f"paced-{uuid.uuid4().hex[:8]}"
    ddb = cloud.client("dynamodb")
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 40},
    )
    sizes = [100, 1500, 9000, 20_000, 600, 3000] * 6  # 0.1 to 20 KB: 1 to 20 WCU

    failed: list[dict[int, str]] = []

    def write(worker: int) -> None:
        # 216 WCU each at 20 WCU/s: about 11 s on time; the deadline only stops a hang,
        # so that a busy machine slows the writers without failing their items.
        upserter = Upserter(
            name, dynamodb_client=cloud.client("dynamodb"), wcu_per_second=20, deadline_seconds=600
        )
        bodies = [{"w": worker, "i": i, "d": "x" * size} for i, size in enumerate(sizes)]
        failed.append(upserter.put_many([to_item(b) for b in bodies]).failed)

    stop = threading.Event()

    def burn() -> None:
        while not stop.is_set():
            pass

    busy = threading.Thread(target=burn)
    busy.start()
    try:
        writers = [threading.Thread(target=write, args=(n,)) for n in range(2)]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join()
    finally:
        stop.set()
        busy.join()
    assert failed == [{}, {}]
    assert len(cloud.meter.writes_by_key(name)) == 2 * len(sizes)
    assert cloud.meter.max_rate(name) <= 40
    ddb.delete_table(TableName=name)


def test_writes_one_second_apart_in_float_seconds_are_in_different_windows() -> None:
    # 1.009 - 0.009 is 0.9999999999999999 in floats: still one second apart
    assert _metered([(0.009, 5), (1.009, 7)]).max_rate("t") == 7
