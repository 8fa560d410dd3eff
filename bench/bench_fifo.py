"""FIFO throughput on the local cloud: ordered consumption by message group, and batched sends.

Runs against an embedded moto server (``LocalCloud.start()``, real HTTP).
Requests are counted by :class:`RequestMeter`, a botocore ``after-call`` hook
on the client, independently of the producer's own bookkeeping.

Consumer: ``GROUPS`` scenarios of an ordered pipeline. Each message carries
``{"group", "version"}``; ``min(groups, MAX_POLLERS)`` threads play the FIFO
mapping's concurrent invocations: receive up to 10 (WaitTimeSeconds=0), spend
``RECORD_MS`` per record one after another, apply the version to an in-memory
store, delete the batch. The store counts every version that goes backwards
(order broken) or repeats (duplicate). moto blocks a group while one of its
messages is in flight, as SQS does, but fills a receive in queue order across
groups, while SQS returns as many messages of one group as it can; so the
messages are enqueued in runs of 10 per group, round robin, which makes
moto's batches look like SQS's. Receives and deletes are serialized by a lock
(moto's receive is not atomic across threads). An idle poller retries after
``IDLE_S``, as a long poll would wait.

moto computes every queue attribute, including three approximate counts that
each scan the whole queue, several times for every message sent (to read
``ContentBasedDeduplication``): sending N messages costs O(N^2). Nothing here
reads those counts, so :func:`cheap_counts` makes them 0 for the run; delivery,
visibility, group blocking and deduplication are moto's own.

Producer: ``SEND_MESSAGES`` 1 KB messages over ``SEND_GROUPS`` groups, sent by
the project's ``Producer`` (SendMessageBatch of 10) and by a naive sender (one
SendMessage per message).

The plan column is ``capacity.plan_fifo``'s consume-side ceiling for the same
groups and record time; the ratio is measured / plan.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

RECORD_MS = 20.0
GROUPS = ((1, 150), (10, 600), (100, 1_000))  # active groups, messages
MAX_POLLERS = 100
IDLE_S = 0.01
# 10,000 does not fit: the naive sender alone takes about 3 minutes on moto here
# (about 17 ms per SendMessage), so the largest N that keeps the run near 3 minutes.
SEND_MESSAGES = 4_000
SEND_GROUPS = 100
RUN = 10  # messages of one group enqueued together (one receive's worth)


@contextmanager
def cheap_counts() -> Iterator[None]:
    """moto's approximate message counts as 0 (see the module docstring)."""
    from moto.sqs.models import Queue

    zero = property(lambda _: 0)
    counts = ("", "_not_visible", "_delayed")
    with ExitStack() as stack:
        for suffix in counts:
            name = f"approximate_number_of_messages{suffix}"
            stack.enter_context(mock.patch.object(Queue, name, zero))
        yield


class RequestMeter:
    """Counts SQS API calls per operation with a botocore ``after-call`` hook."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def attach(self, client: Any) -> Any:
        client.meta.events.register("after-call.sqs", self._count)
        return client

    def _count(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.calls[model.name] += 1

    def total(self, *operations: str) -> int:
        return sum(self.calls[op] for op in operations) if operations else self.calls.total()


@dataclass
class VersionStore:
    """What the consumer applied: the last version per group, and every step backwards."""

    last: dict[str, int] = field(default_factory=dict)
    applied: int = 0
    backwards: int = 0
    repeated: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def apply(self, group: str, version: int) -> None:
        with self._lock:
            previous = self.last.get(group, -1)
            if version < previous:
                self.backwards += 1
            elif version == previous:
                self.repeated += 1
            self.last[group] = max(previous, version)
            self.applied += 1


def ordered_messages(groups: int, count: int) -> list[tuple[str, str]]:
    """(group id, body) in runs of ``RUN`` per group, round robin; versions rise per group."""
    per_group = count // groups
    out: list[tuple[str, str]] = []
    for start in range(0, per_group, RUN):
        for g in range(groups):
            group = f"g{g:03d}"
            for version in range(start, min(start + RUN, per_group)):
                out.append((group, json.dumps({"group": group, "version": version})))
    return out


def fifo_queue(sqs: Any, name: str) -> str:
    url: str = sqs.create_queue(QueueName=f"{name}.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    return url


@dataclass
class ConsumeResult:
    groups: int
    messages: int
    seconds: float
    max_concurrency: int
    store: VersionStore
    predicted_per_s: float
    predicted_concurrency: int
    per_group: int

    @property
    def incomplete_groups(self) -> int:
        """Groups whose last version was never applied."""
        last = self.store.last
        return sum(last.get(f"g{g:03d}") != self.per_group - 1 for g in range(self.groups))

    @property
    def per_s(self) -> float:
        return self.store.applied / self.seconds


class Pollers:
    """``count`` threads playing a FIFO mapping's concurrent invocations on one queue."""

    def __init__(self, sqs: Any, url: str, expected: int, store: VersionStore) -> None:
        self.sqs, self.url, self.expected, self.store = sqs, url, expected, store
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0
        self._count_lock = threading.Lock()

    def _busy(self, delta: int) -> None:
        with self._count_lock:
            self.active += delta
            self.max_active = max(self.max_active, self.active)

    def run(self) -> None:
        while self.store.applied < self.expected:
            with self.lock:
                got = self.sqs.receive_message(
                    QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0
                ).get("Messages", [])
            if not got:
                time.sleep(IDLE_S)
                continue
            self._busy(1)
            for message in got:
                time.sleep(RECORD_MS / 1000)
                body = json.loads(message["Body"])
                self.store.apply(body["group"], body["version"])
            self._busy(-1)
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)
            ]
            with self.lock:
                self.sqs.delete_message_batch(QueueUrl=self.url, Entries=entries)


