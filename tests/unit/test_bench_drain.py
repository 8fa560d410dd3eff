"""The drain benchmark's throttle model (FACTS §3), and a small drain of each consumer."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer

from bench.bench_drain import (
    TABLE,
    ProvisionedTable,
    blueprint_consumer,
    drain,
    naive_consumer,
)
from tests.unit.tables import create_table

_ser = TypeSerializer()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _item(key: str, size: int = 500) -> dict[str, Any]:
    return {"pk": _ser.serialize(key), "data": _ser.serialize("x" * size)}


@pytest.fixture
def client(aws: None) -> Any:
    ddb = boto3.client("dynamodb")
    create_table(ddb, TABLE, wcu=3)
    return ddb


def _count(ddb: Any) -> int:
    return int(ddb.scan(TableName=TABLE, Select="COUNT")["Count"])


def test_put_item_throttled_past_one_second_of_capacity(client: Any) -> None:
    clock = Clock()
    table = ProvisionedTable(TABLE, 3, clock=clock)
    table.attach(client)
    for key in ("a", "b", "c"):
        client.put_item(TableName=TABLE, Item=_item(key))
    with pytest.raises(client.exceptions.ProvisionedThroughputExceededException) as raised:
        client.put_item(TableName=TABLE, Item=_item("d"))
    assert raised.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    clock.now += 1 / 3  # one WCU refilled
    client.put_item(TableName=TABLE, Item=_item("d"))
    stats = table.stats
    assert (stats.requests, stats.throttled_requests, stats.retries) == (5, 1, 1)
    assert (stats.consumed_wcu, stats.accepted_items) == (4, 4)
    assert _count(client) == 4


def test_refill_never_exceeds_one_second(client: Any) -> None:
    clock = Clock()
    table = ProvisionedTable(TABLE, 3, clock=clock)
    table.attach(client)
    clock.now += 600  # idle time earns no burst (FACTS §3)
    request = [{"PutRequest": {"Item": _item(k)}} for k in "abcd"]
    response = client.batch_write_item(RequestItems={TABLE: request})
    assert [r["PutRequest"]["Item"]["pk"]["S"] for r in response["UnprocessedItems"][TABLE]] == [
        "d"
    ]


def test_batch_write_returns_what_does_not_fit_then_throttles(client: Any) -> None:
    clock = Clock()
    table = ProvisionedTable(TABLE, 3, clock=clock)
    table.attach(client)
    big = _item("big", size=1500)  # 2 WCU
    request = [{"PutRequest": {"Item": i}} for i in (_item("a"), big, _item("c"))]
    items = {TABLE: request}
    response = client.batch_write_item(RequestItems=items)
    assert response["UnprocessedItems"][TABLE] == request[2:]
    assert items == {TABLE: request} and len(request) == 3  # the caller's request untouched
    assert _count(client) == 2
    with pytest.raises(client.exceptions.ProvisionedThroughputExceededException):
        client.batch_write_item(RequestItems={TABLE: request[2:]})
    stats = table.stats
    assert (stats.requests, stats.throttled_requests, stats.throttled_items) == (2, 2, 2)
    assert (stats.retries, stats.consumed_wcu) == (1, 3)


def test_small_drain_paced_never_throttles_naive_does() -> None:
    settings = {"messages": 30, "wcu": 20, "batch_size": 10, "batching_window_s": 0}
    paced = drain("paced", blueprint_consumer, **settings)
    assert paced.table.throttled_requests == 0
    assert (paced.items_written, paced.lost, paced.left_in_queue) == (30, 0, 0)
    assert paced.table.consumed_wcu == 30
    naive = drain("naive", naive_consumer, **settings)
    assert naive.table.throttled_requests > 0
    assert naive.table.retries == naive.table.throttled_requests
    assert (naive.items_written, naive.lost, naive.left_in_queue) == (30, 0, 0)
