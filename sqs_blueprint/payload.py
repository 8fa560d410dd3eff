"""Large payloads through S3 pointers, wire-compatible with the Extended Client.

The wire format is the one of AWS's official Extended Client libraries
(docs/aws-facts.md#extended-client-wire-format): an offloaded message carries the reserved
``ExtendedPayloadSize``
attribute (legacy ``SQSLargePayloadSize``) and a body that is a JSON pointer
``[<class name>, {"s3BucketName": ..., "s3Key": ...}]``; the S3 object holds the
original body as UTF-8.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from sqs_blueprint._clients import LazyClient, error_text
from sqs_blueprint.errors import SqsBlueprintError, UsageError
from sqs_blueprint.limits import (
    EXTENDED_CLIENT_THRESHOLD_BYTES,
    SQS_MAX_MESSAGE_ATTRIBUTES,
    SQS_MAX_MESSAGE_BYTES,
)

# docs/aws-facts.md#extended-client-wire-format: reserved attribute names and pointer class names.
RESERVED_ATTRIBUTE = "ExtendedPayloadSize"
LEGACY_RESERVED_ATTRIBUTE = "SQSLargePayloadSize"
RESERVED_ATTRIBUTES = (RESERVED_ATTRIBUTE, LEGACY_RESERVED_ATTRIBUTE)
POINTER_CLASS = "software.amazon.payloadoffloading.PayloadS3Pointer"
LEGACY_POINTER_CLASS = "com.amazon.sqs.javamessaging.MessageS3Pointer"
# docs/aws-facts.md#extended-client-wire-format: the official clients' threshold
DEFAULT_THRESHOLD = EXTENDED_CLIENT_THRESHOLD_BYTES
# Offload only what is over the queue's own MaximumMessageSize (the Producer reads it).
QUEUE_THRESHOLD = "queue"
Threshold = int | Literal["queue"]
# docs/aws-facts.md#extended-client-wire-format: wrapped receipt handles
_BUCKET_MARKER = "-..s3BucketName..-"
_KEY_MARKER = "-..s3Key..-"
_MISSING_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "NotFound", "404"})
_DENIED_CODES = frozenset({"AccessDenied", "403", "Forbidden", "AllAccessDisabled"})
_TRANSIENT_CODES = frozenset(
    {"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "503", "500"}
)
# What one fetch reads at most unless told otherwise: a bound on memory, far above
# what a consumer of SQS messages usually needs (the official clients allow 2 GB).
DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024 * 1024

Attributes = Mapping[str, Mapping[str, Any]]


class PayloadError(SqsBlueprintError):
    """A large payload could not be offloaded or resolved."""


class PayloadNotFound(PayloadError):
    """The S3 object a pointer names does not exist."""


class PayloadUnavailable(PayloadError):
    """S3 refused or failed the read (access denied, 5xx, SlowDown, network).

    ``transient`` is True when a retry may succeed (5xx, SlowDown, network).
    """

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class PayloadOversized(PayloadError):
    """The object is larger than its pointer declares or than the reader's maximum; not read."""


class PayloadSizeMismatch(PayloadError):
    """The object's length differs from the size its pointer declares: it was replaced."""


class BucketNotAllowed(PayloadError):
    """A pointer names a bucket outside the allow-list; nothing was fetched."""


class PayloadTooLarge(PayloadError):
    """A message is too large to send and cannot be offloaded."""


@dataclass(frozen=True)
class S3Pointer:
    """Where an offloaded body lives."""

    bucket: str
    key: str

    def body(self, *, legacy: bool = False) -> str:
        """The message body that points here, spaced as the Python client writes it."""
        name = LEGACY_POINTER_CLASS if legacy else POINTER_CLASS
        return json.dumps([name, {"s3BucketName": self.bucket, "s3Key": self.key}])


@dataclass(frozen=True)
class Payload:
    """A message body with its attributes, and the pointer it was stored under, if any."""

    body: str
    message_attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    pointer: S3Pointer | None = None

    @property
    def offloaded(self) -> bool:
        return self.pointer is not None


class PayloadResolver(Protocol):
    """Anything that turns a received (body, attributes) pair into the original body."""

    def resolve(self, body: str, message_attributes: Attributes) -> Payload: ...


