"""Draining a backlog into a provisioned table: the write buffer against naive PutItem, on moto.

moto does not meter capacity (FACTS §7), so the table's provisioned throughput
is modelled here by :class:`ProvisionedTable`, a token bucket attached to the
DynamoDB client with botocore hooks:

- the bucket holds WCU tokens, refilled at the provisioned rate, and holds at
  most one second of them: burst capacity is best effort and never planned on
  (FACTS §3), so the model does not grant it;
- a write costs ``ceil(item bytes / 1 KB)`` WCU per item (FACTS §3), charged
  when the request is issued; a refused write costs nothing;
- PutItem whose WCU exceeds the tokens left fails with
  ``ProvisionedThroughputExceededException`` (the modeled botocore ClientError);
- BatchWriteItem writes its items in order while they fit and returns the rest
  in ``UnprocessedItems``; when not even the first fits, the whole request
  fails with ``ProvisionedThroughputExceededException``. Both are what DynamoDB
  does (FACTS §3).

The decision is taken on ``provide-client-params`` (botocore's earliest
per-call event, where a BatchWriteItem's items can still be trimmed before they
are serialized; a ``before-call`` hook only sees the serialized body) and the
unprocessed items are added to the parsed response on ``after-call``. The
throttle is raised above botocore's own retry layer, so SDK retries never hide
a throttle: every retry counted is one the consumer made.

Scenario: a backlog of ``MESSAGES`` JSON records of about 1 KB in a standard
queue, drained into a table of ``WCU`` by ``plan.max_concurrency`` threads, one
per concurrent invocation. Each thread takes batches of ``plan.batch_size`` (by
repeated ReceiveMessage of 10, WaitTimeSeconds=0) and deletes what was written,
as the event-source mapping does. The blueprint consumer runs the project's
``WriteBuffer`` paced to ``plan.budget_wcu_per_s``; the naive consumer writes
one PutItem per record, unpaced, and retries a throttled write after a fixed
sleep. SQS calls are serialized by a lock: moto's receive is not atomic across
threads, and real SQS never hands one message to two concurrent receivers.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

MESSAGES = 600
WCU = 50
ITEM_KB = 1
FUNCTION_TIMEOUT_S = 30
BATCH_SIZE = 100  # the write buffer's stage setting (cdk.json), with a 1 s window
BATCHING_WINDOW_S = 1
MARGIN_S = 2.0  # the write-buffer handler stops retrying this long before the timeout
NAIVE_BACKOFF_S = 0.1
TARGET_RATIO = 1.15  # issue 4: drain within 15% of the ideal time
TABLE = "items"
KEY_FIELDS = ("id",)
TOKEN_EPSILON = 1e-6  # float slack when a request asks for exactly the tokens left


# ---------------------------------------------------------------- the throttle model


@dataclass
class TableStats:
    """What the table saw, counted at the table."""

    requests: int = 0
    throttled_requests: int = 0  # refused whole, or partly (UnprocessedItems)
    throttled_items: int = 0
    retries: int = 0  # requests carrying an item the table had refused before
    consumed_wcu: int = 0
    accepted_items: int = 0


class ProvisionedTable:
    """A token bucket of WCU at a table's provisioned rate, hooked onto DynamoDB clients."""

    def __init__(
        self,
        table_name: str,
        wcu: float,
        *,
        capacity_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.table_name = table_name
        self.rate = float(wcu)
        self.capacity = self.rate * capacity_s  # FACTS §3: no burst beyond one second
        self.tokens = self.capacity
        self.stats = TableStats()
        self._clock = clock
        self._last = clock()
        self._refused: set[str] = set()
        self._lock = threading.Lock()

    def attach(self, client: Any) -> Any:
        events = client.meta.events
        for op in ("PutItem", "BatchWriteItem"):
            events.register(f"provide-client-params.dynamodb.{op}", self._before)
        events.register("after-call.dynamodb.BatchWriteItem", self._after)
        self._error = client.exceptions.ProvisionedThroughputExceededException
        return client

    def admit(self, costs: list[tuple[str, int]]) -> int:
        """How many leading items (key, WCU) fit in the tokens left; takes their tokens."""
        with self._lock:
            now = self._clock()
            self.tokens = min(self.capacity, self.tokens + (now - self._last) * self.rate)
            self._last = now
            stats = self.stats
            stats.requests += 1
            if any(key in self._refused for key, _ in costs):
                stats.retries += 1
            fitting = 0
            for _, wcu in costs:
                if wcu > self.tokens + TOKEN_EPSILON:
                    break
                self.tokens -= wcu
                stats.consumed_wcu += wcu
                fitting += 1
            stats.accepted_items += fitting
            if fitting < len(costs):
                stats.throttled_requests += 1
                stats.throttled_items += len(costs) - fitting
                self._refused.update(key for key, _ in costs[fitting:])
            return fitting

    def _before(
        self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        from sqs_blueprint.capacity import wcu_per_item
        from sqs_blueprint.upsert import KEY_ATTRIBUTE, item_size

        def cost(item: dict[str, Any]) -> tuple[str, int]:
            key = item[KEY_ATTRIBUTE]["S"]
            return key, wcu_per_item(max(item_size(item), 1) / 1024)  # FACTS §3

        if model.name == "PutItem":
            if params.get("TableName") != self.table_name:
                return
            if not self.admit([cost(params["Item"])]):
                self._throttle(model.name)
            return
        requests = params["RequestItems"].get(self.table_name)
        if not requests:
            return
        # A delete is charged by its key here (DynamoDB charges the deleted item's size).
        fitting = self.admit(
            [
                cost(r["PutRequest"]["Item"] if "PutRequest" in r else r["DeleteRequest"]["Key"])
                for r in requests
            ]
        )
        if fitting == 0:
            self._throttle(model.name)
        if fitting < len(requests):
            # A new mapping: the caller's RequestItems is left as it was.
            params["RequestItems"] = {**params["RequestItems"], self.table_name: requests[:fitting]}
            context["bench_unprocessed"] = requests[fitting:]

    def _after(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        rest = context.pop("bench_unprocessed", None)
        if rest and "Error" not in parsed:
            unprocessed = parsed.setdefault("UnprocessedItems", {})
            unprocessed.setdefault(self.table_name, []).extend(rest)

    def _throttle(self, operation: str) -> None:
        message = (
            "The level of configured provisioned throughput for the table was exceeded. "
            "Consider increasing your provisioning level with the UpdateTable API."
        )
        response = {
            "Error": {"Code": "ProvisionedThroughputExceededException", "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }
        raise self._error(response, operation)


# ---------------------------------------------------------------- the scenario


@contextmanager
def cloud() -> Iterator[None]:
    from moto import mock_aws
    from moto.sqs.models import SQSBackend

    from sqs_blueprint.local.moto_fixes import within_retention

    env = {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }
    check = "is_message_valid_based_on_retention_period"
    with (
        mock.patch.dict(os.environ, env),
        mock.patch.object(SQSBackend, check, within_retention),
        mock_aws(),
    ):
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
            os.environ.pop(name, None)
        yield


def bodies(count: int, item_kb: float = ITEM_KB, seed: int = 11) -> list[str]:
    """JSON records whose items (with their 64-character hash key) come to about ``item_kb``."""
    rnd = random.Random(seed)
    out = []
    for i in range(count):
        record = {"id": i, "customer": f"c-{rnd.randrange(10_000):04d}", "note": ""}
        record["note"] = "x" * max(0, int(item_kb * 1024) - 130)
        out.append(json.dumps(record))
    return out


def item_wcu(body: str) -> int:
    """The WCU DynamoDB charges for the item this body becomes (FACTS §3)."""
    from sqs_blueprint.capacity import wcu_per_item
    from sqs_blueprint.upsert import item_size, parse_body, serialize, to_item

    return wcu_per_item(item_size(serialize(to_item(parse_body(body), KEY_FIELDS))) / 1024)


@dataclass
class DrainResult:
    consumer: str
    messages: int
    seconds: float
    ideal_s: float
    table: TableStats
    items_written: int
    left_in_queue: int
    lost: int
    failed_reports: int

    @property
    def ratio(self) -> float:
        return self.seconds / self.ideal_s


class Queue:
    """The SQS side of one consumer thread: batches of ``batch_size``, deletes by receipt."""

    def __init__(self, sqs: Any, url: str, lock: threading.Lock) -> None:
        self.sqs, self.url, self.lock = sqs, url, lock

    def receive(self, batch_size: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while len(messages) < batch_size:
            with self.lock:
                got = self.sqs.receive_message(
                    QueueUrl=self.url,
                    MaxNumberOfMessages=min(10, batch_size - len(messages)),
                    WaitTimeSeconds=0,
                ).get("Messages", [])
            if not got:
                break
            messages.extend(got)
        return messages

    def delete(self, handles: list[str]) -> None:
        for start in range(0, len(handles), 10):
            chunk = handles[start : start + 10]
            entries = [{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(chunk)]
            with self.lock:
                failed = self.sqs.delete_message_batch(QueueUrl=self.url, Entries=entries).get(
                    "Failed", []
                )
            if failed:
                raise RuntimeError(f"delete failed: {failed}")


Consumer = Callable[[Queue, Any, Any, set[int]], int]


def blueprint_consumer(plan: Any) -> Consumer:
    """One concurrent invocation: the project's WriteBuffer, paced to the plan's budget."""

    def run(queue: Queue, dynamodb: Any, _: Any, deleted: set[int]) -> int:
        from sqs_blueprint.records import Record
        from sqs_blueprint.write_buffer import WriteBuffer, WriteBufferSettings

        buffer = WriteBuffer(
            WriteBufferSettings(
                table_name=TABLE, key_fields=KEY_FIELDS, wcu_per_second=plan.budget_wcu_per_s
            ),
            dynamodb_client=dynamodb,
        )
        failures = 0
        while messages := queue.receive(plan.batch_size):
            records = [Record.from_sqs(m, queue_url=queue.url) for m in messages]
            outcome = buffer.process(records, deadline_s=plan.function_timeout_s - MARGIN_S)
            failures += len(outcome.failed)
            done = [m for m in messages if m["MessageId"] not in outcome.failed]
            queue.delete([m["ReceiptHandle"] for m in done])
            deleted.update(json.loads(m["Body"])["id"] for m in done)
        return failures

    return run


def naive_consumer(plan: Any) -> Consumer:
    """The same batches, one PutItem per record, no pacing, a fixed sleep after a throttle."""

    def run(queue: Queue, dynamodb: Any, serializer: Any, deleted: set[int]) -> int:
        from botocore.exceptions import ClientError

        from sqs_blueprint.upsert import parse_body, to_item

        while messages := queue.receive(plan.batch_size):
            for m in messages:
                item = to_item(parse_body(m["Body"]), KEY_FIELDS)
                wire = {k: serializer.serialize(v) for k, v in item.items()}
                while True:
                    try:
                        dynamodb.put_item(TableName=TABLE, Item=wire)
                        break
                    except ClientError as error:
                        code = error.response["Error"]["Code"]
                        if code != "ProvisionedThroughputExceededException":
                            raise
                        time.sleep(NAIVE_BACKOFF_S)
            queue.delete([m["ReceiptHandle"] for m in messages])
            deleted.update(json.loads(m["Body"])["id"] for m in messages)
        return 0

    return run


def drain(
    name: str,
    make_consumer: Callable[[Any], Consumer],
    *,
    messages: int = MESSAGES,
    wcu: int = WCU,
    item_kb: float = ITEM_KB,
    batch_size: int = BATCH_SIZE,
    batching_window_s: float = BATCHING_WINDOW_S,
) -> DrainResult:
    """Fill a queue with ``messages`` records and drain it into a table of ``wcu``."""
    import boto3
    from boto3.dynamodb.types import TypeSerializer

    from sqs_blueprint.capacity import plan_write_buffer

    plan = plan_write_buffer(
        wcu=wcu,
        item_kb=item_kb,
        function_timeout_s=FUNCTION_TIMEOUT_S,
        batch_size=batch_size,
        batching_window_s=batching_window_s,
    )
    backlog = bodies(messages, item_kb)
    ideal_s = sum(item_wcu(b) for b in backlog) / wcu
    with cloud():
        sqs, dynamodb = boto3.client("sqs"), boto3.client("dynamodb")
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": wcu},
        )
        url = sqs.create_queue(
            QueueName="backlog",
            Attributes={"VisibilityTimeout": str(plan.visibility_timeout_s)},
        )["QueueUrl"]
        for start in range(0, len(backlog), 10):
            entries = [
                {"Id": str(i), "MessageBody": b} for i, b in enumerate(backlog[start : start + 10])
            ]
            sqs.send_message_batch(QueueUrl=url, Entries=entries)
        table = ProvisionedTable(TABLE, wcu)
        table.attach(dynamodb)
        lock = threading.Lock()
        deleted: set[int] = set()
        failures: list[int] = []
        errors: list[BaseException] = []
        consumer = make_consumer(plan)

        def thread() -> None:
            try:
                queue = Queue(sqs, url, lock)
                failures.append(consumer(queue, dynamodb, TypeSerializer(), deleted))
            except BaseException as error:  # reported after the run
                errors.append(error)

        threads = [threading.Thread(target=thread) for _ in range(plan.max_concurrency)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.monotonic() - started
        if errors:
            raise errors[0]
        written: set[int] = set()
        for page in dynamodb.get_paginator("scan").paginate(
            TableName=TABLE, ProjectionExpression="id"
        ):
            written.update(int(i["id"]["N"]) for i in page["Items"])
        attrs = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        left = sum(int(v) for v in attrs.values())
    return DrainResult(
        consumer=name,
        messages=messages,
        seconds=seconds,
        ideal_s=ideal_s,
        table=table.stats,
        items_written=len(written),
        left_in_queue=left,
        lost=len(deleted - written),
        failed_reports=sum(failures),
    )


# ---------------------------------------------------------------- the table


COLUMNS = (
    ("consumer", 34),
    ("msgs", 5),
    ("drain s", 8),
    ("ideal s", 8),
    ("ratio", 6),
    ("reqs", 6),
    ("throttled", 10),
    ("thr items", 10),
    ("retries", 8),
    ("WCU used", 9),
    ("written", 8),
    ("left", 5),
    ("lost", 5),
)


def row(r: DrainResult) -> str:
    t = r.table
    cells = (
        r.consumer,
        r.messages,
        f"{r.seconds:.2f}",
        f"{r.ideal_s:.2f}",
        f"{r.ratio:.3f}",
        t.requests,
        t.throttled_requests,
        t.throttled_items,
        t.retries,
        t.consumed_wcu,
        r.items_written,
        r.left_in_queue,
        r.lost,
    )
    first, *rest = zip(cells, COLUMNS, strict=True)
    return f"{first[0]:<{first[1][1]}}" + "".join(f" {c!s:>{w}}" for c, (_, w) in rest)


def verdict(r: DrainResult, *, paced: bool) -> str:
    """Against the issue's targets for the paced consumer; the naive one is described."""
    t = r.table
    problems = []
    if r.lost:
        problems.append(f"{r.lost} messages lost (deleted, item not written)")
    if r.items_written < r.messages:
        problems.append(f"{r.messages - r.items_written} items not written")
    if r.left_in_queue:
        problems.append(f"{r.left_in_queue} messages left in the queue")
    if r.failed_reports:
        problems.append(f"{r.failed_reports} records reported as failures")
    if not paced:
        share = t.throttled_requests / t.requests if t.requests else 0.0
        found = [
            f"{t.throttled_requests} of {t.requests} requests throttled ({share:.0%}), "
            f"{t.retries} retries, drain ratio {r.ratio:.3f}",
            *problems,
        ]
        return f"{r.consumer}: " + "; ".join(found)
    if t.throttled_requests:
        problems.append(f"{t.throttled_requests} throttled requests (target 0)")
    if r.ratio > TARGET_RATIO:
        problems.append(f"drain ratio {r.ratio:.3f} over the target {TARGET_RATIO:g}")
    met = f"targets met (0 throttled, ratio {r.ratio:.3f} <= {TARGET_RATIO:g}, nothing lost)"
    return f"{r.consumer}: " + ("MISSED: " + "; ".join(problems) if problems else met)


def main() -> None:
    from sqs_blueprint.capacity import plan_write_buffer

    plan = plan_write_buffer(
        wcu=WCU,
        item_kb=ITEM_KB,
        function_timeout_s=FUNCTION_TIMEOUT_S,
        batch_size=BATCH_SIZE,
        batching_window_s=BATCHING_WINDOW_S,
    )
    per_item = item_wcu(bodies(1)[0])
    print(
        f"Drain: {MESSAGES} JSON records ({per_item} WCU each) into a table of {WCU} WCU "
        f"(token bucket, 1 s capacity); plan: {plan.max_concurrency} concurrent consumers, "
        f"batches of {plan.batch_size}, {plan.budget_wcu_per_s:g} WCU/s each; "
        f"ideal = N x WCU-per-item / WCU"
    )
    header = COLUMNS[0][0].ljust(COLUMNS[0][1]) + "".join(
        f" {name:>{width}}" for name, width in COLUMNS[1:]
    )
    print(header)
    results = []
    for name, make, paced in (
        ("sqs_blueprint WriteBuffer (paced)", blueprint_consumer, True),
        (f"PutItem per record, {NAIVE_BACKOFF_S:g} s retry", naive_consumer, False),
    ):
        result = drain(name, make)
        results.append((result, paced))
        print(row(result))
    print()
    for result, paced in results:
        print(verdict(result, paced=paced))
    print(
        "throttled: requests refused whole or in part (UnprocessedItems); thr items: items "
        "refused; retries: requests carrying an item refused before; left: messages still "
        "in the queue; lost: deleted without their item in the table"
    )
    print(
        "moto: SQS calls serialized (atomic receive); its per-message retention check "
        "replaced by the same rule without a pass over the queue (see the module notes)"
    )


if __name__ == "__main__":
    main()