def consume(cloud: Any, groups: int, count: int) -> ConsumeResult:
    from sqs_blueprint.capacity import plan_fifo
    from sqs_blueprint.producer import Message, Producer

    sqs = cloud.client("sqs")
    url = fifo_queue(sqs, f"ordered-{groups}")
    messages = [Message(body, group_id=group) for group, body in ordered_messages(groups, count)]
    sent = Producer(url, sqs_client=sqs).send_many(messages)
    if sent.failed:
        raise RuntimeError(f"{len(sent.failed)} messages not sent: {sent.failed[0].error}")
    store = VersionStore()
    pollers = Pollers(sqs, url, len(messages), store)
    threads = [threading.Thread(target=pollers.run) for _ in range(min(groups, MAX_POLLERS))]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    plan = plan_fifo(
        messages_per_s=1,
        groups=groups,
        record_ms=RECORD_MS,
        max_concurrency=max(2, min(groups, MAX_POLLERS)),
    )
    return ConsumeResult(
        groups,
        len(messages),
        seconds,
        pollers.max_active,
        store,
        plan.consume_ceiling_per_s,
        plan.concurrency,
        count // groups,
    )


@dataclass
class SendResult:
    name: str
    messages: int
    seconds: float
    requests: int
    failed: int

    @property
    def requests_per_message(self) -> float:
        return self.requests / self.messages


Sender = Callable[[Any, str, list[tuple[str, str]]], int]


def timed_send(cloud: Any, name: str, slug: str, send: Sender) -> SendResult:
    meter = RequestMeter()
    sqs = meter.attach(cloud.client("sqs"))
    url = fifo_queue(sqs, f"send-{slug}")
    meter.calls.clear()  # the queue's creation is set-up, not sending
    messages = [
        (f"g{i % SEND_GROUPS:03d}", json.dumps({"id": i, "pad": "x" * 1000}))
        for i in range(SEND_MESSAGES)
    ]
    started = time.monotonic()
    failed = send(sqs, url, messages)
    return SendResult(name, len(messages), time.monotonic() - started, meter.total(), failed)


def send_batched(sqs: Any, url: str, messages: list[tuple[str, str]]) -> int:
    from sqs_blueprint.producer import Message, Producer

    producer = Producer(url, sqs_client=sqs)
    return len(producer.send_many(Message(body, group_id=g) for g, body in messages).failed)


def send_naive(sqs: Any, url: str, messages: list[tuple[str, str]]) -> int:
    from sqs_blueprint.producer import deduplication_id

    for group, body in messages:
        sqs.send_message(
            QueueUrl=url,
            MessageBody=body,
            MessageGroupId=group,
            MessageDeduplicationId=deduplication_id(body),
        )
    return 0


def consume_row(r: ConsumeResult) -> str:
    order = "in order" if r.store.backwards == 0 else f"{r.store.backwards} BACKWARDS"
    complete = "all complete" if not r.incomplete_groups else f"{r.incomplete_groups} INCOMPLETE"
    return (
        f"| {r.groups} | {r.messages:,} | {r.seconds:.1f} | {r.per_s:,.0f} | "
        f"{r.predicted_per_s:,.0f} | {r.per_s / r.predicted_per_s:.2f} | {r.max_concurrency} | "
        f"{r.predicted_concurrency} | {r.max_concurrency / r.predicted_concurrency:.2f} | "
        f"{order}, {r.store.repeated} repeated, {complete} |"
    )


def send_row(r: SendResult) -> str:
    return (
        f"| {r.name} | {r.messages:,} | {r.requests:,} | {r.requests_per_message:.4f} | "
        f"{r.seconds:.1f} | {r.messages / r.seconds:,.0f} | {r.failed} |"
    )


def main() -> None:
    from sqs_blueprint.local.server import LocalCloud

    with LocalCloud.start() as cloud, cheap_counts():
        print(f"Ordered FIFO consumer, {RECORD_MS:g} ms per record, batches of 10 (moto server)")
        print(
            "| groups | messages | s | msg/s | plan msg/s | ratio | max concurrency "
            "| plan concurrency | ratio | per-group order |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        for groups, count in GROUPS:
            print(consume_row(consume(cloud, groups, count)), flush=True)
        print()
        print(f"FIFO producer, {SEND_MESSAGES:,} messages of 1 KB over {SEND_GROUPS} groups")
        print("| sender | messages | SQS requests | requests/message | s | msg/s | failed |")
        print("|---|---|---|---|---|---|---|")
        print(
            send_row(timed_send(cloud, "Producer (batches of 10)", "batched", send_batched)),
            flush=True,
        )
        print(
            send_row(timed_send(cloud, "naive (one per request)", "naive", send_naive)), flush=True
        )


if __name__ == "__main__":
    main()
