"""Retry backoff on the local cloud: a downstream that fails for T seconds, then recovers.

Runs against an embedded moto server (``LocalCloud.start()``, real HTTP). Each
scenario sends ``MESSAGES`` messages to its own standard queue (visibility
timeout ``VISIBILITY_S``, no DLQ, so every receive is counted) and runs the
project's EC2 :class:`~sqs_blueprint.worker.Worker` on it; the handler fails
every record until T seconds after the start, then succeeds. Without backoff a
failed record comes back when the queue's visibility timeout ends; with it, after
the backoff's delay (``MODES``, jitter from a seeded ``random.Random``).

Columns: receives (handler calls, all messages), the most receives one message
took, how many messages took more than 5 (the shipped pipelines' maxReceiveCount:
those would have reached the DLQ), and the time from the recovery to the last
record written (p50 and max over messages). The six scenarios run at once,
each with its own worker, so the whole bench takes about the longest one.

The queue's timeout stands for a Lambda queue's (six times the function
timeout): scaled down 15x, a 180 s queue timeout becomes 12 s and the default
backoff (60 s doubling to 900 s) becomes 4 s doubling to 60 s. The third mode
starts from a small base (1 s).
"""

from __future__ import annotations

import logging
import random
import statistics
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqs_blueprint.backoff import Backoff
from sqs_blueprint.records import Record
from sqs_blueprint.worker import Worker

MESSAGES = 20
VISIBILITY_S = 12
# None: the queue's timeout; the default backoff scaled down; a small base.
MODES = (None, Backoff(base_s=4, max_s=60), Backoff(base_s=1, max_s=60))
OUTAGES_S = (4.0, 45.0)
MAX_RECEIVES = 5  # the shipped pipelines' maxReceiveCount
DEADLINE_S = 110.0  # a scenario not recovered by then is reported as such


@dataclass
class Result:
    outage_s: float
    backoff: Backoff | None
    receives: Counter[str]
    recovered_after: list[float]  # seconds from the recovery to each record written

    def row(self) -> str:
        most = max(self.receives.values())
        over = sum(n > MAX_RECEIVES for n in self.receives.values())
        done = self.recovered_after
        p50 = f"{statistics.median(done):6.1f}" if done else "     -"
        worst = f"{max(done):6.1f}" if len(done) == MESSAGES else " >" + f"{DEADLINE_S:.0f}"
        b = self.backoff
        mode = f"backoff {b.base_s:g}..{b.max_s:g} s" if b else "no backoff"
        return (
            f"{self.outage_s:8.0f} {mode:<18} {sum(self.receives.values()):9d} {most:13d} "
            f"{over:18d} {p50:>10} {worst:>9}"
        )


def scenario(cloud: Any, outage_s: float, backoff: Backoff | None) -> Result:
    sqs = cloud.client("sqs")
    url = sqs.create_queue(
        QueueName=f"bench-backoff-{uuid.uuid4().hex[:8]}",
        Attributes={"VisibilityTimeout": str(VISIBILITY_S)},
    )["QueueUrl"]
    for start in range(0, MESSAGES, 10):
        entries = [{"Id": str(n), "MessageBody": str(start + n)} for n in range(10)]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    receives: Counter[str] = Counter()
    written: dict[str, float] = {}
    lock = threading.Lock()
    recovery = time.monotonic() + outage_s

    def downstream(record: Record) -> None:
        now = time.monotonic()
        with lock:
            receives[record.message_id] += 1
            if now < recovery:
                raise RuntimeError("downstream unavailable")
            written[record.message_id] = now - recovery

    worker = Worker(
        url,
        downstream,
        concurrency=4,
        wait_time_seconds=1,
        retry_backoff=backoff,
        retry_random=random.Random(7).random,
        sqs_client=sqs,
    )
    runner = threading.Thread(target=worker.run)
    runner.start()
    end = recovery + DEADLINE_S
    while len(written) < MESSAGES and time.monotonic() < end:
        time.sleep(0.2)
    worker.stop()
    worker.stop()  # no drain wait: the records are written or the scenario is over
    runner.join()
    return Result(outage_s, backoff, receives, sorted(written.values()))


def main() -> None:
    from sqs_blueprint.local.server import LocalCloud

    logging.disable(logging.CRITICAL)  # every failure logs lines; the table is the output
    runs = [(t, b) for t in OUTAGES_S for b in MODES]
    results: dict[tuple[float, Backoff | None], Result] = {}
    with LocalCloud.start() as cloud:

        def run(outage_s: float, backoff: Backoff | None) -> None:
            results[(outage_s, backoff)] = scenario(cloud, outage_s, backoff)

        threads = [threading.Thread(target=run, args=r) for r in runs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    logging.disable(logging.NOTSET)
    print(
        f"{MESSAGES} messages per scenario, queue visibility timeout {VISIBILITY_S} s, "
        "worker concurrency 4"
    )
    print(
        f"{'outage s':>8} {'mode':<18} {'receives':>9} {'max per msg':>13} "
        f"{'over ' + str(MAX_RECEIVES) + ' (to DLQ)':>18} {'recover p50':>10} {'max s':>9}"
    )
    for key in runs:
        print(results[key].row())


if __name__ == "__main__":
    main()
