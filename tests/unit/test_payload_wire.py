"""The Extended Client's wire format, byte for byte, with its names spelled out
(docs/aws-facts.md#extended-client-wire-format), and what SQS counts of a message."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest

from sqs_blueprint.errors import UsageError
from sqs_blueprint.payload import (
    PayloadError,
    PayloadOversized,
    PayloadStore,
    S3Pointer,
    attributes_size,
    declared_size,
    is_offloaded,
    message_size,
    parse_pointer,
    unwrap_receipt_handle,
    wrap_receipt_handle,
)

POINTER_CLASS = "software.amazon.payloadoffloading.PayloadS3Pointer"
LEGACY_POINTER_CLASS = "com.amazon.sqs.javamessaging.MessageS3Pointer"
SIZE = "ExtendedPayloadSize"
LEGACY_SIZE = "SQSLargePayloadSize"
BUCKET = "payloads"


@pytest.fixture
def s3(aws: None) -> Any:
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def test_pointer_bodies_as_the_python_client_writes_them() -> None:
    pointer = S3Pointer("b", "k/1")
    assert pointer.body() == f'["{POINTER_CLASS}", {{"s3BucketName": "b", "s3Key": "k/1"}}]'
    assert pointer.body(legacy=True) == (
        f'["{LEGACY_POINTER_CLASS}", {{"s3BucketName": "b", "s3Key": "k/1"}}]'
    )


@pytest.mark.parametrize(
    "body",
    [
        f'["{POINTER_CLASS}", {{"s3BucketName": "", "s3Key": "k"}}]',
        f'["{POINTER_CLASS}", {{"s3BucketName": "b", "s3Key": ""}}]',
        f'["{POINTER_CLASS}", {{"s3BucketName": 1, "s3Key": "k"}}]',
        f'["{POINTER_CLASS}", {{"s3BucketName": "b", "s3Key": 2}}]',
        f'["{POINTER_CLASS}", {{"s3Key": "k"}}]',
        f'["{POINTER_CLASS}", ["b", "k"]]',
        f'["{POINTER_CLASS}", {{"s3BucketName": "b", "s3Key": "k"}}, 3]',
        f'{{"{POINTER_CLASS}": {{"s3BucketName": "b", "s3Key": "k"}}}}',
        f'["{POINTER_CLASS.upper()}", {{"s3BucketName": "b", "s3Key": "k"}}]',
        "[" * 100_000,
    ],
)
def test_near_pointers_are_not_pointers(body: str) -> None:
    with pytest.raises(PayloadError, match="body is not an S3 payload pointer: expected "):
        parse_pointer(body)


def test_the_size_attribute_in_either_spelling_marks_an_offloaded_message() -> None:
    number = {"DataType": "Number", "StringValue": "5"}
    assert is_offloaded({SIZE: number})
    assert is_offloaded({LEGACY_SIZE: number})
    assert not is_offloaded({"Other": number})
    assert not is_offloaded({})
    assert declared_size({SIZE: number}) == 5
    assert declared_size({LEGACY_SIZE: {"DataType": "Number", "StringValue": "7"}}) == 7
    assert declared_size({SIZE: {"DataType": "Number"}}) is None
    assert declared_size({}) is None


@pytest.mark.parametrize("raw", ["1.5", "-1", "1e3", "٣", " 3", ""])
def test_a_size_that_is_not_a_byte_count_is_refused(raw: str) -> None:
    with pytest.raises(PayloadError, match=f"message attribute {SIZE}="):
        declared_size({SIZE: {"DataType": "Number", "StringValue": raw}})


def test_what_sqs_counts_name_type_and_value() -> None:
    attributes: dict[str, dict[str, Any]] = {
        "é": {"DataType": "String", "StringValue": "ü"},  # 2 + 6 + 2
        "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01\x02"},  # 1 + 6 + 3
        "n": {"DataType": "Number.int", "StringValue": "12"},  # 1 + 10 + 2
    }
    assert attributes_size(attributes) == 10 + 10 + 13
    assert message_size("héllo", attributes) == 6 + 33
    assert message_size("héllo") == 6
    assert attributes_size({"e": {"DataType": "String"}}) == 1 + 6


def test_receipt_handles_wrapped_as_the_official_clients_do() -> None:
    wrapped = wrap_receipt_handle("AQEB", S3Pointer("bkt", "key"))
    assert wrapped == "-..s3BucketName..-bkt-..s3BucketName..--..s3Key..-key-..s3Key..-AQEB"
    assert unwrap_receipt_handle(wrapped) == "AQEB"
    once = "-..s3BucketName..-bkt-..s3BucketName..--..s3Key..-key"  # one key marker only
    assert unwrap_receipt_handle(once) == once
    assert unwrap_receipt_handle("-..s3Key..-k-..s3Key..-AQEB") == "-..s3Key..-k-..s3Key..-AQEB"


def test_offload_writes_the_body_and_the_size_in_utf8_bytes(s3: Any) -> None:
    store = PayloadStore(BUCKET, s3_client=s3, threshold=4, key_prefix="in/")
    sent = store.offload("héllo")  # 6 bytes, over 4
    assert sent.pointer is not None
    assert sent.pointer.bucket == BUCKET
    assert sent.pointer.key.startswith("in/")
    assert json.loads(sent.body) == [
        POINTER_CLASS,
        {"s3BucketName": BUCKET, "s3Key": sent.pointer.key},
    ]
    assert sent.message_attributes == {SIZE: {"DataType": "Number", "StringValue": "6"}}
    stored = s3.get_object(Bucket=BUCKET, Key=sent.pointer.key)["Body"].read()
    assert stored == "héllo".encode()
    assert store.offload("hé").offloaded is False  # 3 bytes: at most 4 stays inline
    assert store.offload("héy").offloaded is False  # exactly 4
    got = store.resolve(sent.body, sent.message_attributes)
    assert (got.body, got.message_attributes, got.pointer) == ("héllo", {}, sent.pointer)


def test_an_offloaded_message_keeps_nine_attributes(s3: Any) -> None:
    nine = {f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(9)}
    sent = PayloadStore(BUCKET, s3_client=s3, always=True).offload("x", nine)
    assert set(sent.message_attributes) == {*nine, SIZE}


def test_the_reader_stops_at_its_maximum(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="big", Body=b"x" * 11)
    s3.put_object(Bucket=BUCKET, Key="fits", Body=b"x" * 10)
    reader = PayloadStore(BUCKET, s3_client=s3, max_payload_bytes=10)
    assert reader.fetch(S3Pointer(BUCKET, "fits")) == "x" * 10
    with pytest.raises(PayloadOversized, match="over this reader's maximum of 10 bytes"):
        reader.fetch(S3Pointer(BUCKET, "big"))
    assert reader.fetch(S3Pointer(BUCKET, "fits"), declared_size=10) == "x" * 10
    with pytest.raises(PayloadOversized, match=f"over its pointer's declared {SIZE} of 9 bytes"):
        reader.fetch(S3Pointer(BUCKET, "fits"), declared_size=9)


def test_the_reader_maximum_defaults_to_64_mib(s3: Any) -> None:
    assert PayloadStore(BUCKET, s3_client=s3).max_payload_bytes == 67_108_864
    with pytest.raises(ValueError) as raised:
        PayloadStore(BUCKET, s3_client=s3, max_payload_bytes=0)
    assert str(raised.value) == (
        "max_payload_bytes must be at least 1 byte, got 0; the default is 67,108,864"
    )


def test_an_attribute_without_a_data_type_counts_its_name_and_value() -> None:
    assert attributes_size({"e": {"StringValue": "v"}}) == 2
    assert attributes_size({"e": {"StringValue": None, "BinaryValue": b"ab"}}) == 3


def test_the_limits_of_a_store_are_inclusive(s3: Any) -> None:
    assert PayloadStore(BUCKET, s3_client=s3, max_payload_bytes=1).max_payload_bytes == 1
    assert PayloadStore(BUCKET, s3_client=s3, threshold=0).threshold == 0
    assert PayloadStore(BUCKET, s3_client=s3, threshold=1_048_576).threshold == 1_048_576
    with pytest.raises(UsageError, match="threshold must be between 0 and 1,048,576 bytes"):
        PayloadStore(BUCKET, s3_client=s3, threshold=1_048_577)


def test_a_zero_threshold_offloads_any_body(s3: Any) -> None:
    store = PayloadStore(BUCKET, s3_client=s3, threshold=0)
    assert store.needs_offload("x") is True
    assert store.needs_offload("") is False  # 0 bytes is not over 0


def test_the_queue_threshold_leaves_offloading_to_the_sender(s3: Any) -> None:
    store = PayloadStore(BUCKET, s3_client=s3, threshold="queue")
    assert store.needs_offload("x" * 2_000_000) is False
    assert store.offload("x", force=True).offloaded is True


def test_keys_are_bare_uuids_unless_a_prefix_is_given(s3: Any) -> None:
    sent = PayloadStore(BUCKET, s3_client=s3, always=True).offload("x")
    assert sent.pointer is not None
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", sent.pointer.key
    )


def test_a_store_without_a_client_makes_its_own(s3: Any) -> None:
    sent = PayloadStore(BUCKET, always=True).offload("x")
    assert sent.pointer is not None
    assert s3.get_object(Bucket=BUCKET, Key=sent.pointer.key)["Body"].read() == b"x"


def test_a_declared_size_at_the_maximum_is_refused_by_the_maximum(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="big", Body=b"x" * 11)
    reader = PayloadStore(BUCKET, s3_client=s3, max_payload_bytes=10)
    with pytest.raises(PayloadOversized, match="over this reader's maximum of 10 bytes"):
        reader.fetch(S3Pointer(BUCKET, "big"), declared_size=10)
