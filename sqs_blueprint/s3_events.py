"""S3 event notifications as records: the object a notification names becomes the body.

An S3 notification (docs/aws-facts.md#producer-inputs) differs from an Extended Client
pointer: its body is an event, ``{"Records": [{"eventSource": "aws:s3", "eventName":
"ObjectCreated:Put", "s3": {"bucket": {"name": ...}, "object": {"key": ..., "size":
...}}}]}``, with no reserved message attribute; the key is URL-encoded (a space as
``+``); and S3 sends one ``s3:TestEvent`` message when a notification is set up.
:class:`S3EventResolver` reads the object through a :class:`PayloadStore` (so the
bucket allow-list and the size bound apply), passes every other body to the resolver
it wraps, and raises :class:`NotARecord` for the test event, which the record split
drops without failing it.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any
from urllib.parse import unquote_plus

from sqs_blueprint.payload import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    Attributes,
    Payload,
    PayloadError,
    PayloadResolver,
    PayloadStore,
    S3Pointer,
)

TEST_EVENT = "s3:TestEvent"


class NotARecord(PayloadError):
    """A message that carries no record (S3's test event): drop it, do not fail it."""


def s3_event(body: str) -> dict[str, Any] | None:
    """The parsed notification if ``body`` is an S3 event notification, else ``None``."""
    if not body.startswith("{") or ('"aws:s3"' not in body and TEST_EVENT not in body):
        return None
    try:
        event = json.loads(body)
    except ValueError:
        return None
    if not isinstance(event, dict):
        return None
    if event.get("Event") == TEST_EVENT and event.get("Service") == "Amazon S3":
        return event
    records = event.get("Records")
    if (
        isinstance(records, list)
        and records
        and all(isinstance(r, dict) and r.get("eventSource") == "aws:s3" for r in records)
    ):
        return event
    return None


class S3EventResolver:
    """A :class:`PayloadResolver` that reads the objects of S3 notifications.

    ``buckets`` are the buckets whose notifications are trusted (``INPUT_BUCKETS``);
    a notification from any other bucket fails its record as ``BucketNotAllowed``.
    """

    def __init__(
        self,
        inner: PayloadResolver,
        *,
        buckets: Collection[str],
        s3_client: Any = None,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    ) -> None:
        self.inner = inner
        self.store = PayloadStore(
            s3_client=s3_client, allowed_buckets=buckets, max_payload_bytes=max_payload_bytes
        )

    def resolve(self, body: str, message_attributes: Attributes) -> Payload:
        event = s3_event(body)
        if event is None:
            return self.inner.resolve(body, message_attributes)
        if event.get("Event") == TEST_EVENT:
            raise NotARecord(f"S3 test event for bucket {event.get('Bucket')!r}")
        records = event["Records"]
        if len(records) != 1:
            raise PayloadError(
                f"an S3 notification with {len(records)} records; one object per message "
                "is expected (S3 sends one record per notification)"
            )
        (record,) = records
        name = str(record.get("eventName", ""))
        if not name.startswith("ObjectCreated:"):
            raise PayloadError(f"S3 event {name!r} is not an object-created event")
        s3 = record["s3"]
        pointer = S3Pointer(s3["bucket"]["name"], unquote_plus(s3["object"]["key"]))
        size = s3["object"].get("size")
        text = self.store.fetch(pointer, declared_size=size if isinstance(size, int) else None)
        return Payload(text, {name: dict(a) for name, a in message_attributes.items()}, pointer)
