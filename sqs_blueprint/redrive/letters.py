"""Dead letters as an operator sees them, read without consuming them."""

from __future__ import annotations

from collections.abc import Collection, Mapping
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
    is_offloaded,
    parse_pointer,
)
from sqs_blueprint.records import Record
from sqs_blueprint.redrive.queues import (
    RedriveUsageError,
    brief,
    check_receive,
    consumer_buckets,
    queue_url,
    receive,
    release,
    visible,
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
    size: int | None  # UTF-8 bytes of the body a consumer sees (the S3 payload if offloaded)
    body: str | None  # None when an S3 payload could not be read (see ``error``)
    payload: str | None = None  # s3://bucket/key of an offloaded body
    error: str | None = None

    def preview(self, width: int = 120) -> str:
        """The body on one line, cut to ``width`` characters."""
        text = f"<error: {self.error}>" if self.body is None else " ".join(self.body.split())
        return text if len(text) <= width else text[: width - 1] + "…"

    def summary(self) -> str:
        """Two lines for a terminal: the facts, then the body preview."""
        facts = [
            self.message_id,
            f"receives={self.receive_count}",
            f"sent={_iso(self.sent_at)}",
            f"first-received={_iso(self.first_received_at)}",
            f"size={'?' if self.size is None else self.size}B",
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


def _problem(error: BaseException) -> str:
    """One line for why a body could not be read; never a traceback."""
    if isinstance(error, RecursionError):
        return "the body nests too deeply to parse as JSON"
    if isinstance(error, PayloadError):
        return str(error).splitlines()[0] if str(error) else type(error).__name__
    return brief(error) if isinstance(error, Exception) else type(error).__name__


def _pointer(body: str) -> tuple[S3Pointer | None, str | None]:
    """The pointer in an offloaded message's body, or why there is none."""
    try:
        return parse_pointer(body), None
    except Exception as error:  # malformed input of any kind marks this letter only
        return None, _problem(error)


def _declared_size(attributes: Mapping[str, Mapping[str, Any]]) -> tuple[int | None, str | None]:
    """docs/aws-facts.md#extended-client-wire-format: the reserved attribute holds the payload's
    byte length, a whole number."""
    for name in RESERVED_ATTRIBUTES:
        if name in attributes:
            value = attributes[name].get("StringValue")
            if isinstance(value, str) and value.isascii() and value.isdigit():
                return int(value), None
            return None, f"its {name} attribute {value!r} is not a whole number of bytes"
    return None, None


def _read(
    message: Mapping[str, Any],
    resolver: PayloadResolver | None,
    allowed: Collection[str] | None,
) -> tuple[str | None, S3Pointer | None, str | None]:
    """The body a consumer would see, the pointer it came through, or why it was not read."""
    body: str = message["Body"]
    attributes = message.get("MessageAttributes") or {}
    if not is_offloaded(attributes):
        return body, None, None
    pointer, problem = _pointer(body)
    problem = _declared_size(attributes)[1] or problem
    if pointer is None or problem is not None:
        return None, pointer, f"not fetched: {problem}"
    if allowed is not None and pointer.bucket not in allowed:
        listed = ", ".join(sorted(allowed)) or "none"
        reason = f"bucket {pointer.bucket!r} is not an allowed payload bucket (allowed: {listed})"
        return None, pointer, f"not fetched: {reason}"
    if resolver is None:
        return None, pointer, "not fetched: no payload store to read it with"
    try:
        return resolver.resolve(body, attributes).body, pointer, None
    except Exception as error:  # shown, not raised: a bad payload is a thing to inspect
        return None, pointer, _problem(error)


def dead_letter(
    message: Mapping[str, Any],
    resolver: PayloadResolver | None,
    allowed: Collection[str] | None = None,
) -> DeadLetter:
    """A ReceiveMessage message as a :class:`DeadLetter`; never raises on its content.

    An S3 payload is fetched through ``resolver`` only from a bucket in
    ``allowed`` (any bucket the resolver accepts when ``allowed`` is None). A
    letter that cannot be read carries the reason in ``error`` and no body.
    """
    body, pointer, error = _read(message, resolver, allowed)
    record = Record(
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        body=message["Body"],
        attributes=dict(message.get("Attributes") or {}),
    )
    if body is not None:
        size: int | None = len(body.encode("utf-8"))
    else:
        size = _declared_size(message.get("MessageAttributes") or {})[0]
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


@dataclass(frozen=True)
class Survey:
    """What an inspection showed, and how much of the DLQ it could not see.

    ``seen``: the letters received (``letters`` holds up to the limit of them).
    ``unseen``: the DLQ's ``ApproximateNumberOfMessages`` read while every letter
    seen was still held, so the letters left visible that no receive returned:
    on a FIFO queue, the later letters of a group (SQS hands them out only once
    the earlier ones leave the queue, docs/aws-facts.md#sqs-limits), elsewhere
    letters that arrived during the run. Approximate, as SQS's count is.
    """

    letters: list[DeadLetter]
    seen: int
    unseen: int
    limit: int

    @property
    def total(self) -> int:
        """About how many letters the DLQ held."""
        return self.seen + self.unseen

    @property
    def limited(self) -> bool:
        """The limit stopped the inspection: letters may be left unshown on purpose."""
        return len(self.letters) >= self.limit

    @property
    def blind(self) -> bool:
        """Letters were left that no receive could return, below the limit."""
        return self.unseen > 0 and not self.limited


def inspect(
    dlq: str,
    *,
    sqs_client: Any = None,
    resolver: PayloadResolver | None = None,
    buckets: Collection[str] | None = None,
    limit: int = 20,
    visibility: int = 30,
    wait_seconds: int = 0,
) -> list[DeadLetter]:
    """Up to ``limit`` messages of a DLQ, without consuming them (:func:`survey`'s letters)."""
    return survey(
        dlq,
        sqs_client=sqs_client,
        resolver=resolver,
        buckets=buckets,
        limit=limit,
        visibility=visibility,
        wait_seconds=wait_seconds,
    ).letters


def survey(
    dlq: str,
    *,
    sqs_client: Any = None,
    resolver: PayloadResolver | None = None,
    buckets: Collection[str] | None = None,
    limit: int = 20,
    visibility: int = 30,
    wait_seconds: int = 0,
) -> Survey:
    """Up to ``limit`` messages of a DLQ, without consuming them, and what was left unseen.

    Messages are received with a short ``visibility`` and held, so each receive
    returns new ones, until one returns nothing new or the limit is reached;
    then the DLQ's visible count says what no receive returned, and every
    message is handed back (visibility 0) before this returns.
    S3 payloads are fetched only from ``buckets``; by default from the payload
    buckets of the DLQ's Lambda consumers (:func:`consumer_buckets`), and from
    none if none can be found. ``resolver`` reads them (a :class:`PayloadStore`
    by default). A letter whose payload is not fetched shows its pointer and why.
    """
    if limit < 1:
        raise RedriveUsageError(f"limit must be at least 1, got {limit}")
    check_receive(visibility, wait_seconds)
    sqs = LazyClient("sqs", sqs_client)()
    url = queue_url(dlq, sqs_client=sqs)
    if buckets is None and resolver is None:
        buckets = consumer_buckets(url, sqs_client=sqs).buckets
    if resolver is None:
        resolver = PayloadStore(allowed_buckets=buckets)
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
            letters += [dead_letter(m, resolver, buckets) for m in fresh[: limit - len(letters)]]
        unseen = visible(sqs, url)
    finally:
        release(sqs, url, held.values())
    return Survey(letters, seen=len(held), unseen=unseen, limit=limit)
