"""The consumers that race to drain the backlog, one thread per concurrent invocation.

The blueprint consumer runs the project's ``WriteBuffer`` paced to
``plan.budget_wcu_per_s``; the rivals are boto3's
``Table.batch_writer(overwrite_by_pkeys=["pk"])`` and one PutItem per record, both
unpaced and retried after a fixed sleep. Each takes batches from a :class:`Queue`
and deletes what was written, as the event-source mapping does.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from bench.drain.throttle import KEY, THROTTLE, ProvisionedTable
from sqs_blueprint.capacity import WriteBufferPlan

TABLE = "items"
KEY_FIELDS = ("id",)
MARGIN_S = 2.0  # the write-buffer handler stops retrying this long before the timeout
NAIVE_BACKOFF_S = 0.1
SERIALIZER = TypeSerializer()


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
                wire = {k: SERIALIZER.serialize(v) for k, v in item.items()}
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
