"""Large-payload pointers: docs/aws-facts.md#extended-client-wire-format vectors, allow-list,
missing objects, no mutation."""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

from sqs_blueprint.payload import (
    BucketNotAllowed,
    PayloadError,
    PayloadNotFound,
    PayloadOversized,
    PayloadSizeMismatch,
    PayloadStore,
    PayloadUnavailable,
    S3Pointer,
    message_size,
    parse_pointer,
    unwrap_receipt_handle,
    wrap_receipt_handle,
)
from tests.unit.s3_faults import fail_get_object

BUCKET = "payloads"
# The Extended Client's pointer class names (docs/aws-facts.md#extended-client-wire-format).
POINTER_CLASS = "software.amazon.payloadoffloading.PayloadS3Pointer"
LEGACY_POINTER_CLASS = "com.amazon.sqs.javamessaging.MessageS3Pointer"


@pytest.fixture
def s3(aws: None) -> Any:
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def store(s3: Any) -> PayloadStore:
    return PayloadStore(BUCKET, s3_client=s3)


# docs/aws-facts.md#extended-client-wire-format byte-exact vectors.
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


# ---------------------------------------------------------------- failed and bounded reads

SIZE = {"ExtendedPayloadSize": {"DataType": "Number", "StringValue": "5"}}


@pytest.mark.parametrize(
    ("code", "transient", "message"),
    [
        (
            "AccessDenied",
            False,
            f"payload s3://{BUCKET}/k could not be read: AccessDenied: Access Denied; grant "
            "s3:GetObject on it (without s3:ListBucket S3 answers a missing object with 403 too)",
        ),
        (
            "InternalError",
            True,
            f"payload s3://{BUCKET}/k could not be read: InternalError: We encountered an "
            "internal error. Please try again.; transient: the message returns to the queue "
            "and is retried",
        ),
        (
            "SlowDown",
            True,
            f"payload s3://{BUCKET}/k could not be read: SlowDown: Please reduce your request "
            "rate.; transient: the message returns to the queue and is retried",
        ),
    ],
)
def test_a_refused_read_is_a_payload_error(
    store: PayloadStore, s3: Any, code: str, transient: bool, message: str
) -> None:
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"hello")
    fail_get_object(s3, "k", code)
    with pytest.raises(PayloadUnavailable) as caught:
        store.resolve(S3Pointer(BUCKET, "k").body(), SIZE)
    assert str(caught.value) == message
    assert caught.value.transient is transient


