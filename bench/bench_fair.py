"""Fair queues on the local cloud: one noisy tenant, quiet tenants' time to written.

Runs against an embedded moto server (``LocalCloud.start()``, real HTTP), whose
receives follow the fair-queue rule the local cloud emulates
(``sqs_blueprint/local/fairness.py``). Each scenario has its own standard queue
and the same traffic: ``QUIET_TENANTS`` tenants send ``QUIET_MESSAGES`` messages
each and one noisy tenant ``NOISY_RATIO`` times as many, mixed in rounds (each
round holds 20 noisy messages and one of each quiet tenant, shuffled with a
seeded ``random.Random``), sent by the project's ``Producer`` in batches of 10,
with the tenant as ``Message.tenant`` (the ``MessageGroupId``) or without it.
Everything is sent before consumption starts: a backlog larger than the
consumers can take at once, as when one tenant floods the queue.

``POLLERS`` threads play the mapping's concurrent invocations: receive up to 10
(WaitTimeSeconds=0), spend ``RECORD_MS`` per record one after another, note the
record written, delete the batch. Receives and deletes are serialized by a lock
(moto's receive is not atomic across threads). Time to written is the time from
the start of consumption (the whole backlog is waiting by then) to a record
written; the table gives the quiet tenants' p50 and p95, the noisy tenant's
p95 and the time to drain the queue. moto's approximate counts are 0 during
the run (``bench_fifo.cheap_counts``: they scan the queue on every send).
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

QUIET_TENANTS = 4
QUIET_MESSAGES = 40  # per quiet tenant
NOISY_RATIO = 20
NOISY = "tenant-noisy"
POLLERS = 8
RECORD_MS = 10.0
IDLE_S = 0.01
SEED = 7


def traffic(quiet_tenants: int, quiet_messages: int, ratio: int, seed: int) -> list[str]:
    """The tenant of each message, in sending order: rounds of ``ratio`` noisy messages
    and one per quiet tenant, each round shuffled."""
    shuffle = random.Random(seed).shuffle
    out: list[str] = []
    for _ in range(quiet_messages):
        round_ = [NOISY] * ratio + [f"tenant-{q}" for q in range(quiet_tenants)]
        shuffle(round_)
        out += round_
    return out


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile: the smallest value with ``share`` of them at or below."""
    if not values:
        raise ValueError("percentile of no values: the scenario wrote no records")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass
class Written:
    """Seconds from send to written, per tenant."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    started: float = 0.0  # when consumption starts

    def add(self, tenant: str) -> None:
        with self._lock:
            self.latencies.setdefault(tenant, []).append(time.monotonic() - self.started)
            self.count += 1

    def quiet(self) -> list[float]:
        return [s for tenant, values in self.latencies.items() if tenant != NOISY for s in values]

    def noisy(self) -> list[float]:
        return self.latencies.get(NOISY, [])


@dataclass
class Result:
    with_tenants: bool
    messages: int
    seconds: float
    written: Written

    def row(self) -> str:
        quiet, noisy = self.written.quiet(), self.written.noisy()
        mode = "with tenant ids" if self.with_tenants else "without tenant ids"
        return (
            f"| {mode} | {self.messages:,} | {percentile(quiet, 0.5):.2f} | "
            f"{percentile(quiet, 0.95):.2f} | {percentile(noisy, 0.95):.2f} | "
            f"{self.seconds:.2f} |"
        )


def send(sqs: Any, url: str, tenants: list[str], with_tenants: bool) -> None:
    from sqs_blueprint.producer import Message, Producer

    producer = Producer(url, sqs_client=sqs)
    for start in range(0, len(tenants), 10):
        batch = [
            Message(
                json.dumps({"tenant": tenant}),
                tenant=tenant if with_tenants else None,
            )
            for tenant in tenants[start : start + 10]
        ]
        failed = producer.send_many(batch).failed
        if failed:
            raise RuntimeError(f"{len(failed)} messages not sent: {failed[0].error}")


def poll(sqs: Any, url: str, expected: int, written: Written, lock: threading.Lock) -> None:
    """One invocation slot: receive, process one record after another, delete."""
    while written.count < expected:
        with lock:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                "Messages", []
            )
        if not got:
            time.sleep(IDLE_S)
            continue
        for message in got:
            time.sleep(RECORD_MS / 1000)
            body = json.loads(message["Body"])
            written.add(body["tenant"])
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
        with lock:
            sqs.delete_message_batch(QueueUrl=url, Entries=entries)


def scenario(cloud: Any, tenants: list[str], with_tenants: bool, pollers: int) -> Result:
    sqs = cloud.client("sqs")
    url = sqs.create_queue(QueueName=f"bench-fair-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    send(sqs, url, tenants, with_tenants)
    written, lock = Written(), threading.Lock()
    threads = [
        threading.Thread(target=poll, args=(sqs, url, len(tenants), written, lock))
        for _ in range(pollers)
    ]
    written.started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Result(with_tenants, len(tenants), time.monotonic() - written.started, written)


def main() -> None:
    from bench.bench_fifo import cheap_counts
    from sqs_blueprint.local.server import LocalCloud

    tenants = traffic(QUIET_TENANTS, QUIET_MESSAGES, NOISY_RATIO, SEED)
    with LocalCloud.start() as cloud, cheap_counts():
        results = [scenario(cloud, tenants, mode, POLLERS) for mode in (False, True)]
    print(
        f"1 noisy tenant ({NOISY_RATIO}x) + {QUIET_TENANTS} quiet tenants x {QUIET_MESSAGES} "
        f"messages, sent before consumption; {POLLERS} pollers, batches of 10, "
        f"{RECORD_MS:g} ms per record (moto server)"
    )
    print("| scenario | messages | quiet p50 s | quiet p95 s | noisy p95 s | drained in s |")
    print("|---|---|---|---|---|---|")
    for result in results:
        print(result.row(), flush=True)


if __name__ == "__main__":
    main()
