"""The drain benchmark's throttle model, and a small drain of each consumer.

The model is driven by a fake clock, so what it admits does not depend on how
fast the machine is; the small drains check what must hold at any speed (a
paced consumer never throttles, nothing is lost, every refused item is sent
again), not how many throttles an unpaced one happens to meet.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer
from botocore.config import Config

from bench.bench_drain import (
    TABLE,
    ProvisionedTable,
    batch_writer_consumer,
    blueprint_consumer,
    drain,
    naive_consumer,
)
from tests.unit.tables import create_table

_ser = TypeSerializer()
NO_SDK_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})


class Clock:
    """A clock that moves only when told, or by ``step`` at every reading."""

    def __init__(self, step: float = 0.0) -> None:
        self.now = 100.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def _item(key: str, size: int = 500) -> dict[str, Any]:
    return {"pk": _ser.serialize(key), "data": _ser.serialize("x" * size)}


def _client(config: Config = NO_SDK_RETRIES) -> Any:
    ddb = boto3.client("dynamodb", config=config)
    create_table(ddb, TABLE, wcu=3)
    return ddb


def _count(ddb: Any) -> int:
    return int(ddb.scan(TableName=TABLE, Select="COUNT")["Count"])


def test_a_new_table_starts_empty_and_refills_at_its_rate(aws: None) -> None:
    client, clock = _client(), Clock()
    table = ProvisionedTable(TABLE, 3, clock=clock)
    table.attach(client)
    with pytest.raises(client.exceptions.ProvisionedThroughputExceededException) as raised:
        client.put_item(TableName=TABLE, Item=_item("a"))  # nothing saved yet
    assert raised.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    clock.now += 1  # one second: 3 WCU
    for key in ("a", "b", "c"):
        client.put_item(TableName=TABLE, Item=_item(key))
    with pytest.raises(client.exceptions.ProvisionedThroughputExceededException):
        client.put_item(TableName=TABLE, Item=_item("d"))
    clock.now += 1 / 3  # one WCU refilled
    client.put_item(TableName=TABLE, Item=_item("d"))
    stats = table.stats
    assert (stats.requests, stats.throttled_requests, stats.retries) == (6, 2, 2)
    assert (stats.consumed_wcu, stats.accepted_items) == (4, 4)
    assert _count(client) == 4


def test_idle_time_earns_no_more_than_one_second(aws: None) -> None:
    client, clock = _client(), Clock()
    ProvisionedTable(TABLE, 3, clock=clock).attach(client)
    clock.now += 600  # burst capacity is best effort: the model grants none
    request = [{"PutRequest": {"Item": _item(k)}} for k in "abcd"]
    response = client.batch_write_item(RequestItems={TABLE: request})
    unprocessed = response["UnprocessedItems"][TABLE]
    assert [r["PutRequest"]["Item"]["pk"]["S"] for r in unprocessed] == ["d"]


def test_items_are_charged_by_their_size(aws: None) -> None:
    client, clock = _client(), Clock()
    table = ProvisionedTable(TABLE, 3, clock=clock)
    table.attach(client)
    clock.now += 1
    big = _item("big", size=1500)  # 1,514 bytes with its names: 2 WCU
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


def test_every_sdk_retry_is_counted_at_the_table(aws: None) -> None:
    client = _client(Config(retries={"mode": "standard", "total_max_attempts": 3}))
    table = ProvisionedTable(TABLE, 3, clock=Clock())
    table.attach(client)
    with pytest.raises(client.exceptions.ProvisionedThroughputExceededException):
        client.put_item(TableName=TABLE, Item=_item("a"))
    assert (table.stats.requests, table.stats.retries) == (3, 2)


def test_batch_writer_gets_unprocessed_items_back_as_python_values(aws: None) -> None:
    _client()
    resource = boto3.resource("dynamodb", config=NO_SDK_RETRIES)
    table = ProvisionedTable(TABLE, 3, clock=Clock(step=1.0))  # 3 WCU before each request
    table.attach(resource.meta.client)
    with resource.Table(TABLE).batch_writer(overwrite_by_pkeys=["pk"]) as writer:
        for key in "abcde":
            writer.put_item(Item={"pk": key, "n": 1})
    stats = table.stats
    assert (stats.requests, stats.throttled_requests, stats.retries) == (2, 1, 1)
    assert (stats.accepted_items, stats.consumed_wcu) == (5, 5)
    assert _count(resource.meta.client) == 5


@pytest.mark.parametrize("consumer", [blueprint_consumer, batch_writer_consumer, naive_consumer])
def test_small_drain_loses_nothing(consumer: Any) -> None:
    result = drain("small", consumer, messages=30, wcu=20, batch_size=10, batching_window_s=0)
    assert (result.items_written, result.lost, result.left_in_queue) == (30, 0, 0)
    assert result.failed_reports == 0
    assert result.table.accepted_items >= 30
    # Every request the table refused, whole or in part, was followed by one resending it.
    assert result.table.retries >= result.table.throttled_requests
    if consumer is blueprint_consumer:  # paced to the plan's budget: never over the rate
        assert result.table.throttled_requests == 0
        assert result.table.consumed_wcu == 30
