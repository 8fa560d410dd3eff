"""Large-payload pointers: FACTS §4 vectors, allow-list, missing objects, no mutation."""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import pytest

from sqs_blueprint.payload import (
    LEGACY_POINTER_CLASS,
    POINTER_CLASS,
    BucketNotAllowed,
    PayloadError,
    PayloadNotFound,
    PayloadStore,
    S3Pointer,
    message_size,
    parse_pointer,
    unwrap_receipt_handle,
    wrap_receipt_handle,
)

BUCKET = "payloads"


@pytest.fixture
def s3(aws: None) -> Any:
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def store(s3: Any) -> PayloadStore:
    return PayloadStore(BUCKET, s3_client=s3)


# FACTS §4 byte-exact vectors.
def test_threshold_vector_body_at_limit_stays_inline(store: PayloadStore) -> None:
    assert not store.offload("a" * 262_144).offloaded


def test_threshold_vector_one_byte_over_is_offloaded(store: PayloadStore, s3: Any) -> None:
    out = store.offload("a" * 262_145)
    assert out.offloaded
    assert out.message_attributes == {
        "ExtendedPayloadSize": {"DataType": "Number", "StringValue": "262145"}
    }
    obj = s3.get_object(Bucket=BUCKET, Key=out.pointer.key)["Body"].read()  # type: ignore[union-attr]
    assert obj == b"a" * 262_145


def test_attribute_bytes_count_towards_threshold(store: PayloadStore) -> None:
    attrs = {"n": {"DataType": "String", "StringValue": "x"}}  # 1 + 6 + 1 bytes
    assert message_size("a" * 10, attrs) == 18
    assert not store.offload("a" * (262_144 - 8), attrs).offloaded
    assert store.offload("a" * (262_144 - 7), attrs).offloaded


def test_utf8_length_vector(s3: Any) -> None:
    out = PayloadStore(BUCKET, s3_client=s3, always=True).offload("héllo €")
    assert out.message_attributes["ExtendedPayloadSize"]["StringValue"] == "10"


def test_pointer_body_is_byte_exact_python_client_format(s3: Any) -> None:
    out = PayloadStore(BUCKET, s3_client=s3, always=True, key_prefix="p/").offload("x")
    assert out.pointer is not None
    assert out.pointer.key.startswith("p/")
    assert out.body == (
        f'["{POINTER_CLASS}", {{"s3BucketName": "{BUCKET}", "s3Key": "{out.pointer.key}"}}]'
    )


def test_legacy_mode_writes_legacy_names(s3: Any) -> None:
    out = PayloadStore(BUCKET, s3_client=s3, always=True, legacy=True).offload("x")
    assert json.loads(out.body)[0] == LEGACY_POINTER_CLASS
    assert out.message_attributes == {
        "SQSLargePayloadSize": {"DataType": "Number", "StringValue": "1"}
    }


def test_receipt_handle_vector() -> None:
    wrapped = "-..s3BucketName..-b-..s3BucketName..--..s3Key..-k-1-..s3Key..-AQE-rh-with-dashes"
    assert unwrap_receipt_handle(wrapped) == "AQE-rh-with-dashes"
    assert wrap_receipt_handle("AQE-rh-with-dashes", S3Pointer("b", "k-1")) == wrapped
    assert unwrap_receipt_handle("plain-handle") == "plain-handle"


@pytest.mark.parametrize(
    "body",
    [
        f'["{POINTER_CLASS}",{{"s3BucketName":"b","s3Key":"k"}}]',
        f'[ "{LEGACY_POINTER_CLASS}" , {{ "s3Key" : "k", "s3BucketName" : "b", "x": 1 }} ]',
    ],
)
def test_parse_pointer_accepts_compact_spaced_legacy_and_extra_fields(body: str) -> None:
    assert parse_pointer(body) == S3Pointer("b", "k")


@pytest.mark.parametrize(
    "body",
    ["hello", "[]", '["other.Class", {"s3BucketName": "b", "s3Key": "k"}]', f'["{POINTER_CLASS}"]'],
)
def test_parse_pointer_rejects_non_pointers(body: str) -> None:
    with pytest.raises(PayloadError, match="body is not an S3 payload pointer"):
        parse_pointer(body)


