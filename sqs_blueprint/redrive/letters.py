"""Dead letters as an operator sees them, read without consuming them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqs_blueprint._clients import LazyClient
from sqs_blueprint.payload import (
    RESERVED_ATTRIBUTES,
    PayloadError,
    PayloadResolver,
    PayloadStore,
    S3Pointer,
    parse_pointer,
)
from sqs_blueprint.records import Record
from sqs_blueprint.redrive.queues import (
    RedriveUsageError,
    check_receive,
    queue_url,
    receive,
    release,
)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


@dataclass(frozen=True)
class DeadLetter:
    """What an operator needs to see about one message in a DLQ."""

    message_id: str
    receive_count: int
    sent_at: datetime | None
    first_received_at: datetime | None
    group_id: str | None
    size: int  # UTF-8 bytes of the body a consumer sees (the S3 payload if offloaded)
    body: str | None  # None when an S3 payload could not be read (see ``error``)
    payload: str | None = None  # s3://bucket/key of an offloaded body
    error: str | None = None

    def preview(self, width: int = 120) -> str:
        """The body on one line, cut to ``width`` characters."""
        text = f"<{self.error}>" if self.body is None else " ".join(self.body.split())
        return text if len(text) <= width else text[: width - 1] + "…"

    def summary(self) -> str:
        """Two lines for a terminal: the facts, then the body preview."""
        facts = [
            self.message_id,
            f"receives={self.receive_count}",
            f"sent={_iso(self.sent_at)}",
            f"first-received={_iso(self.first_received_at)}",
            f"size={self.size}B",
        ]
        if self.group_id is not None:
            facts.append(f"group={self.group_id}")
        if self.payload is not None:
            facts.append(f"payload={self.payload}")
        return "  ".join(facts) + "\n    " + self.preview()

    def to_json(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "receive_count": self.receive_count,
            "sent_at": _iso(self.sent_at),
            "first_received_at": _iso(self.first_received_at),
            "group_id": self.group_id,
            "size": self.size,
            "body": self.body,
            "payload": self.payload,
            "error": self.error,
        }


def _timestamp(attributes: Mapping[str, str], name: str) -> datetime | None:
    stamp = attributes.get(name)
    return datetime.fromtimestamp(int(stamp) / 1000, tz=UTC) if stamp else None


def _pointer(body: str) -> S3Pointer | None:
    try:
        return parse_pointer(body)
    except PayloadError:
        return None


def dead_letter(message: Mapping[str, Any], resolver: PayloadResolver | None) -> DeadLetter:
    """A ReceiveMessage message as a :class:`DeadLetter`, its S3 payload resolved if any."""
    body: str | None
    try:
        record = Record.from_sqs(message, resolver=resolver)
        body, error, pointer = record.body, None, record.pointer
    except PayloadError as exc:
        # Shown, not raised: a missing payload is one of the things to inspect.
        record = Record(
            message_id=message["MessageId"],
            receipt_handle=message["ReceiptHandle"],
            body=message["Body"],
            attributes=dict(message.get("Attributes") or {}),
        )
        body, error, pointer = None, str(exc), _pointer(message["Body"])
    if body is not None:
        size = len(body.encode("utf-8"))
    else:  # FACTS §4: the reserved attribute holds the payload's byte length
        attributes = message.get("MessageAttributes") or {}
        declared = [
            attributes[n].get("StringValue") for n in RESERVED_ATTRIBUTES if n in attributes
        ]
        size = int(declared[0] or 0) if declared else 0
    return DeadLetter(
        message_id=record.message_id,
        receive_count=record.receive_count,
        sent_at=record.sent_at,
        # Record has no first-receive property; read the system attribute here.
        first_received_at=_timestamp(record.attributes, "ApproximateFirstReceiveTimestamp"),
        group_id=record.group_id,
        size=size,
        body=body,
        payload=f"s3://{pointer.bucket}/{pointer.key}" if pointer else None,
        error=error,
    )


def inspect(
    dlq: str,
    *,
    sqs_client: Any = None,
    resolver: PayloadResolver | None = None,
    limit: int = 20,
    visibility: int = 30,
    wait_seconds: int = 0,
) -> list[DeadLetter]:
    """Up to ``limit`` messages of a DLQ, without consuming them.

    Messages are received with a short ``visibility`` and all handed back
    (visibility 0) before this returns, so they are visible again at once.
    ``resolver`` reads S3 payloads; by default a :class:`PayloadStore` that
    accepts any bucket the caller's credentials can read.
    """
    if limit < 1:
        raise RedriveUsageError(f"limit must be at least 1, got {limit}")
    check_receive(visibility, wait_seconds)
    sqs = LazyClient("sqs", sqs_client)()
    url = queue_url(dlq, sqs_client=sqs)
    resolver = resolver if resolver is not None else PayloadStore()
    held: dict[str, str] = {}
    letters: list[DeadLetter] = []
    try:
        while len(letters) < limit:
            fresh = [
                m for m in receive(sqs, url, visibility, wait_seconds) if m["MessageId"] not in held
            ]
            for message in fresh:
                held[message["MessageId"]] = message["ReceiptHandle"]
            if not fresh:
                break
            letters += [dead_letter(m, resolver) for m in fresh[: limit - len(letters)]]
    finally:
        release(sqs, url, held.values())
    return letters
