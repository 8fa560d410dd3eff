"""Batching sender: packs by count and bytes, offloads large bodies, derives FIFO ids.

Each message is offloaded on its own merit (FACTS §4), then messages are packed
in order into SendMessageBatch calls of at most 10 entries and 1 MiB in total
(FACTS §1). Entries a batch reports failed are retried with backoff when the
fault is not the sender's; whatever still fails is returned, never dropped.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from sqs_blueprint._clients import LazyClient, error_text
from sqs_blueprint.payload import (
    MAX_MESSAGE_SIZE,
    PayloadError,
    PayloadStore,
    PayloadTooLarge,
    message_size,
)

MAX_BATCH_ENTRIES = 10  # FACTS §1
MAX_BATCH_BYTES = MAX_MESSAGE_SIZE  # FACTS §1: a batch's total is capped at 1 MiB too
_RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "RequestThrottled",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "KmsThrottled",
        "AWS.SimpleQueueService.InternalError",
    }
)


@dataclass(frozen=True)
class Message:
    """One message to send; attributes in the SendMessage shape."""

    body: str
    message_attributes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    group_id: str | None = None
    deduplication_id: str | None = None
    delay_seconds: int | None = None


@dataclass(frozen=True)
class Sent:
    index: int
    message_id: str
    offloaded: bool
    sequence_number: str | None = None


@dataclass(frozen=True)
class Failed:
    index: int
    error: str


@dataclass
class SendResult:
    """Every input appears exactly once, in ``sent`` or ``failed``, by its index."""

    sent: list[Sent] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)


@dataclass
class _Prepared:
    index: int
    entry: dict[str, Any]
    size: int
    offloaded: bool
    group_id: str | None


def deduplication_id(body: str) -> str:
    """SHA-256 hex of the original body: identical bodies deduplicate even when offloaded."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def pack(
    sizes: Sequence[int], *, max_entries: int = MAX_BATCH_ENTRIES, max_bytes: int = MAX_BATCH_BYTES
) -> list[list[int]]:
    """Indexes of ``sizes`` packed in order into batches within both limits."""
    batches: list[list[int]] = []
    current: list[int] = []
    total = 0
    for index, size in enumerate(sizes):
        if current and (len(current) == max_entries or total + size > max_bytes):
            batches.append(current)
            current, total = [], 0
        current.append(index)
        total += size
    if current:
        batches.append(current)
    return batches


def _retryable(error: ClientError) -> bool:
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return error.response.get("Error", {}).get("Code") in _RETRYABLE_CODES or status >= 500