def test_round_trip_with_binary_attributes_never_mutates_inputs(store: PayloadStore) -> None:
    attrs = {
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
        "s": {"DataType": "String", "StringValue": "v"},
    }
    before = copy.deepcopy(attrs)
    sent = store.offload("é" * 200_000, attrs)
    assert attrs == before
    sent_attrs = copy.deepcopy(sent.message_attributes)
    got = store.resolve(sent.body, sent.message_attributes)
    assert sent.message_attributes == sent_attrs
    assert got.body == "é" * 200_000
    assert got.message_attributes == attrs
    assert got.pointer == sent.pointer


@pytest.mark.parametrize("name", ["ExtendedPayloadSize", "SQSLargePayloadSize"])
def test_resolve_accepts_either_attribute_name(store: PayloadStore, s3: Any, name: str) -> None:
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"original")
    body = f'["{LEGACY_POINTER_CLASS}",{{"s3BucketName":"{BUCKET}","s3Key":"k"}}]'
    got = store.resolve(body, {name: {"DataType": "Number", "StringValue": "8"}})
    assert (got.body, got.message_attributes) == ("original", {})


def test_inline_message_is_returned_without_s3(store: PayloadStore) -> None:
    body = f'["{POINTER_CLASS}",{{"s3BucketName":"{BUCKET}","s3Key":"nope"}}]'
    assert store.resolve(body, {}).body == body  # no reserved attribute: not offloaded


def test_bucket_outside_allow_list_is_refused_without_fetching(s3: Any) -> None:
    calls: list[str] = []
    s3.meta.events.register("before-call.s3.*", lambda model, **_: calls.append(model.name))
    store = PayloadStore(BUCKET, s3_client=s3)
    body = S3Pointer("evil", "k").body()
    with pytest.raises(BucketNotAllowed, match="bucket 'evil', which is not in the allowed"):
        store.resolve(body, {"ExtendedPayloadSize": {"DataType": "Number", "StringValue": "1"}})
    assert calls == []


def test_explicit_allow_list_accepts_other_buckets(s3: Any) -> None:
    s3.create_bucket(Bucket="other")
    s3.put_object(Bucket="other", Key="k", Body=b"x")
    store = PayloadStore(s3_client=s3, allowed_buckets=["other"])
    got = store.resolve(S3Pointer("other", "k").body(), {"SQSLargePayloadSize": {}})
    assert got.body == "x"


def test_missing_object_raises_payload_not_found(store: PayloadStore) -> None:
    with pytest.raises(PayloadNotFound, match=f"s3://{BUCKET}/gone does not exist"):
        store.resolve(S3Pointer(BUCKET, "gone").body(), {"ExtendedPayloadSize": {}})


def test_reserved_attribute_with_non_pointer_body_is_an_error(store: PayloadStore) -> None:
    with pytest.raises(PayloadError, match="not an S3 payload pointer"):
        store.resolve("plain", {"ExtendedPayloadSize": {}})


def test_non_utf8_object_is_an_error(store: PayloadStore, s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="bin", Body=b"\xff\xfe")
    with pytest.raises(PayloadError, match="is not valid UTF-8"):
        store.resolve(S3Pointer(BUCKET, "bin").body(), {"ExtendedPayloadSize": {}})


def test_reserved_attribute_in_input_is_refused(store: PayloadStore) -> None:
    with pytest.raises(PayloadError, match="'SQSLargePayloadSize' is reserved"):
        store.offload("x", {"SQSLargePayloadSize": {"DataType": "Number", "StringValue": "1"}})


def test_offload_with_ten_attributes_is_refused(store: PayloadStore) -> None:
    attrs = {f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(10)}
    with pytest.raises(PayloadError, match="at most 9 message attributes"):
        store.offload("x", attrs, force=True)


def test_offload_without_bucket_is_refused() -> None:
    with pytest.raises(PayloadError, match="needs a bucket"):
        PayloadStore(always=True).offload("x")


def test_threshold_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="threshold must be between 0 and 1,048,576 bytes"):
        PayloadStore(BUCKET, threshold=2_000_000)


def test_kms_key_is_passed_to_s3(s3: Any) -> None:
    seen: list[dict[str, Any]] = []
    s3.meta.events.register("before-call.s3.PutObject", lambda params, **_: seen.append(params))
    PayloadStore(BUCKET, s3_client=s3, always=True, kms_key_id="alias/k").offload("x")
    assert seen[0]["headers"]["x-amz-server-side-encryption"] == "aws:kms"
    assert seen[0]["headers"]["x-amz-server-side-encryption-aws-kms-key-id"] == "alias/k"
