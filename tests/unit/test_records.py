"""One record model from Lambda events and ReceiveMessage messages."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from sqs_blueprint.payload import PayloadError, PayloadStore, S3Pointer, wrap_receipt_handle
from sqs_blueprint.records import Record, records_from_event, split_event, split_messages
from tests.unit.s3_faults import fail_get_object

ARN = "arn:aws:sqs:us-east-1:123456789012:q"


def lambda_record(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "messageId": "m-1",
        "receiptHandle": "rh-1",
        "body": '{"a": 1}',
        "attributes": {
            "ApproximateReceiveCount": "3",
            "SentTimestamp": "1700000000123",
            "MessageGroupId": "g",
            "MessageDeduplicationId": "d",
        },
        "messageAttributes": {
            "s": {
                "stringValue": "v",
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "String",
            },
            "b": {"binaryValue": base64.b64encode(b"\x00\x01").decode(), "dataType": "Binary"},
        },
        "md5OfBody": "x",
        "eventSource": "aws:sqs",
        "eventSourceARN": ARN,
        "awsRegion": "us-east-1",
    }
    record.update(overrides)
    return record


def test_from_lambda_normalizes_everything() -> None:
    rec = Record.from_lambda(lambda_record())
    assert rec.message_id == "m-1"
    assert rec.receipt_handle == "rh-1"
    assert rec.body == '{"a": 1}'
    assert rec.message_attributes == {
        "s": {"DataType": "String", "StringValue": "v"},
        "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    }
    assert rec.receive_count == 3
    assert rec.group_id == "g"
    assert rec.deduplication_id == "d"
    assert rec.sent_at == datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)
    assert rec.source == ARN
    assert not rec.offloaded


def test_from_sqs_matches_from_lambda() -> None:
    message = {
        "MessageId": "m-1",
        "ReceiptHandle": "rh-1",
        "Body": '{"a": 1}',
        "Attributes": {"ApproximateReceiveCount": "1"},
        "MessageAttributes": {"s": {"DataType": "String", "StringValue": "v"}},
    }
    rec = Record.from_sqs(message, queue_url="https://q")
    assert (rec.body, rec.receive_count, rec.group_id, rec.sent_at) == ('{"a": 1}', 1, None, None)
    assert rec.message_attributes == {"s": {"DataType": "String", "StringValue": "v"}}
    assert rec.source == "https://q"


def test_offloaded_record_without_resolver_is_refused() -> None:
    raw = lambda_record(
        body=S3Pointer("bkt", "k").body(),
        messageAttributes={"ExtendedPayloadSize": {"stringValue": "5", "dataType": "Number"}},
    )
    with pytest.raises(PayloadError, match="m-1 is offloaded to S3; build its record with"):
        Record.from_lambda(raw)


def test_offloaded_record_is_resolved_and_handle_unwrapped(aws: None) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key="k", Body=b"big body")
    message = {
        "MessageId": "m-2",
        "ReceiptHandle": wrap_receipt_handle("real-rh", S3Pointer("bkt", "k")),
        "Body": S3Pointer("bkt", "k").body(),
        "MessageAttributes": {"SQSLargePayloadSize": {"DataType": "Number", "StringValue": "8"}},
    }
    rec = Record.from_sqs(message, resolver=PayloadStore("bkt", s3_client=s3))
    assert (rec.body, rec.receipt_handle, rec.message_attributes) == ("big body", "real-rh", {})
    assert rec.offloaded and rec.pointer == S3Pointer("bkt", "k")


def test_records_from_event_and_split_event(aws: None) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="bkt")
    gone = lambda_record(
        messageId="m-2",
        body=S3Pointer("bkt", "gone").body(),
        messageAttributes={"ExtendedPayloadSize": {"stringValue": "5", "dataType": "Number"}},
    )
    event = {"Records": [lambda_record(), gone]}
    store = PayloadStore("bkt", s3_client=s3)
    records, failed = split_event(event, store)
    assert [r.message_id for r in records] == ["m-1"]
    assert failed["m-2"].startswith("PayloadNotFound: payload s3://bkt/gone does not exist")
    assert [r.message_id for r in records_from_event({"Records": [lambda_record()]})] == ["m-1"]


def _offloaded(message_id: str, key: str, size: str = "2") -> dict[str, Any]:
    return lambda_record(
        messageId=message_id,
        body=S3Pointer("bkt", key).body(),
        messageAttributes={"ExtendedPayloadSize": {"stringValue": size, "dataType": "Number"}},
    )


def test_any_error_building_one_record_fails_it_alone(aws: None) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="bkt")
    for key in ("denied", "flaky", "slow", "ok"):
        s3.put_object(Bucket="bkt", Key=key, Body=b"{}")
    fail_get_object(s3, "denied", "AccessDenied")
    fail_get_object(s3, "flaky", "InternalError")
    fail_get_object(s3, "slow", "SlowDown")
    nested = lambda_record(
        messageId="nested",
        body="[" * 100_000 + "]" * 100_000,
        messageAttributes={"ExtendedPayloadSize": {"stringValue": "2", "dataType": "Number"}},
    )
    broken = lambda_record(messageId="binary", messageAttributes={"b": {"binaryValue": "abc"}})
    event = {
        "Records": [
            lambda_record(messageId="inline"),
            _offloaded("denied", "denied"),
            _offloaded("flaky", "flaky"),
            _offloaded("slow", "slow"),
            nested,
            _offloaded("forged", "ok", size="1.5"),
            broken,
            _offloaded("offloaded", "ok"),
        ]
    }
    records, failed = split_event(event, PayloadStore("bkt", s3_client=s3))
    assert [(r.message_id, r.body) for r in records] == [
        ("inline", '{"a": 1}'),
        ("offloaded", "{}"),
    ]
    assert sorted(failed) == ["binary", "denied", "flaky", "forged", "nested", "slow"]
    assert failed["denied"].startswith("PayloadUnavailable: payload s3://bkt/denied could not")
    assert failed["slow"].endswith("transient: the message returns to the queue and is retried")
    assert failed["nested"].startswith("PayloadError: body is not an S3 payload pointer")
    assert failed["forged"].startswith("PayloadError: message attribute ExtendedPayloadSize='1.5'")
    assert failed["binary"] == "Error: Incorrect padding"  # binascii: not base64


def test_split_messages_builds_receive_message_results(aws: None) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key="k", Body=b"big")
    fail_get_object(s3, "k", "AccessDenied")
    pointer = {
        "MessageId": "m-2",
        "ReceiptHandle": "rh-2",
        "Body": S3Pointer("bkt", "k").body(),
        "MessageAttributes": {"ExtendedPayloadSize": {"DataType": "Number", "StringValue": "3"}},
    }
    plain = {"MessageId": "m-1", "ReceiptHandle": "rh-1", "Body": "x"}
    records, failed = split_messages(
        [plain, pointer], queue_url="https://q", resolver=PayloadStore("bkt", s3_client=s3)
    )
    assert [(r.message_id, r.source) for r in records] == [("m-1", "https://q")]
    assert list(failed) == ["m-2"] and "AccessDenied: Access Denied" in failed["m-2"]
