"""The FIFO benchmark's own checks: the order store, the request meter, a small run."""

from __future__ import annotations

import json
from typing import Any

import boto3

from bench.bench_fifo import (
    RequestMeter,
    VersionStore,
    cheap_counts,
    consume,
    fifo_queue,
    ordered_messages,
    send_batched,
    send_naive,
)


class MotoCloud:
    """The benchmark's view of a cloud: clients, here on moto's in-process mock."""

    def client(self, service: str) -> Any:
        return boto3.client(service)


def test_store_counts_steps_backwards_and_repeats() -> None:
    store = VersionStore()
    for group, version in [("a", 0), ("b", 0), ("a", 1), ("a", 3), ("a", 2), ("b", 0)]:
        store.apply(group, version)
    assert (store.applied, store.backwards, store.repeated) == (6, 1, 1)
    assert store.last == {"a": 3, "b": 0}


def test_messages_come_in_runs_of_ten_per_group_with_rising_versions() -> None:
    messages = ordered_messages(groups=3, count=60)
    assert [group for group, _ in messages[:30]] == ["g000"] * 10 + ["g001"] * 10 + ["g002"] * 10
    versions: dict[str, list[int]] = {}
    for group, body in messages:
        versions.setdefault(group, []).append(json.loads(body)["version"])
    assert versions == {g: list(range(20)) for g in ("g000", "g001", "g002")}


def test_meter_counts_calls_not_messages(aws: None) -> None:
    meter = RequestMeter()
    sqs = meter.attach(boto3.client("sqs"))
    url = fifo_queue(sqs, "metered")
    meter.calls.clear()
    messages = [(f"g{i % 3}", f"body {i}") for i in range(25)]
    assert send_batched(sqs, url, messages) == 0
    # 25 messages in batches of 10: 3 SendMessageBatch, plus the producer's one read
    # of MaximumMessageSize.
    assert meter.calls == {"SendMessageBatch": 3, "GetQueueAttributes": 1}
    meter.calls.clear()
    assert send_naive(sqs, url, [(g, f"other {b}") for g, b in messages]) == 0
    assert meter.total() == 25


def test_small_run_applies_every_group_in_order(aws: None) -> None:
    with cheap_counts():
        result = consume(MotoCloud(), groups=3, count=60)
    assert result.store.applied == 60
    assert result.store.backwards == 0
    assert result.incomplete_groups == 0
    assert 1 <= result.max_concurrency <= 3
    assert result.predicted_per_s == 150  # 3 groups x 1 / 20 ms