class Producer:
    """Sends to one queue with as few requests as the limits allow.

    ``max_message_size`` defaults to the queue's ``MaximumMessageSize`` (read once,
    FACTS §1); a message larger than it is offloaded when a payload store is given.
    """

    def __init__(
        self,
        queue_url: str,
        *,
        sqs_client: Any = None,
        session: Any = None,
        payloads: PayloadStore | None = None,
        max_message_size: int | None = None,
        max_attempts: int = 4,
        base_delay: float = 0.05,
        max_delay: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.queue_url = queue_url
        self.fifo = queue_url.endswith(".fifo")
        self.payloads = payloads
        self._max_size = max_message_size
        self._client = LazyClient("sqs", sqs_client, session)
        self._max_attempts = max(1, max_attempts)
        self._base_delay, self._max_delay = base_delay, max_delay
        self._sleep, self._jitter = sleep, jitter

    @property
    def max_message_size(self) -> int:
        if self._max_size is None:
            attributes = self._client().get_queue_attributes(
                QueueUrl=self.queue_url, AttributeNames=["MaximumMessageSize"]
            )["Attributes"]
            self._max_size = int(attributes.get("MaximumMessageSize", MAX_MESSAGE_SIZE))
        return self._max_size

    def send_many(self, messages: Iterable[Message | str]) -> SendResult:
        """Send every message; the result says which were sent and which failed, and why."""
        result = SendResult()
        prepared: list[_Prepared] = []
        for index, message in enumerate(messages):
            if isinstance(message, str):
                message = Message(message)
            try:
                prepared.append(self._prepare(index, message))
            except (PayloadError, ValueError) as error:
                result.failed.append(Failed(index, str(error)))
        failed_groups: set[str] = set()
        for batch in pack([p.size for p in prepared]):
            ready: list[_Prepared] = []
            for p in (prepared[i] for i in batch):
                if p.group_id is not None and p.group_id in failed_groups:
                    reason = f"not sent: an earlier message of group {p.group_id!r} failed"
                    result.failed.append(Failed(p.index, reason))
                else:
                    ready.append(p)
            for p in self._send_batch(ready, result):
                if self.fifo and p.group_id is not None:
                    failed_groups.add(p.group_id)
        result.sent.sort(key=lambda s: s.index)
        result.failed.sort(key=lambda f: f.index)
        return result

    def _prepare(self, index: int, message: Message) -> _Prepared:
        if not message.body:
            raise ValueError("message body is empty; SQS needs at least one character")
        if self.fifo and not message.group_id:
            raise ValueError("a FIFO queue needs a message group id: Message(body, group_id=...)")
        body, offloaded = message.body, False
        attributes = {name: dict(attr) for name, attr in message.message_attributes.items()}
        too_big = message_size(body, attributes) > self.max_message_size
        if self.payloads is not None:
            payload = self.payloads.offload(body, attributes, force=too_big)
            body, attributes, offloaded = (
                payload.body,
                payload.message_attributes,
                payload.offloaded,
            )
        size = message_size(body, attributes)
        if size > self.max_message_size:
            raise PayloadTooLarge(
                f"message is {size:,} bytes, over the queue's maximum of "
                f"{self.max_message_size:,}; give the producer a PayloadStore to offload it"
            )
        entry: dict[str, Any] = {"Id": str(index), "MessageBody": body}
        if attributes:
            entry["MessageAttributes"] = attributes
        if message.group_id:
            entry["MessageGroupId"] = message.group_id
        if message.deduplication_id or self.fifo:
            entry["MessageDeduplicationId"] = message.deduplication_id or deduplication_id(
                message.body
            )
        if message.delay_seconds is not None:
            entry["DelaySeconds"] = message.delay_seconds
        return _Prepared(index, entry, size, offloaded, message.group_id)

    def _send_batch(self, batch: list[_Prepared], result: SendResult) -> list[_Prepared]:
        """Send one batch with retries; return the entries that finally failed."""
        by_id = {p.entry["Id"]: p for p in batch}
        pending, failed = batch, list[_Prepared]()
        for attempt in range(self._max_attempts):
            if not pending:
                break
            if attempt:
                delay = min(self._max_delay, self._base_delay * 2 ** (attempt - 1))
                self._sleep(self._jitter() * delay)
            last = attempt == self._max_attempts - 1
            try:
                response = self._client().send_message_batch(
                    QueueUrl=self.queue_url, Entries=[p.entry for p in pending]
                )
            except ClientError as error:
                if _retryable(error) and not last:
                    continue
                for p in pending:
                    result.failed.append(Failed(p.index, error_text(error)))
                return failed + pending
            for ok in response.get("Successful", []):
                p = by_id[ok["Id"]]
                sent = Sent(p.index, ok["MessageId"], p.offloaded, ok.get("SequenceNumber"))
                result.sent.append(sent)
            retry = []
            for bad in response.get("Failed", []):
                p = by_id[bad["Id"]]
                if bad.get("SenderFault") or last:
                    reason = f"{bad.get('Code', 'Error')}: {bad.get('Message', '')}"
                    result.failed.append(Failed(p.index, reason))
                    failed.append(p)
                else:
                    retry.append(p)
            pending = retry
        return failed
