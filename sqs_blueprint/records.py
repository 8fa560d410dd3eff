"""One record model for Lambda SQS events and ReceiveMessage results.

Everything downstream works on :class:`Record`, whichever runtime delivered the
message. An offloaded message (docs/aws-facts.md#extended-client-wire-format) is resolved when the
record is built:
without a resolver it is refused with :class:`~sqs_blueprint.payload.PayloadError`,
so a pointer is never mistaken for the body.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqs_blueprint.payload import (
    Payload,
    PayloadError,
    PayloadResolver,
    S3Pointer,
    is_offloaded,
    unwrap_receipt_handle,
)
from sqs_blueprint.s3_events import NotARecord


def _lambda_attribute(attr: Mapping[str, Any]) -> dict[str, Any]:
    """A Lambda event attribute (lowercase keys, base64 binary) in ReceiveMessage shape."""
    out: dict[str, Any] = {"DataType": attr.get("dataType", "String")}
    if attr.get("stringValue") is not None:
        out["StringValue"] = attr["stringValue"]
    if attr.get("binaryValue") is not None:
        value = attr["binaryValue"]
        out["BinaryValue"] = base64.b64decode(value) if isinstance(value, str) else bytes(value)
    return out


def _resolve(
    message_id: str,
    body: str,
    attributes: Mapping[str, Mapping[str, Any]],
    resolver: PayloadResolver | None,
) -> Payload:
    if resolver is not None:
        return resolver.resolve(body, attributes)
    if is_offloaded(attributes):
        raise PayloadError(
            f"message {message_id} is offloaded to S3; build its record with "
            "resolver=PayloadStore(...) to read the body"
        )
    return Payload(body, {name: dict(attr) for name, attr in attributes.items()})


@dataclass(frozen=True)
class Record:
    """One SQS message with its body already resolved."""

    message_id: str
    receipt_handle: str
    body: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    message_attributes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source: str | None = None
    pointer: S3Pointer | None = None

    @property
    def offloaded(self) -> bool:
        return self.pointer is not None

    @property
    def receive_count(self) -> int:
        return int(self.attributes.get("ApproximateReceiveCount", "1"))

    @property
    def group_id(self) -> str | None:
        return self.attributes.get("MessageGroupId")

    @property
    def deduplication_id(self) -> str | None:
        return self.attributes.get("MessageDeduplicationId")

    @property
    def sent_at(self) -> datetime | None:
        stamp = self.attributes.get("SentTimestamp")
        return datetime.fromtimestamp(int(stamp) / 1000, tz=UTC) if stamp else None

    @classmethod
    def from_lambda(
        cls, event_record: Mapping[str, Any], *, resolver: PayloadResolver | None = None
    ) -> Record:
        """Build from one record of a Lambda SQS event
        (docs/aws-facts.md#lambda-event-source-mapping)."""
        message_id = event_record["messageId"]
        raw = event_record.get("messageAttributes") or {}
        attrs = {name: _lambda_attribute(attr) for name, attr in raw.items()}
        payload = _resolve(message_id, event_record["body"], attrs, resolver)
        return cls(
            message_id=message_id,
            receipt_handle=unwrap_receipt_handle(event_record["receiptHandle"]),
            body=payload.body,
            attributes=dict(event_record.get("attributes") or {}),
            message_attributes=payload.message_attributes,
            source=event_record.get("eventSourceARN"),
            pointer=payload.pointer,
        )

    @classmethod
    def from_sqs(
        cls,
        message: Mapping[str, Any],
        *,
        queue_url: str | None = None,
        resolver: PayloadResolver | None = None,
    ) -> Record:
        """Build from one message of a ReceiveMessage response."""
        message_id = message["MessageId"]
        attrs = message.get("MessageAttributes") or {}
        payload = _resolve(message_id, message["Body"], attrs, resolver)
        return cls(
            message_id=message_id,
            receipt_handle=unwrap_receipt_handle(message["ReceiptHandle"]),
            body=payload.body,
            attributes=dict(message.get("Attributes") or {}),
            message_attributes=payload.message_attributes,
            source=queue_url,
            pointer=payload.pointer,
        )


def records_from_event(
    event: Mapping[str, Any], resolver: PayloadResolver | None = None
) -> list[Record]:
    """All records of a Lambda SQS event, in order."""
    return [Record.from_lambda(r, resolver=resolver) for r in event.get("Records", [])]


def split_event(
    event: Mapping[str, Any], resolver: PayloadResolver | None = None
) -> tuple[list[Record], dict[str, str]]:
    """Records of a Lambda SQS event that could be built, and ``{message_id: reason}`` for the rest.

    Any error building one record (a payload S3 refuses, a malformed pointer or
    attribute) fails that record only; the others are built.
    """
    return _split(
        event.get("Records", []),
        "messageId",
        lambda raw: Record.from_lambda(raw, resolver=resolver),
    )


def split_messages(
    messages: Sequence[Mapping[str, Any]],
    *,
    queue_url: str | None = None,
    resolver: PayloadResolver | None = None,
) -> tuple[list[Record], dict[str, str]]:
    """:func:`split_event` for the messages of a ReceiveMessage response."""
    return _split(
        messages,
        "MessageId",
        lambda raw: Record.from_sqs(raw, queue_url=queue_url, resolver=resolver),
    )


def _split(
    raws: Iterable[Mapping[str, Any]],
    id_field: str,
    build: Callable[[Mapping[str, Any]], Record],
) -> tuple[list[Record], dict[str, str]]:
    records: list[Record] = []
    failed: dict[str, str] = {}
    for raw in raws:
        try:
            records.append(build(raw))
        except NotARecord:
            continue  # nothing to write, nothing failed: the message is done with
        except Exception as error:  # tied to this message alone: it fails, the rest go on
            failed[raw[id_field]] = f"{type(error).__name__}: {error}"
    return records, failed
