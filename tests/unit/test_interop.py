"""Interop with AWS's official Extended Client (amazon-sqs-extended-client) on moto, both ways."""

from __future__ import annotations

import base64
from typing import Any

import boto3
import boto3.session
import pytest

from sqs_blueprint.payload import PayloadStore
from sqs_blueprint.producer import Message, Producer
from sqs_blueprint.records import Record


def _import_official() -> Any:
    """Import the official client, undoing the process-wide patch its package applies on import.

    ``import sqs_extended_client`` replaces ``boto3.Session`` and the default session,
    which would change every other test's clients; we only use its session class.
    """
    saved = (boto3.session.Session, boto3.Session, boto3.DEFAULT_SESSION)
    try:
        from sqs_extended_client.client import SQSExtendedClientSession
    finally:
        boto3.session.Session, boto3.Session, boto3.DEFAULT_SESSION = saved
    return SQSExtendedClientSession


SQSExtendedClientSession = _import_official()
BUCKET = "payloads"
# 280,000 bytes: over the 262,144 threshold (docs/aws-facts.md#extended-client-wire-format)
BIG = "ü" * 140_000
ATTRS = {"kind": {"DataType": "String", "StringValue": "order"}}


@pytest.fixture
def env(aws: None) -> tuple[Any, Any, str]:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    sqs = boto3.client("sqs")
    return s3, sqs, sqs.create_queue(QueueName="q")["QueueUrl"]


def official(legacy: bool) -> Any:
    client = SQSExtendedClientSession().client("sqs")
    client.large_payload_support = BUCKET
    client.use_legacy_attribute = legacy
    return client


def to_lambda(message: dict[str, Any]) -> dict[str, Any]:
    """A ReceiveMessage message in the Lambda event shape
    (docs/aws-facts.md#lambda-event-source-mapping)."""
    attrs = {}
    for name, attr in message.get("MessageAttributes", {}).items():
        value = {"dataType": attr["DataType"], "stringListValues": [], "binaryListValues": []}
        if "StringValue" in attr:
            value["stringValue"] = attr["StringValue"]
        else:
            value["binaryValue"] = base64.b64encode(attr["BinaryValue"]).decode()
        attrs[name] = value
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": attrs,
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
    }


@pytest.mark.parametrize("legacy", [False, True])
def test_our_producer_to_official_consumer(env: tuple[Any, Any, str], legacy: bool) -> None:
    s3, sqs, url = env
    store = PayloadStore(BUCKET, s3_client=s3, legacy=legacy)
    result = Producer(url, sqs_client=sqs, payloads=store).send_many(
        [Message(BIG, ATTRS), Message("small", ATTRS)]
    )
    assert [s.offloaded for s in result.sent] == [True, False]
    consumer = official(legacy)
    messages = consumer.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["kind"]
    )["Messages"]
    assert sorted(m["Body"] for m in messages) == sorted([BIG, "small"])
    assert all(m["MessageAttributes"] == ATTRS for m in messages)
    for m in messages:  # the official client's wrapped receipt handles still delete
        consumer.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)


@pytest.mark.parametrize("legacy", [False, True])
@pytest.mark.parametrize("batch", [False, True])
def test_official_producer_to_our_records(
    env: tuple[Any, Any, str], legacy: bool, batch: bool
) -> None:
    s3, sqs, url = env
    producer = official(legacy)
    if batch:
        entries = [
            {"Id": "0", "MessageBody": BIG, "MessageAttributes": dict(ATTRS)},
            {"Id": "1", "MessageBody": "small", "MessageAttributes": dict(ATTRS)},
        ]
        producer.send_message_batch(QueueUrl=url, Entries=entries)
    else:
        producer.send_message(QueueUrl=url, MessageBody=BIG, MessageAttributes=dict(ATTRS))
        producer.send_message(QueueUrl=url, MessageBody="small", MessageAttributes=dict(ATTRS))
    store = PayloadStore(BUCKET, s3_client=s3)
    messages = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["All"]
    )["Messages"]
    reserved = "SQSLargePayloadSize" if legacy else "ExtendedPayloadSize"
    assert any(reserved in m.get("MessageAttributes", {}) for m in messages)
    for build in (
        lambda m: Record.from_sqs(m, queue_url=url, resolver=store),
        lambda m: Record.from_lambda(to_lambda(m), resolver=store),
    ):
        records = {r.body: r for r in map(build, messages)}
        assert set(records) == {BIG, "small"}
        assert records[BIG].offloaded and not records["small"].offloaded
        assert all(r.message_attributes == ATTRS for r in records.values())


