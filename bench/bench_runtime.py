"""Requests and WCU per message: our runtime against the common alternatives, on moto.

Requests are counted with a botocore hook on every call; WCU is computed from
each write request's items by DynamoDB's documented size rules in the local
cloud's meter (:mod:`sqs_blueprint.local.meter`, docs/aws-facts.md#dynamodb),
not by the library under test, since moto does not meter capacity. Conditional
writes that fail are charged too, as DynamoDB charges them.

The rivals: one PutItem per record; boto3's
``Table.batch_writer(overwrite_by_pkeys=["pk"])`` (batched, duplicates dropped
only within its 25-item buffer); and Powertools' Idempotency utility around a
PutItem, which is per-record idempotency (a record store), not batching.
"""

from __future__ import annotations

import json
import os
import random
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from botocore.exceptions import ClientError

from sqs_blueprint.local.meter import attribute_size, item_size, write_units

RECORDS = 1_000
DUPLICATE_SHARE = 0.10
SMALL_MESSAGES = 1_000


def _workload(seed: int = 7) -> list[str]:
    """1,000 JSON records, 10% of them repeats of earlier ones, shuffled."""
    rnd = random.Random(seed)
    unique = [
        {
            "id": i,
            "customer": f"c-{rnd.randrange(10_000)}",
            "amount": round(rnd.random() * 100, 2),
            "note": "x" * 200,
        }
        for i in range(int(RECORDS * (1 - DUPLICATE_SHARE)))
    ]
    bodies = [json.dumps(u) for u in unique]
    bodies += [json.dumps(rnd.choice(unique)) for _ in range(RECORDS - len(unique))]
    rnd.shuffle(bodies)
    return bodies