def parse_pointer(body: str) -> S3Pointer:
    """Parse a pointer body (either class name, compact or spaced JSON, extra fields ignored)."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested too deep to be a pointer
        value = None
    if (
        isinstance(value, list)
        and len(value) == 2
        and value[0] in (POINTER_CLASS, LEGACY_POINTER_CLASS)
        and isinstance(value[1], dict)
        and isinstance(value[1].get("s3BucketName"), str)
        and isinstance(value[1].get("s3Key"), str)
        and value[1]["s3BucketName"]
        and value[1]["s3Key"]
    ):
        return S3Pointer(value[1]["s3BucketName"], value[1]["s3Key"])
    raise PayloadError(
        f"body is not an S3 payload pointer: expected "
        f'["{POINTER_CLASS}", {{"s3BucketName": ..., "s3Key": ...}}], got {body[:200]!r}'
    )


def is_offloaded(message_attributes: Attributes) -> bool:
    """True if the attributes carry the reserved payload-size attribute
    (docs/aws-facts.md#extended-client-wire-format)."""
    return any(name in message_attributes for name in RESERVED_ATTRIBUTES)


def _value_size(value: Any) -> int:
    if isinstance(value, bytes | bytearray | memoryview):
        return len(value)
    return len(str(value).encode("utf-8"))


def attributes_size(message_attributes: Attributes) -> int:
    """Bytes SQS counts for message attributes: name, data type and value
    (docs/aws-facts.md#sqs-limits)."""
    total = 0
    for name, attr in message_attributes.items():
        total += _value_size(name) + _value_size(attr.get("DataType", ""))
        for part in ("StringValue", "BinaryValue"):
            if attr.get(part) is not None:
                total += _value_size(attr[part])
    return total


def message_size(body: str, message_attributes: Attributes | None = None) -> int:
    """UTF-8 body bytes plus attribute bytes, as SQS and the official clients count them."""
    return _value_size(body) + attributes_size(message_attributes or {})


def wrap_receipt_handle(receipt_handle: str, pointer: S3Pointer) -> str:
    """Wrap a receipt handle as the official clients do
    (docs/aws-facts.md#extended-client-wire-format)."""
    return (
        f"{_BUCKET_MARKER}{pointer.bucket}{_BUCKET_MARKER}"
        f"{_KEY_MARKER}{pointer.key}{_KEY_MARKER}{receipt_handle}"
    )


def unwrap_receipt_handle(receipt_handle: str) -> str:
    """The SQS receipt handle inside one wrapped by an official client; others unchanged."""
    if _BUCKET_MARKER not in receipt_handle or receipt_handle.count(_KEY_MARKER) < 2:
        return receipt_handle
    first = receipt_handle.index(_KEY_MARKER)
    second = receipt_handle.index(_KEY_MARKER, first + len(_KEY_MARKER))
    return receipt_handle[second + len(_KEY_MARKER) :]


def _copy(message_attributes: Attributes | None) -> dict[str, dict[str, Any]]:
    return {name: dict(attr) for name, attr in (message_attributes or {}).items()}


class PayloadStore:
    """Offloads large bodies to S3 and resolves pointers back, per
    docs/aws-facts.md#extended-client-wire-format.

    ``threshold``: bytes (body plus attributes) above which a body is offloaded;
    262,144 by default, as the official Extended Clients, so their senders and this
    one offload the same messages. ``"queue"`` offloads only what the sender finds
    over the queue's ``MaximumMessageSize`` (:class:`~sqs_blueprint.producer.Producer`
    reads it once), so messages up to 1 MiB travel inline. Readers resolve pointers
    whatever threshold wrote them.

    ``allowed_buckets`` limits which buckets a pointer may name; by default only
    ``bucket`` (or any bucket, when the store has no bucket of its own).
    """

    def __init__(
        self,
        bucket: str | None = None,
        *,
        s3_client: Any = None,
        session: Any = None,
        threshold: Threshold = DEFAULT_THRESHOLD,
        always: bool = False,
        legacy: bool = False,
        key_prefix: str = "",
        kms_key_id: str | None = None,
        allowed_buckets: Collection[str] | None = None,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    ) -> None:
        if max_payload_bytes < 1:
            raise ValueError(
                f"max_payload_bytes must be at least 1 byte, got {max_payload_bytes!r}; "
                f"the default is {DEFAULT_MAX_PAYLOAD_BYTES:,}"
            )
        self.max_payload_bytes = max_payload_bytes
        if threshold != QUEUE_THRESHOLD and not (
            isinstance(threshold, int)
            and not isinstance(threshold, bool)
            and 0 <= threshold <= SQS_MAX_MESSAGE_BYTES
        ):
            raise UsageError(
                f"threshold must be between 0 and {SQS_MAX_MESSAGE_BYTES:,} bytes, or "
                f"{QUEUE_THRESHOLD!r} for the queue's own maximum, got {threshold!r}"
            )
        self.bucket = bucket
        self.threshold = threshold
        self.always = always
        self.legacy = legacy
        self.key_prefix = key_prefix
        self.kms_key_id = kms_key_id
        if allowed_buckets is not None:
            self.allowed_buckets: frozenset[str] | None = frozenset(allowed_buckets)
        else:
            self.allowed_buckets = frozenset({bucket}) if bucket else None
        self._s3 = LazyClient("s3", s3_client, session)

    def needs_offload(self, body: str, message_attributes: Attributes | None = None) -> bool:
        """True if ``always``, or body plus attribute bytes exceed the threshold
        (docs/aws-facts.md#extended-client-wire-format). With ``"queue"`` only the
        sender knows the queue's maximum: it passes ``force=True`` to :meth:`offload`."""
        if self.always:
            return True
        if isinstance(self.threshold, str):  # QUEUE_THRESHOLD
            return False
        return message_size(body, message_attributes) > self.threshold

    def offload(
        self, body: str, message_attributes: Attributes | None = None, *, force: bool = False
    ) -> Payload:
        """Store the body in S3 if needed (or ``force``); return what to send. Inputs untouched."""
        attributes = _copy(message_attributes)
        for name in RESERVED_ATTRIBUTES:
            if name in attributes:
                raise PayloadError(
                    f"message attribute {name!r} is reserved for S3 payload pointers; rename it"
                )
        if not (force or self.needs_offload(body, attributes)):
            return Payload(body, attributes)
        if not self.bucket:
            raise PayloadError("offloading a large body needs a bucket: PayloadStore(bucket=...)")
        if len(attributes) >= SQS_MAX_MESSAGE_ATTRIBUTES:
            raise PayloadError(
                "an offloaded message can carry at most "
                f"{SQS_MAX_MESSAGE_ATTRIBUTES - 1} message attributes "
                f"(one is reserved for the payload size), got {len(attributes)}"
            )
        data = body.encode("utf-8")
        pointer = S3Pointer(self.bucket, f"{self.key_prefix}{uuid.uuid4()}")
        extra: dict[str, str] = {}
        if self.kms_key_id:
            extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id}
        self._s3().put_object(Bucket=pointer.bucket, Key=pointer.key, Body=data, **extra)
        name = LEGACY_RESERVED_ATTRIBUTE if self.legacy else RESERVED_ATTRIBUTE
        attributes[name] = {"DataType": "Number", "StringValue": str(len(data))}
        return Payload(pointer.body(legacy=self.legacy), attributes, pointer)

    def resolve(self, body: str, message_attributes: Attributes) -> Payload:
        """The original body and the attributes without the reserved one (ReceiveMessage shape)."""
        attributes = _copy(message_attributes)
        if not is_offloaded(attributes):
            return Payload(body, attributes)
        declared = declared_size(attributes)
        for name in RESERVED_ATTRIBUTES:
            attributes.pop(name, None)
        pointer = parse_pointer(body)
        return Payload(self.fetch(pointer, declared_size=declared), attributes, pointer)

    def fetch(self, pointer: S3Pointer, *, declared_size: int | None = None) -> str:
        """Read an offloaded body, refusing buckets outside the allow-list without a request.

        At most ``min(declared_size, max_payload_bytes) + 1`` bytes are read: a larger
        object is refused as :class:`PayloadOversized` without reading it whole.
        """
        if self.allowed_buckets is not None and pointer.bucket not in self.allowed_buckets:
            raise BucketNotAllowed(
                f"payload pointer names bucket {pointer.bucket!r}, which is not in the allowed "
                f"buckets {sorted(self.allowed_buckets)}; pass allowed_buckets= to accept it"
            )
        where = f"s3://{pointer.bucket}/{pointer.key}"
        try:
            response = self._s3().get_object(Bucket=pointer.bucket, Key=pointer.key)
            data = self._read_bounded(where, response, declared_size)
        except (ClientError, BotoCoreError) as error:
            raise _read_error(where, error) from error
        if declared_size is not None and len(data) != declared_size:
            # The declared size is the wire format's integrity check
            # (docs/aws-facts.md#extended-client-wire-format): a longer object is refused
            # unread above, a shorter one here.
            raise PayloadSizeMismatch(
                f"payload {where} is {len(data):,} bytes, but its pointer's declared "
                f"{RESERVED_ATTRIBUTE} is {declared_size:,} (the object was replaced after "
                "sending, or the pointer is not genuine); not used"
            )
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise PayloadError(f"payload {where} is not valid UTF-8") from error

    def _read_bounded(
        self, where: str, response: Mapping[str, Any], declared_size: int | None
    ) -> bytes:
        limit = self.max_payload_bytes
        rule = f"this reader's maximum of {limit:,} bytes (raise max_payload_bytes to accept it)"
        if declared_size is not None and declared_size < limit:
            limit = declared_size
            rule = (
                f"its pointer's declared {RESERVED_ATTRIBUTE} of {limit:,} bytes (the object "
                "was replaced after sending, or the pointer is not genuine)"
            )
        body = response["Body"]
        try:
            length = response.get("ContentLength")
            if isinstance(length, int) and length > limit:
                raise PayloadOversized(
                    f"payload {where} is {length:,} bytes, over {rule}; not read"
                )
            data: bytes = body.read(limit + 1)
            if len(data) > limit:
                raise PayloadOversized(
                    f"payload {where} is more than {limit:,} bytes, over {rule}; not read"
                )
            return data
        finally:
            body.close()


