"""Draining a backlog into a provisioned table: the write buffer against its rivals, on moto.

moto does not meter capacity (docs/aws-facts.md#local-cloud), so the table's
provisioned throughput is modelled here by :class:`ProvisionedTable`, a token
bucket attached to DynamoDB clients with botocore hooks. It starts the way a
new table does, conservatively
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html#bp-partition-key-throughput-bursting,
docs/aws-facts.md#dynamodb):

- the bucket starts EMPTY when the drain starts (a table just created has saved
  no unused capacity), refills at the provisioned rate and holds at most one
  second of it. DynamoDB may keep up to 300 s of unused capacity as burst, but
  documents it as best effort; the model grants none, so a consumer that relies
  on burst is throttled here and one that stays within the rate is not;
- a write costs ``ceil(item bytes / 1 KB)`` WCU per item, the item sized by
  DynamoDB's documented rules in the local cloud's meter
  (:mod:`sqs_blueprint.local.meter`), not by the library under test; charged
  when the request is issued; a refused write costs nothing;
- PutItem whose WCU exceeds the tokens left is answered with
  ``ProvisionedThroughputExceededException``; BatchWriteItem writes its items in
  order while they fit and returns the rest in ``UnprocessedItems``, and when
  not even the first fits the whole request is answered with the throttle.
  Both are what DynamoDB does.

The decision is taken for every attempt on ``before-send``, on the serialized
request (a BatchWriteItem's body is trimmed to what fits; a throttle is
returned as DynamoDB's HTTP 400 answer), so botocore's own retries with backoff
apply as they do against DynamoDB, and every attempt is counted at the table:
``retries`` are requests carrying an item the table refused before, whoever
resent it (the SDK or the consumer). The unprocessed items are added to the
parsed response on ``after-call``, registered first so that boto3's resource
layer turns them into Python values as it does DynamoDB's own.

Scenario: a backlog of ``MESSAGES`` JSON records of about 1 KB in a standard
queue, drained into a table of ``WCU`` by ``plan.max_concurrency`` threads, one
per concurrent invocation. Each thread takes batches of ``plan.batch_size`` (by
repeated ReceiveMessage of 10, WaitTimeSeconds=0) and deletes what was written,
as the event-source mapping does. The blueprint consumer runs the project's
``WriteBuffer`` paced to ``plan.budget_wcu_per_s``; the rivals are boto3's
``Table.batch_writer(overwrite_by_pkeys=["pk"])`` (25 items a request,
unprocessed items re-sent at once; a request still throttled after the SDK's
retries raises, and the batch is written again after a fixed sleep) and one
PutItem per record, unpaced, retried after a fixed sleep. SQS calls are
serialized by a lock: moto's receive is not atomic across threads, and real SQS
never hands one message to two concurrent receivers.
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

from boto3.dynamodb.types import TypeSerializer
from botocore.awsrequest import AWSResponse

from sqs_blueprint.capacity import WriteBufferPlan, plan_write_buffer
from sqs_blueprint.local.meter import item_size, write_units

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
KEY = "pk"  # the table's partition key
THROTTLE = "ProvisionedThroughputExceededException"
_SERIALIZER = TypeSerializer()


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
        self.capacity = self.rate * capacity_s  # no burst beyond one second (best effort)
        self.tokens = 0.0  # a new table has saved nothing
        self.stats = TableStats()
        self._clock = clock
        self._last = clock()
        self._refused: set[str] = set()
        self._lock = threading.Lock()
        self._unprocessed = threading.local()  # one call's items left out, for its response

    def attach(self, client: Any) -> Any:
        events = client.meta.events
        for op in ("PutItem", "BatchWriteItem"):
            events.register(f"before-send.dynamodb.{op}", self._before_send)
        events.register_first("after-call.dynamodb.BatchWriteItem", self._after)
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

    def _before_send(self, request: Any, **_: Any) -> AWSResponse | None:
        """Admit what fits of one attempt: trim its body, or answer it with a throttle."""

        def cost(item: dict[str, Any]) -> tuple[str, int]:
            return item[KEY]["S"], write_units(item_size(item))

        body = json.loads(request.body)
        if "Item" in body:  # PutItem
            if body["TableName"] != self.table_name:
                return None
            return None if self.admit([cost(body["Item"])]) else _throttled_response(request)
        requests = body["RequestItems"].get(self.table_name)
        if not requests:
            return None
        # A delete is charged by its key here (DynamoDB charges the deleted item's size).
        fitting = self.admit(
            [
                cost(r["PutRequest"]["Item"] if "PutRequest" in r else r["DeleteRequest"]["Key"])
                for r in requests
            ]
        )
        if fitting == 0:
            return _throttled_response(request)
        if fitting < len(requests):
            body["RequestItems"][self.table_name] = requests[:fitting]
            request.body = json.dumps(body).encode()
            request.headers["Content-Length"] = str(len(request.body))
            self._unprocessed.items = requests[fitting:]
        return None

    def _after(self, parsed: dict[str, Any], **_: Any) -> None:
        rest = getattr(self._unprocessed, "items", None)
        self._unprocessed.items = None
        if rest and "Error" not in parsed:
            unprocessed = parsed.setdefault("UnprocessedItems", {})
            unprocessed.setdefault(self.table_name, []).extend(rest)


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


def _throttled_response(request: Any) -> AWSResponse:
    """DynamoDB's answer to a write over the table's capacity, as botocore receives it."""
    body = json.dumps(
        {
            "__type": f"com.amazonaws.dynamodb.v20120810#{THROTTLE}",
            "message": "The level of configured provisioned throughput for the table was "
            "exceeded. Consider increasing your provisioning level with the UpdateTable API.",
        }
    ).encode()
    headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "bench"}
    return AWSResponse(request.url, 400, headers, _Body(body))


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
    """The WCU DynamoDB charges for the item this body becomes, by its documented rules."""
    from sqs_blueprint.upsert import parse_body, to_item

    item = to_item(parse_body(body), KEY_FIELDS)
    return write_units(item_size({k: _SERIALIZER.serialize(v) for k, v in item.items()}))


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


Consumer = Callable[[Queue, Any, ProvisionedTable, set[int]], int]


def _throttled(error: Exception) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(error, ClientError) and error.response["Error"]["Code"] == THROTTLE


def blueprint_consumer(plan: WriteBufferPlan) -> Consumer:
    """One concurrent invocation: the project's WriteBuffer, paced to the plan's budget."""

    def run(queue: Queue, dynamodb: Any, _: ProvisionedTable, deleted: set[int]) -> int:
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


def batch_writer_consumer(plan: WriteBufferPlan) -> Consumer:
    """The same batches through boto3's ``Table.batch_writer(overwrite_by_pkeys=["pk"])``.

    The writer sends 25 items a request and re-sends unprocessed items with the
    next request, without a pause; a request still throttled after the SDK's
    retries raises out of it, and the whole batch is written again after a fixed
    sleep (its puts are idempotent).
    """

    def run(queue: Queue, _: Any, table_model: ProvisionedTable, deleted: set[int]) -> int:
        import boto3

        from sqs_blueprint.upsert import parse_body, to_item

        resource = boto3.resource("dynamodb")
        table_model.attach(resource.meta.client)
        table = resource.Table(TABLE)
        while messages := queue.receive(plan.batch_size):
            items = [to_item(parse_body(m["Body"]), KEY_FIELDS) for m in messages]
            while True:
                try:
                    with table.batch_writer(overwrite_by_pkeys=[KEY]) as writer:
                        for item in items:
                            writer.put_item(Item=item)
                    break
                except Exception as error:
                    if not _throttled(error):
                        raise
                    time.sleep(NAIVE_BACKOFF_S)
            queue.delete([m["ReceiptHandle"] for m in messages])
            deleted.update(json.loads(m["Body"])["id"] for m in messages)
        return 0

    return run


def naive_consumer(plan: WriteBufferPlan) -> Consumer:
    """The same batches, one PutItem per record, no pacing, a fixed sleep after a throttle."""

    def run(queue: Queue, dynamodb: Any, _: ProvisionedTable, deleted: set[int]) -> int:
        from sqs_blueprint.upsert import parse_body, to_item

        while messages := queue.receive(plan.batch_size):
            for m in messages:
                item = to_item(parse_body(m["Body"]), KEY_FIELDS)
                wire = {k: _SERIALIZER.serialize(v) for k, v in item.items()}
                while True:
                    try:
                        dynamodb.put_item(TableName=TABLE, Item=wire)
                        break
                    except Exception as error:
                        if not _throttled(error):
                            raise
                        time.sleep(NAIVE_BACKOFF_S)
            queue.delete([m["ReceiptHandle"] for m in messages])
            deleted.update(json.loads(m["Body"])["id"] for m in messages)
        return 0

    return run


def drain(
    name: str,
    make_consumer: Callable[[WriteBufferPlan], Consumer],
    *,
    messages: int = MESSAGES,
    wcu: int = WCU,
    item_kb: float = ITEM_KB,
    batch_size: int = BATCH_SIZE,
    batching_window_s: float = BATCHING_WINDOW_S,
) -> DrainResult:
    """Fill a queue with ``messages`` records and drain it into a table of ``wcu``."""
    import boto3

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
        lock = threading.Lock()
        deleted: set[int] = set()
        failures: list[int] = []
        errors: list[BaseException] = []
        consumer = make_consumer(plan)

        table = ProvisionedTable(TABLE, wcu)  # empty now: the drain starts with the table
        table.attach(dynamodb)

        def thread() -> None:
            try:
                queue = Queue(sqs, url, lock)
                failures.append(consumer(queue, dynamodb, table, deleted))
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
    ("consumer", 52),
    ("msgs", 5),
    ("drain s", 8),
    ("ideal s", 8),
    ("ratio", 6),
    ("reqs", 6),
    ("reqs/rec", 9),
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
        f"{t.requests / r.messages:.3f}",
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
        "(token bucket starting empty, refilled at the provisioned rate, 1 s capacity, "
        f"no burst); plan: {plan.max_concurrency} concurrent consumers, "
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
        (
            f"boto3 batch_writer(overwrite_by_pkeys), {NAIVE_BACKOFF_S:g} s retry",
            batch_writer_consumer,
            False,
        ),
        (f"PutItem per record, {NAIVE_BACKOFF_S:g} s retry", naive_consumer, False),
    ):
        result = drain(name, make)
        results.append((result, paced))
        print(row(result))
    print()
    for result, paced in results:
        print(verdict(result, paced=paced))
    print(
        "reqs/rec: requests per unique record (every record is unique here); "
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