class Meter:
    """Counts requests per operation, and the WCU of DynamoDB write requests."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.wcu = 0
        self.not_sent = 0  # messages a sender did not send (failed entries or refused batches)
        self.note = ""  # how they were not sent

    def attach(self, client: Any) -> Any:
        # Last, so that boto3's resource layer has turned Python values into AttributeValues.
        client.meta.events.register_last("before-parameter-build", self._count)
        return client

    def _count(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.requests[model.name] += 1
        if model.name == "BatchWriteItem":
            for requests in params["RequestItems"].values():
                for r in requests:
                    self.wcu += write_units(item_size(r["PutRequest"]["Item"]))
        elif model.name == "PutItem":
            self.wcu += write_units(item_size(params["Item"]))
        elif model.name == "UpdateItem":  # sized by its key and the values it sets
            size = item_size(params["Key"])
            values = params.get("ExpressionAttributeValues", {}).values()
            size += sum(attribute_size(v) for v in values)
            size += sum(len(n) for n in params.get("ExpressionAttributeNames", {}).values())
            self.wcu += write_units(size)

    @property
    def total(self) -> int:
        return sum(self.requests.values())


@contextmanager
def _cloud() -> Iterator[None]:
    from moto import mock_aws

    env = {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }
    with mock.patch.dict(os.environ, env), mock_aws():
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
            os.environ.pop(name, None)
        yield


def _table(client: Any, name: str, key: str) -> None:
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _ours(bodies: list[str], batch: int) -> Meter:
    import boto3

    from sqs_blueprint.records import Record
    from sqs_blueprint.upsert import Upserter, write_records

    meter = Meter()
    client = meter.attach(boto3.client("dynamodb"))
    _table(client, "items", "pk")
    meter.requests.clear()
    upserter = Upserter("items", dynamodb_client=client)
    records = [Record(str(i), "rh", body) for i, body in enumerate(bodies)]
    for start in range(0, len(records), batch):
        outcome = write_records(
            records[start : start + batch], upserter=upserter, key_fields=["id"]
        )
        assert not outcome.failed, outcome.failed
    return meter


def _put_each(bodies: list[str]) -> Meter:
    import boto3
    from boto3.dynamodb.types import TypeSerializer

    from sqs_blueprint.upsert import parse_body, to_item

    meter = Meter()
    client = meter.attach(boto3.client("dynamodb"))
    _table(client, "items", "pk")
    meter.requests.clear()
    ser = TypeSerializer()
    for body in bodies:
        item = to_item(parse_body(body), ["id"])
        client.put_item(TableName="items", Item={k: ser.serialize(v) for k, v in item.items()})
    return meter


def _batch_writer(bodies: list[str]) -> Meter:
    import boto3

    from sqs_blueprint.upsert import parse_body, to_item

    meter = Meter()
    resource = boto3.resource("dynamodb")
    client = meter.attach(resource.meta.client)
    _table(client, "items", "pk")
    meter.requests.clear()
    with resource.Table("items").batch_writer(overwrite_by_pkeys=["pk"]) as writer:
        for body in bodies:
            writer.put_item(Item=to_item(parse_body(body), ["id"]))
    return meter


def _powertools(bodies: list[str]) -> Meter:
    import boto3
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )
    from boto3.dynamodb.types import TypeSerializer

    from sqs_blueprint.upsert import to_item

    meter = Meter()
    client = meter.attach(boto3.client("dynamodb"))
    _table(client, "items", "pk")
    _table(client, "idempotency", "id")
    meter.requests.clear()
    ser = TypeSerializer()
    layer = DynamoDBPersistenceLayer(table_name="idempotency", boto3_client=client)
    config = IdempotencyConfig(event_key_jmespath="id")

    # Powertools' decorator is not annotated.
    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="record", persistence_store=layer, config=config
    )
    def handle(record: dict[str, Any]) -> None:
        item = to_item(record, ["id"])
        client.put_item(TableName="items", Item={k: ser.serialize(v) for k, v in item.items()})

    with warnings.catch_warnings():  # no Lambda context outside Lambda: expected
        warnings.simplefilter("ignore", UserWarning)
        for body in bodies:
            handle(record=json.loads(body))
    return meter


def _sqs_ours(bodies: list[str], store: bool) -> Meter:
    import boto3

    from sqs_blueprint.payload import PayloadStore
    from sqs_blueprint.producer import Producer

    meter = Meter()
    sqs, s3 = meter.attach(boto3.client("sqs")), meter.attach(boto3.client("s3"))
    s3.create_bucket(Bucket="payloads")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    meter.requests.clear()
    payloads = PayloadStore("payloads", s3_client=s3) if store else None
    result = Producer(url, sqs_client=sqs, payloads=payloads).send_many(bodies)
    meter.not_sent = len(result.failed)
    if result.failed:
        meter.note = f"{len(result.failed)} reported failed"
    return meter


def _sqs_each(bodies: list[str]) -> Meter:
    import boto3

    meter = Meter()
    sqs = meter.attach(boto3.client("sqs"))
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    meter.requests.clear()
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    return meter


def _sqs_official(bodies: list[str], batch: bool) -> Meter:
    import boto3
    import boto3.session

    saved = (boto3.session.Session, boto3.Session, boto3.DEFAULT_SESSION)
    try:  # importing the package patches boto3 process-wide; undo that
        from sqs_extended_client.client import SQSExtendedClientSession
    finally:
        boto3.session.Session, boto3.Session, boto3.DEFAULT_SESSION = saved

    meter = Meter()
    boto3.client("s3").create_bucket(Bucket="payloads")
    session = SQSExtendedClientSession()  # type: ignore[no-untyped-call]  # not annotated
    sqs = meter.attach(session.client("sqs"))
    meter.attach(sqs.s3_client)
    sqs.large_payload_support = "payloads"
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    meter.requests.clear()
    failed = refused = 0
    reasons: set[str] = set()
    if batch:
        for start in range(0, len(bodies), 10):
            entries = [
                {"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])
            ]
            try:
                failed += len(
                    sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed", [])
                )
            except ClientError as error:  # the whole batch is refused and raised to the caller
                refused += len(entries)
                reasons.add(error.response["Error"]["Code"])
    else:
        for body in bodies:
            sqs.send_message(QueueUrl=url, MessageBody=body)
    meter.not_sent = failed + refused
    notes = [f"{failed} reported failed"] if failed else []
    if refused:
        notes.append(f"batch refused ({', '.join(sorted(reasons))}), {refused} not sent")
    meter.note = "; ".join(notes)
    return meter


def _row(name: str, meter: Meter, per: int, wcu: bool = True) -> str:
    ops = ", ".join(f"{op} {n}" for op, n in sorted(meter.requests.items()))
    cells = f"{meter.total:>6} {meter.total / per:>9.3f}"
    if wcu:
        cells += f" {meter.wcu:>6} {meter.wcu / per:>8.2f}"
    else:
        cells += f" {meter.not_sent:>8}"
    note = f"   [{meter.note}]" if meter.note else ""
    return f"{name:<50} {cells}   {ops}{note}"


def _run(
    title: str, header: str, rows: list[tuple[str, Callable[[], Meter], int]], wcu: bool
) -> None:
    print(title)
    print(header)
    for name, run, per in rows:
        with _cloud():
            started = time.perf_counter()
            meter = run()
            print(_row(name, meter, per, wcu), f"({time.perf_counter() - started:.1f} s on moto)")
    print()


def main() -> None:
    bodies = _workload()
    unique = len(set(bodies))
    _run(
        f"DynamoDB: {RECORDS:,} JSON records, {DUPLICATE_SHARE:.0%} duplicates ({unique} unique);"
        " per unique record",
        f"{'writer':<50} {'reqs':>6} {'reqs/rec':>9} {'WCU':>6} {'WCU/rec':>8}   requests",
        [
            ("sqs_blueprint upsert, batches of 1,000", lambda: _ours(bodies, 1_000), unique),
            ("sqs_blueprint upsert, batches of 100", lambda: _ours(bodies, 100), unique),
            ("sqs_blueprint upsert, batches of 10", lambda: _ours(bodies, 10), unique),
            ("one PutItem per record", lambda: _put_each(bodies), unique),
            (
                "boto3 batch_writer(overwrite_by_pkeys=['pk'])",
                lambda: _batch_writer(bodies),
                unique,
            ),
            (
                "Powertools Idempotency + PutItem (per record)",
                lambda: _powertools(bodies),
                unique,
            ),
        ],
        wcu=True,
    )
    small = [json.dumps({"id": i, "note": "x" * 100}) for i in range(SMALL_MESSAGES)]
    big = ["y" * 300_000 for _ in range(20)]
    mid = ["z" * 200_000 for _ in range(20)]
    header = f"{'sender':<50} {'reqs':>6} {'reqs/msg':>9} {'not sent':>8}   requests"
    _run(
        f"SQS: {SMALL_MESSAGES:,} small messages; per message",
        header,
        [
            ("sqs_blueprint Producer", lambda: _sqs_ours(small, False), SMALL_MESSAGES),
            ("one SendMessage per message", lambda: _sqs_each(small), SMALL_MESSAGES),
            (
                "official Extended Client, send_message",
                lambda: _sqs_official(small, False),
                SMALL_MESSAGES,
            ),
            (
                "official Extended Client, batches of 10",
                lambda: _sqs_official(small, True),
                SMALL_MESSAGES,
            ),
        ],
        wcu=False,
    )
    _run(
        "SQS: 20 messages of 300 KB (offloaded to S3); per message",
        header,
        [
            ("sqs_blueprint Producer + PayloadStore", lambda: _sqs_ours(big, True), len(big)),
            ("official Extended Client, batches of 10", lambda: _sqs_official(big, True), len(big)),
        ],
        wcu=False,
    )
    _run(
        "SQS: 20 messages of 200 KB (inline, under the threshold); per message",
        header,
        [
            ("sqs_blueprint Producer + PayloadStore", lambda: _sqs_ours(mid, True), len(mid)),
            ("official Extended Client, batches of 10", lambda: _sqs_official(mid, True), len(mid)),
        ],
        wcu=False,
    )


if __name__ == "__main__":
    main()
