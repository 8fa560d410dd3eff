"""Batching sender: packs by count and bytes, offloads large bodies, derives FIFO ids.

Each message is offloaded on its own merit (docs/aws-facts.md#extended-client-wire-format),
then messages are packed in order into SendMessageBatch calls of at most 10 entries and
1 MiB in total (docs/aws-facts.md#sqs-limits). Entries a batch reports failed are retried
with backoff when the fault is not the sender's; whatever still fails is returned, never
dropped.

:meth:`Producer.send_many` never raises: every message comes back sent (with its
id) or failed (with the reason). On a FIFO queue a failure holds back the later
messages of its group in the same call, so a retry of the failed ones never puts
an earlier message behind a later one. Objects offloaded for messages that were
not sent are deleted (best effort). What a message is, and how its group and
deduplication ids come about, is in :mod:`sqs_blueprint.messages`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import (
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from sqs_blueprint import tracing
from sqs_blueprint._clients import LazyClient, error_text
from sqs_blueprint.errors import UsageError
from sqs_blueprint.limits import SQS_BATCH_MAX_ENTRIES, SQS_MAX_MESSAGE_BYTES
from sqs_blueprint.messages import (
    Failed,
    Key,
    Message,
    SendResult,
    Sent,
    check_id,
    deduplication_id,
    message_group,
)
from sqs_blueprint.payload import (
    RESERVED_ATTRIBUTES,
    PayloadError,
    PayloadStore,
    PayloadTooLarge,
    S3Pointer,
    message_size,
)

__all__ = [
    "Failed",
    "Key",
    "Message",
    "Producer",
    "SendResult",
    "Sent",
    "check_id",
    "deduplication_id",
    "pack",
]

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
# Errors after which the request certainly did not reach the queue: the server refused it,
# or it never left this machine. After any other error a message may have been delivered.
_NOT_DELIVERED = (
    ClientError,
    BotoConnectionError,
    ParamValidationError,
    NoCredentialsError,
    NoRegionError,
)


@dataclass
class _Prepared:
    index: int
    entry: dict[str, Any]
    size: int
    pointer: S3Pointer | None
    group_id: str | None  # the ordering group on a FIFO queue; None on a standard queue
    message_group: str | None = None  # the MessageGroupId sent (a tenant on a standard queue)
    span: tracing.Span | None = None  # its producer span, when tracing is on


@dataclass
class _Call:
    """What one ``send_many`` call has learnt so far."""

    result: SendResult = field(default_factory=SendResult)
    blocked: dict[str, int] = field(default_factory=dict)  # FIFO group -> first failed index
    orphans: list[S3Pointer] = field(default_factory=list)

    def held(self, group: str | None, index: int) -> str | None:
        """Why ``index`` must not be sent, if an earlier message of its group failed."""
        first = self.blocked.get(group, index) if group is not None else index
        if first < index:
            return f"held back: message {first} of FIFO group {group!r} failed before it"
        return None

    def fail(self, p: _Prepared, reason: str, *, held: bool = False, maybe: bool = False) -> None:
        self.result.failed.append(Failed(p.index, reason, held_back=held, maybe_sent=maybe))
        if p.span is not None:
            p.span.end(**{tracing.OUTCOME: "failed", tracing.REASON: reason})
        if p.group_id is not None:
            self.blocked.setdefault(p.group_id, p.index)
        if p.pointer is not None and not maybe:
            self.orphans.append(p.pointer)


def pack(
    sizes: Sequence[int],
    *,
    max_entries: int = SQS_BATCH_MAX_ENTRIES,
    max_bytes: int = SQS_MAX_MESSAGE_BYTES,
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


def _retryable(error: Exception) -> bool:
    if isinstance(error, BotoConnectionError | HTTPClientError):  # no connection, or a timeout
        return True
    if not isinstance(error, ClientError):
        return False
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return error.response.get("Error", {}).get("Code") in _RETRYABLE_CODES or status >= 500


def _reason(error: BaseException) -> str:
    if isinstance(error, ClientError):
        return error_text(error)
    return f"{type(error).__name__}: {error}"


class Producer:
    """Sends to one queue with as few requests as the limits allow.

    ``max_message_size`` defaults to the queue's ``MaximumMessageSize`` (read once with
    GetQueueAttributes, docs/aws-facts.md#sqs-limits); a message larger than it, body plus
    attribute bytes, is offloaded when a payload store is given, whatever the store's
    threshold. A store with ``threshold="queue"`` offloads nothing else, so messages up to
    the queue's maximum (1 MiB) travel inline; the default threshold (262,144 bytes)
    offloads what the official Extended Clients offload.
    ``group_key`` / ``tenant_key`` give a message without its own ``group_id`` /
    ``tenant`` one: a field of its JSON body (``"customer_id"``) or a function of the
    :class:`Message`, so one entity's messages share a group and entities spread.
    """

    def __init__(
        self,
        queue_url: str,
        *,
        sqs_client: Any = None,
        session: Any = None,
        payloads: PayloadStore | None = None,
        max_message_size: int | None = None,
        group_key: Key | None = None,
        tenant_key: Key | None = None,
        max_attempts: int = 4,
        base_delay: float = 0.05,
        max_delay: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.queue_url = queue_url
        self.fifo = queue_url.endswith(".fifo")
        self.payloads = payloads
        self.group_key = group_key
        self.tenant_key = tenant_key
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
            self._max_size = int(attributes.get("MaximumMessageSize", SQS_MAX_MESSAGE_BYTES))
        return self._max_size

    def send_many(self, messages: Iterable[Message | str]) -> SendResult:
        """Send every message; the result says which were sent and which failed, and why.

        Never raises for a message or an AWS error: each one is reported in the result.
        """
        items = [Message(m) if isinstance(m, str) else m for m in messages]
        call = _Call()
        try:
            self.max_message_size  # noqa: B018 - read the queue's limit once, up front
        except Exception as error:  # the queue is unreachable: nothing can be sent
            call.result.failed = [Failed(i, _reason(error)) for i in range(len(items))]
            return call.result
        prepared = [p for i, m in enumerate(items) if (p := self._prepare_one(i, m, call))]
        for batch in pack([p.size for p in prepared]):
            ready: list[_Prepared] = []
            for p in (prepared[i] for i in batch):
                held = call.held(p.group_id, p.index)
                if held:
                    call.fail(p, held, held=True)
                else:
                    ready.append(p)
            try:
                self._send_batch(ready, call)
            except Exception as error:  # never leave a message unreported
                done = {s.index for s in call.result.sent} | {f.index for f in call.result.failed}
                for p in ready:
                    if p.index not in done:
                        call.fail(p, f"{_reason(error)}; it may have been sent", maybe=True)
        self._delete_orphans(call)
        call.result.sent.sort(key=lambda s: s.index)
        call.result.failed.sort(key=lambda f: f.index)
        return call.result

    def _prepare_one(self, index: int, message: Message, call: _Call) -> _Prepared | None:
        """The batch entry for ``message``, or None after reporting why it is not sent."""
        unsent = _Prepared(index, {}, 0, None, None)
        try:
            unsent.message_group = message_group(
                message, fifo=self.fifo, group_key=self.group_key, tenant_key=self.tenant_key
            )
        except Exception as error:
            call.fail(unsent, _reason_of(error))
            return None
        unsent.group_id = unsent.message_group if self.fifo else None
        held = call.held(unsent.group_id, index)
        if held:
            call.fail(unsent, held, held=True)
            return None
        try:
            return self._prepare(message, unsent)
        except Exception as error:
            call.fail(unsent, _reason_of(error))
            return None

    def _prepare(self, message: Message, p: _Prepared) -> _Prepared:
        """Fill ``p`` in for ``message``; ``p.pointer`` is set as soon as a body is offloaded."""
        if not message.body:
            raise UsageError("message body is empty; SQS needs at least one character")
        for name in RESERVED_ATTRIBUTES:
            if name in message.message_attributes:
                raise UsageError(
                    f"message attribute {name!r} is reserved for S3 payload pointers "
                    "(Extended Client format); rename it"
                )
        body = message.body
        attributes = {name: dict(attr) for name, attr in message.message_attributes.items()}
        too_big = message_size(body, attributes) > self.max_message_size
        if self.payloads is not None:
            try:
                payload = self.payloads.offload(body, attributes, force=too_big)
            except PayloadError:
                raise
            except Exception as error:
                raise PayloadError(f"body not offloaded to S3: {_reason(error)}") from error
            body, attributes, p.pointer = payload.body, payload.message_attributes, payload.pointer
        size = message_size(body, attributes)
        if size > self.max_message_size:
            raise PayloadTooLarge(
                f"message is {size:,} bytes, over the queue's maximum of "
                f"{self.max_message_size:,}; offload it to S3 (Producer(payloads=PayloadStore"
                "(bucket)), or --bucket on the command line)"
            )
        group = p.message_group
        entry: dict[str, Any] = {"Id": str(p.index), "MessageBody": body}
        if attributes:
            entry["MessageAttributes"] = attributes
        if group is not None:
            entry["MessageGroupId"] = group
        if message.deduplication_id is not None:
            entry["MessageDeduplicationId"] = check_id(
                message.deduplication_id, "message deduplication id"
            )
        elif self.fifo:
            entry["MessageDeduplicationId"] = deduplication_id(message.body, group)
        if message.delay_seconds is not None:
            entry["DelaySeconds"] = message.delay_seconds
        p.span = tracing.start_send(self.queue_url, **{tracing.OFFLOADED: p.pointer is not None})
        entry |= tracing.system_entry(p.span)  # AWSTraceHeader, when tracing is on
        p.entry, p.size = entry, size
        return p

    def _send_batch(self, batch: list[_Prepared], call: _Call) -> None:
        """Send one batch with retries; record every entry as sent or failed in ``call``."""
        pending = batch
        for attempt in range(self._max_attempts):
            if not pending:
                return
            if attempt:
                delay = min(self._max_delay, self._base_delay * 2 ** (attempt - 1))
                self._sleep(self._jitter() * delay)
            last = attempt == self._max_attempts - 1
            try:
                response = self._client().send_message_batch(
                    QueueUrl=self.queue_url, Entries=[p.entry for p in pending]
                )
            except Exception as error:
                if _retryable(error) and not last:
                    continue
                maybe = not isinstance(error, _NOT_DELIVERED)
                reason = _reason(error) + ("; it may have been sent" if maybe else "")
                for p in pending:
                    call.fail(p, reason, maybe=maybe)
                return
            pending = self._settle(pending, response, last, call)

    def _settle(
        self, pending: list[_Prepared], response: Mapping[str, Any], last: bool, call: _Call
    ) -> list[_Prepared]:
        """Record a batch response; return the entries to try again, in order."""
        ok = {e["Id"]: e for e in response.get("Successful", [])}
        bad = {e["Id"]: e for e in response.get("Failed", [])}
        retry: list[_Prepared] = []
        for position, p in enumerate(pending):
            if p.entry["Id"] in ok:
                sent = ok[p.entry["Id"]]
                if p.span is not None:
                    p.span.end(**{tracing.MESSAGE_ID: sent["MessageId"], tracing.OUTCOME: "sent"})
                call.result.sent.append(
                    Sent(
                        p.index,
                        sent["MessageId"],
                        p.pointer is not None,
                        sent.get("SequenceNumber"),
                    )
                )
                continue
            failure = bad.get(p.entry["Id"], {"Code": "Missing", "Message": "not in the response"})
            reason = f"{failure.get('Code', 'Error')}: {failure.get('Message', '')}"
            overtaken = p.group_id is not None and any(
                q.group_id == p.group_id and q.entry["Id"] in ok for q in pending[position + 1 :]
            )
            held = call.held(p.group_id, p.index)  # an earlier message of its group failed
            if held:
                reason += f"; not retried: {held}"
            elif overtaken:
                reason += (
                    f"; not retried: a later message of FIFO group {p.group_id!r} was sent, "
                    "so sending this one now would break the group's order"
                )
            if held or overtaken or failure.get("SenderFault") or last:
                call.fail(p, reason, maybe=p.entry["Id"] not in bad)
            else:
                retry.append(p)
        return retry

    def _delete_orphans(self, call: _Call) -> None:
        """Delete the objects offloaded for messages that were not sent (best effort)."""
        if not call.orphans or self.payloads is None:
            return
        s3 = self.payloads._s3  # the store's own client, as injected by the caller
        for pointer in call.orphans:
            try:
                s3().delete_object(Bucket=pointer.bucket, Key=pointer.key)
            except Exception as error:
                where = f"s3://{pointer.bucket}/{pointer.key}"
                call.result.payloads_not_deleted.append(f"{where}: {_reason(error)}")
            else:
                call.result.payloads_deleted += 1


def _reason_of(error: Exception) -> str:
    """A preparation failure's reason: our own messages as they are, others with their type."""
    if isinstance(error, UsageError | PayloadError):
        return str(error)
    return _reason(error)