def test_a_network_failure_is_transient(store: PayloadStore, s3: Any) -> None:
    def unreachable(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://s3.amazonaws.com")

    s3.meta.events.register("before-call.s3.GetObject", unreachable)
    with pytest.raises(PayloadUnavailable, match="Could not connect to the endpoint") as caught:
        store.fetch(S3Pointer(BUCKET, "k"))
    assert caught.value.transient


class CountingBody:
    """A streaming body that counts the bytes read from it."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.read_bytes, self.closed = inner, 0, False

    def read(self, amount: int | None = None) -> bytes:
        data: bytes = self.inner.read(amount)
        self.read_bytes += len(data)
        return data

    def close(self) -> None:
        self.closed = True
        self.inner.close()


@pytest.fixture
def counted(s3: Any) -> list[CountingBody]:
    """Every GetObject body, counted; ContentLength removed so only the read can tell."""
    bodies: list[CountingBody] = []

    def wrap(parsed: dict[str, Any], **_: Any) -> None:
        parsed.pop("ContentLength", None)
        bodies.append(CountingBody(parsed["Body"]))
        parsed["Body"] = bodies[-1]

    s3.meta.events.register("after-call.s3.GetObject", wrap)
    return bodies


def test_an_object_larger_than_declared_is_refused_unread(
    store: PayloadStore, s3: Any, counted: list[CountingBody]
) -> None:
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"x" * 100_000)
    with pytest.raises(PayloadOversized) as caught:
        store.resolve(S3Pointer(BUCKET, "k").body(), SIZE)
    assert str(caught.value) == (
        f"payload s3://{BUCKET}/k is more than 5 bytes, over its pointer's declared "
        "ExtendedPayloadSize of 5 bytes (the object was replaced after sending, or the pointer "
        "is not genuine); not read"
    )
    assert counted[0].read_bytes == 6 and counted[0].closed


def test_an_object_over_the_maximum_is_refused_by_its_length(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"x" * 100)
    store = PayloadStore(BUCKET, s3_client=s3, max_payload_bytes=50)
    with pytest.raises(PayloadOversized) as caught:
        store.resolve(S3Pointer(BUCKET, "k").body(), {"ExtendedPayloadSize": {}})
    assert str(caught.value) == (
        f"payload s3://{BUCKET}/k is 100 bytes, over this reader's maximum of 50 bytes "
        "(raise max_payload_bytes to accept it); not read"
    )
    assert store.resolve(S3Pointer(BUCKET, "k").body(), {}).body == S3Pointer(BUCKET, "k").body()


def test_an_object_at_its_declared_size_is_read(
    store: PayloadStore, s3: Any, counted: list[CountingBody]
) -> None:
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"hello")
    assert store.resolve(S3Pointer(BUCKET, "k").body(), SIZE).body == "hello"
    assert counted[0].read_bytes == 5


@pytest.mark.parametrize(
    ("stored", "error", "message"),
    [
        (
            "x" * 29,
            PayloadSizeMismatch,
            "payload s3://payloads/k is 29 bytes, but its pointer's declared "
            "ExtendedPayloadSize is 244 (the object was replaced after sending, or the pointer "
            "is not genuine); not used",
        ),
        (
            "x" * 300,
            PayloadOversized,
            "payload s3://payloads/k is 300 bytes, over its pointer's declared "
            "ExtendedPayloadSize of 244 bytes (the object was replaced after sending, or the "
            "pointer is not genuine); not read",
        ),
        (
            "é" * 243,  # 243 characters, 486 UTF-8 bytes
            PayloadOversized,
            "payload s3://payloads/k is 486 bytes, over its pointer's declared "
            "ExtendedPayloadSize of 244 bytes (the object was replaced after sending, or the "
            "pointer is not genuine); not read",
        ),
    ],
)
def test_an_object_replaced_by_one_of_another_size_is_refused(
    store: PayloadStore, s3: Any, stored: str, error: type[Exception], message: str
) -> None:
    s3.put_object(Bucket=BUCKET, Key="k", Body=stored.encode())
    declared = {"ExtendedPayloadSize": {"DataType": "Number", "StringValue": "244"}}
    with pytest.raises(error) as caught:
        store.resolve(S3Pointer(BUCKET, "k").body(), declared)
    assert str(caught.value) == message


@pytest.mark.parametrize("declared", ["1.5", "-1", "five", ""])
def test_a_declared_size_that_is_not_a_byte_count_is_refused(
    store: PayloadStore, declared: str
) -> None:
    attrs = {"SQSLargePayloadSize": {"DataType": "Number", "StringValue": declared}}
    with pytest.raises(PayloadError) as caught:
        store.resolve(S3Pointer(BUCKET, "k").body(), attrs)
    assert str(caught.value) == (
        f"message attribute SQSLargePayloadSize={declared!r} is not a byte count: the Extended "
        "Client writes the body's UTF-8 length as a whole number; the pointer is not genuine"
    )


def test_a_deeply_nested_pointer_body_is_not_a_pointer(store: PayloadStore) -> None:
    with pytest.raises(PayloadError, match="body is not an S3 payload pointer"):
        store.resolve("[" * 100_000 + "]" * 100_000, SIZE)


def test_max_payload_bytes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_payload_bytes must be at least 1 byte, got 0"):
        PayloadStore(BUCKET, max_payload_bytes=0)


def test_queue_threshold_leaves_the_decision_to_the_sender(s3: Any) -> None:
    store = PayloadStore(BUCKET, s3_client=s3, threshold="queue")
    assert not store.needs_offload("a" * 1_048_576)
    assert not store.offload("a" * 300_000).offloaded
    assert store.offload("a" * 300_000, force=True).offloaded
    assert PayloadStore(BUCKET, s3_client=s3, threshold="queue", always=True).needs_offload("a")


@pytest.mark.parametrize("threshold", [-1, 1_048_577, "half", True, 2.5])
def test_bad_thresholds_are_refused_with_the_rule(threshold: Any) -> None:
    from sqs_blueprint.errors import UsageError

    with pytest.raises(UsageError) as error:
        PayloadStore(BUCKET, threshold=threshold)
    assert str(error.value) == (
        "threshold must be between 0 and 1,048,576 bytes, or 'queue' for the queue's own "
        f"maximum, got {threshold!r}"
    )