def test_official_consumer_handles_unwrap_to_ours(env: tuple[Any, Any, str]) -> None:
    s3, sqs, url = env
    official(False).send_message(QueueUrl=url, MessageBody=BIG)
    message = official(False).receive_message(QueueUrl=url, WaitTimeSeconds=0)["Messages"][0]
    assert message["ReceiptHandle"].startswith("-..s3BucketName..-")
    record = Record.from_sqs(message, resolver=PayloadStore(BUCKET, s3_client=s3))
    assert record.body == BIG  # already resolved by the official client; nothing reserved left
    sqs.delete_message(QueueUrl=url, ReceiptHandle=record.receipt_handle)
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)


def test_identical_offloaded_bodies_deduplicate_unlike_the_official_client(aws: None) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    sqs = boto3.client("sqs")
    attrs = {"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    url = sqs.create_queue(QueueName="q.fifo", Attributes=attrs)["QueueUrl"]
    store = PayloadStore(BUCKET, s3_client=s3)
    ours = Producer(url, sqs_client=sqs, payloads=store)
    ours.send_many([Message(BIG, group_id="g"), Message(BIG, group_id="g")])
    theirs = official(False)
    for _ in range(2):
        theirs.send_message(QueueUrl=url, MessageBody=BIG, MessageGroupId="g")
    bodies = [
        m["Body"]
        for m in theirs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)[
            "Messages"
        ]
    ]
    assert len(bodies) == 3  # ours: 1; the official client's two pointers differ: 2


def test_plain_boto3_clients_stay_unpatched(aws: None) -> None:
    assert boto3.Session is boto3.session.Session is not SQSExtendedClientSession
    assert not hasattr(boto3.client("sqs"), "store_message_in_s3")


def test_pointer_written_at_the_queue_threshold_reads_everywhere(s3_sqs_small: Any) -> None:
    """threshold="queue" on a 2 KiB queue: what is over 2,048 bytes goes through S3 and both
    the official client and a default-threshold reader resolve it."""
    s3, sqs, url = s3_sqs_small
    store = PayloadStore(BUCKET, s3_client=s3, threshold="queue")
    over = "a" * (2_048 - 15 + 1)  # 2,049 bytes with ATTRS (4 + 6 + 5)
    result = Producer(url, sqs_client=sqs, payloads=store).send_many(
        [Message(over, ATTRS), Message("a" * (2_048 - 15), ATTRS)]
    )
    assert [s.offloaded for s in result.sent] == [True, False]
    consumer = official(False)
    messages = consumer.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["All"]
    )["Messages"]
    assert sorted(len(m["Body"]) for m in messages) == [2_033, 2_034]
    assert all(m["MessageAttributes"] == ATTRS for m in messages)
    for m in messages:  # make them visible again for our reader
        consumer.change_message_visibility(
            QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
        )
    raw = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["All"]
    )["Messages"]
    records = [
        Record.from_sqs(m, queue_url=url, resolver=PayloadStore(BUCKET, s3_client=s3)) for m in raw
    ]
    assert sorted((r.body, r.offloaded) for r in records) == sorted(
        [(over, True), ("a" * 2_033, False)]
    )


@pytest.fixture
def s3_sqs_small(aws: None) -> tuple[Any, Any, str]:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    sqs = boto3.client("sqs")
    attributes = {"MaximumMessageSize": "2048"}
    return s3, sqs, sqs.create_queue(QueueName="small", Attributes=attributes)["QueueUrl"]
