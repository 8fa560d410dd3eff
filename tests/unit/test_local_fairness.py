"""The local cloud's fair queues: a noisy tenant's backlog does not delay a quiet tenant."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from sqs_blueprint.local import moto_fixes
from sqs_blueprint.local.fairness import fair_order, noisy_groups

BACKLOG = 200  # the noisy tenant's messages, sent before the quiet one
BATCH = 10


@pytest.fixture
def sqs(aws: None) -> Iterator[Any]:
    moto_fixes.apply()  # as the local cloud does when it starts
    yield boto3.client("sqs")


def send(sqs: Any, url: str, bodies: list[str], group: str | None) -> None:
    for start in range(0, len(bodies), BATCH):
        entries = [
            {"Id": str(i), "MessageBody": body, **({"MessageGroupId": group} if group else {})}
            for i, body in enumerate(bodies[start : start + BATCH])
        ]
        assert not sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed")


def receive_all(sqs: Any, url: str) -> list[list[str]]:
    """Receive batches until the queue is empty, keeping every message in flight."""
    batches: list[list[str]] = []
    while True:
        got = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=BATCH, VisibilityTimeout=600, WaitTimeSeconds=0
        ).get("Messages", [])
        if not got:
            return batches
        batches.append([m["Body"] for m in got])


def test_a_quiet_tenant_is_delivered_within_the_first_batches(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="tenants")["QueueUrl"]
    noisy = [f"noisy-{i}" for i in range(BACKLOG)]
    send(sqs, url, noisy, "tenant-noisy")
    send(sqs, url, ["quiet-0"], "tenant-quiet")
    batches = receive_all(sqs, url)
    (first,) = [n for n, batch in enumerate(batches, 1) if "quiet-0" in batch]
    # 30 of the noisy tenant's messages in flight make it noisy (the documented
    # rule): the 4th receive prefers the quiet tenant. Arrival order: the 21st.
    assert first == 4
    received = [body for batch in batches for body in batch]
    assert sorted(received) == sorted([*noisy, "quiet-0"])  # nothing lost, nothing twice


def test_without_group_ids_it_is_arrival_order(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="no-tenants")["QueueUrl"]
    bodies = [f"m-{i}" for i in range(BACKLOG + 1)]
    send(sqs, url, bodies, None)
    assert [body for batch in receive_all(sqs, url) for body in batch] == bodies


def test_a_fifo_queue_keeps_its_group_order(sqs: Any) -> None:
    url = sqs.create_queue(
        QueueName="ordered.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    send(sqs, url, [f"a-{i}" for i in range(40)], "a")
    send(sqs, url, ["b-0"], "b")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=BATCH, WaitTimeSeconds=0)
    assert [m["Body"] for m in got["Messages"]] == [f"a-{i}" for i in range(BATCH)]


@pytest.mark.parametrize(
    ("in_flight", "noisy"),
    [
        ({"a": 30, "b": 1}, {"a"}),
        ({"a": 29}, set()),  # fewer than 30 of its own
        ({f"t{i}": 30 for i in range(10)}, set()),  # 10% each: not more than 10%
        ({"a": 31, **{f"t{i}": 30 for i in range(9)}}, {"a"}),
        ({"a": 40, "b": 35, "c": 2}, {"a", "b"}),
    ],
)
def test_noisy_groups_follow_the_documented_rule(
    in_flight: dict[str, int], noisy: set[str]
) -> None:
    assert noisy_groups(in_flight) == noisy


def test_fair_order_puts_quiet_tenants_first_then_the_least_busy_noisy_one() -> None:
    visible = [("a", 1), ("b", 1), (None, 1), ("c", 1), ("a", 2), ("b", 2), ("c", 2)]
    order = fair_order(visible, lambda m: m[0], {"a": 50, "b": 40, "c": 1})
    assert order == [(None, 1), ("c", 1), ("c", 2), ("b", 1), ("b", 2), ("a", 1), ("a", 2)]