def declared_size(message_attributes: Attributes) -> int | None:
    """The reserved attribute's byte count; None when it carries no value.

    See docs/aws-facts.md#extended-client-wire-format.
    """
    for name in RESERVED_ATTRIBUTES:
        raw = message_attributes.get(name, {}).get("StringValue")
        if raw is None:
            continue
        if not (isinstance(raw, str) and raw.isascii() and raw.isdigit()):
            raise PayloadError(
                f"message attribute {name}={raw!r} is not a byte count: the Extended Client "
                "writes the body's UTF-8 length as a whole number; the pointer is not genuine"
            )
        return int(raw)
    return None


def _read_error(where: str, error: ClientError | BotoCoreError) -> PayloadError:
    """The one-line error for a failed read of ``where``; transient ones say so."""
    retried = "transient: the message returns to the queue and is retried"
    if isinstance(error, BotoCoreError):
        text = " ".join(str(error).split())
        if isinstance(error, ParamValidationError):  # e.g. an invalid bucket name: never works
            return PayloadUnavailable(f"payload {where} cannot be read: {text}", transient=False)
        return PayloadUnavailable(
            f"payload {where} could not be read: {text}; {retried}", transient=True
        )
    code = str(error.response.get("Error", {}).get("Code", ""))
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in _MISSING_CODES:
        return PayloadNotFound(
            f"payload {where} does not exist (deleted, or expired by the bucket's lifecycle rule)"
        )
    if code in _DENIED_CODES:
        return PayloadUnavailable(
            f"payload {where} could not be read: {error_text(error)}; grant s3:GetObject on "
            "it (without s3:ListBucket S3 answers a missing object with 403 too)",
            transient=False,
        )
    transient = code in _TRANSIENT_CODES or status >= 500
    return PayloadUnavailable(
        f"payload {where} could not be read: {error_text(error)}"
        + (f"; {retried}" if transient else ""),
        transient=transient,
    )
