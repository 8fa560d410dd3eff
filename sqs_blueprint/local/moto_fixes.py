"""Where the local cloud adapts moto 5.2's SQS to behave as SQS does
(docs/aws-facts.md#local-cloud).

Applied once per process by :meth:`LocalCloud.start`; each fix says what moto
does and what SQS does instead.
"""

from __future__ import annotations

import re
from typing import Any

from sqs_blueprint import tracing
from sqs_blueprint.limits import SQS_MAX_MESSAGE_BYTES
from sqs_blueprint.local import fast_sqs
from sqs_blueprint.payload import message_size

_APPLIED = "_sqs_blueprint_fix"


def apply() -> None:
    """Patch moto's SQS backend in this process (idempotent)."""
    from moto.sqs.models import SQSBackend

    if getattr(SQSBackend, _APPLIED, False):
        return
    setattr(SQSBackend, _APPLIED, True)
    fast_sqs.apply()  # indexed queues, fair queues, FIFO groups freed in order
    SQSBackend.is_message_valid_based_on_retention_period = within_retention  # type: ignore[method-assign,assignment]
    _enforce_message_size(SQSBackend)
    _no_moto_triggers()
    _note_dead_letters()


def _note_dead_letters() -> None:
    """Note each move to a dead-letter queue in the local collector's spans file.

    SQS moves a message to its DLQ on the receive past ``maxReceiveCount``; no
    consumer sees that moment, so the server notes it: a message arriving in a
    queue after it was received is such a move (a redrive sends a new message).
    """
    from moto.sqs.models import Queue

    add = Queue.add_message

    def add_message(queue: Any, message: Any) -> None:
        add(queue, message)
        path = tracing.collector()
        if path is not None and message.approximate_receive_count > 0:
            header = (message.system_attributes or {}).get(tracing.HEADER) or {}
            tracing.note(
                path,
                "dead-lettered",
                header.get("StringValue"),
                **{
                    tracing.MESSAGE_ID: message.id,
                    tracing.DESTINATION: queue.name,
                    tracing.RECEIVE_COUNT: message.approximate_receive_count,
                },
            )

    setattr(Queue, "add_message", add_message)  # noqa: B010


def _no_moto_triggers() -> None:
    """Only the local runner receives for an event-source mapping.

    moto's ``CreateEventSourceMapping`` stores the mapping on the queue
    (``Queue.lambda_event_source_mappings``) and ``Queue.add_message`` then
    receives each new message for it and invokes the function, which needs
    Docker: without it the invoke fails, the message has counted a receive and
    was hidden from the runner meanwhile. Lambda's pollers are the only
    receivers of a mapped queue; here the runner is. The queue's mapping table
    is made one that never keeps an entry, so moto's trigger has none to follow,
    from the moment a mapping is created (the mappings stay in the Lambda
    backend, where ``list_event_source_mappings`` and the runner find them).
    """
    from moto.sqs.models import Queue

    never_kept = property(lambda queue: {}, lambda queue, value: None)
    setattr(Queue, "lambda_event_source_mappings", never_kept)  # noqa: B010


def within_retention(backend: Any, queue_name: str, message: Any) -> bool:
    """moto's retention check on each received message, without its pass over the queue.

    moto reads the retention by computing every queue attribute, whose message
    counts walk the whole queue, for each message it hands out (about 60 ms a
    message at a depth of 600). The rule is the same: sent time + retention.
    """
    from moto.core.utils import unix_time

    queue = backend.get_queue(queue_name)
    retain_until: float = queue.message_retention_period + message.sent_timestamp / 1000
    return retain_until > unix_time()


def _enforce_message_size(backend_class: Any) -> None:
    """Refuse messages over the queue's ``MaximumMessageSize`` as SQS does.

    moto compares the body's characters with the queue's maximum and ignores
    message attributes; SQS counts the body's UTF-8 bytes plus each attribute's
    name, data type and value (docs/aws-facts.md#sqs-limits). SendMessage over
    the maximum fails whole with InvalidParameterValue; in SendMessageBatch such
    an entry fails alone (``Failed``, sender's fault) while a batch whose total
    is over 1 MiB fails whole with BatchRequestTooLong
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html,
    docs/aws-facts.md#local-cloud). The size leaves out ``AWSTraceHeader``, as SQS does
    (docs/aws-facts.md#tracing); moto's SendMessageBatch drops each entry's
    ``MessageSystemAttributes``, so they are passed on to each entry's send.
    """
    from moto.sqs.exceptions import BatchRequestTooLong, InvalidParameterValue

    send_one = backend_class.send_message

    def send_message(self: Any, queue_name: str, message_body: str, *args: Any, **kw: Any) -> Any:
        attributes = kw.get("message_attributes") or (args[0] if args else None)
        limit = self.get_queue(queue_name).maximum_message_size
        if message_size(message_body, attributes) > limit:
            raise InvalidParameterValue(too_long(limit))
        return send_one(self, queue_name, message_body, *args, **kw)

    def send_message_batch(self: Any, queue_name: str, entries: dict[str, Any]) -> Any:
        sizes = {key: _entry_size(entry) for key, entry in entries.items()}
        if sum(sizes.values()) > SQS_MAX_MESSAGE_BYTES:
            raise BatchRequestTooLong(sum(sizes.values()))
        limit = self.get_queue(queue_name).maximum_message_size
        fits = {key: entry for key, entry in entries.items() if sizes[key] <= limit}
        messages, failed = _send_batch(self, queue_name, fits) if fits else ([], [])
        refused = [
            {
                "Id": entry["Id"],
                "SenderFault": True,
                "Code": "InvalidParameterValue",
                "Message": too_long(limit),
            }
            for key, entry in entries.items()
            if key not in fits
        ]
        return messages, failed + refused

    backend_class.send_message = send_message
    backend_class.send_message_batch = send_message_batch


def too_long(limit: int) -> str:
    """SQS's reason for a message over the queue's maximum of ``limit`` bytes."""
    return (
        f"One or more parameters are invalid. Reason: Message must be shorter than {limit} bytes."
    )


def _entry_size(entry: dict[str, Any]) -> int:
    return message_size(entry.get("MessageBody") or "", entry.get("MessageAttributes"))


def _send_batch(backend: Any, queue_name: str, entries: dict[str, Any]) -> Any:
    """moto's ``SendMessageBatch`` (its checks first, then each entry sent, an invalid
    delay failing that entry alone) with each entry's ``MessageSystemAttributes``
    (``AWSTraceHeader``) kept, as SQS keeps them; moto's own batch drops them."""
    from moto.sqs.exceptions import (
        BatchEntryIdsNotDistinct,
        InvalidBatchEntryId,
        InvalidParameterValue,
        TooManyEntriesInBatchRequest,
    )

    queue = backend.get_queue(queue_name)
    ids = [entry["Id"] for entry in entries.values()]
    if any(not re.fullmatch(r"[\w-]{1,80}", i) for i in ids):
        raise InvalidBatchEntryId()
    if len(set(ids)) < len(ids):
        raise BatchEntryIdsNotDistinct(next(i for i in ids if ids.count(i) > 1))
    if len(entries) > 10:
        raise TooManyEntriesInBatchRequest(len(entries))
    for entry in entries.values():  # every entry checked before any is sent
        backend._validate_message(
            queue,
            entry["MessageBody"],
            int(entry.get("DelaySeconds") or 0),
            entry.get("MessageDeduplicationId"),
            entry.get("MessageGroupId"),
        )
    messages, failed = [], []
    for entry in entries.values():
        try:
            message = backend.send_message(
                queue_name,
                entry["MessageBody"],
                message_attributes=entry.get("MessageAttributes") or {},
                delay_seconds=entry.get("DelaySeconds"),
                group_id=entry.get("MessageGroupId"),
                deduplication_id=entry.get("MessageDeduplicationId"),
                system_attributes=entry.get("MessageSystemAttributes"),
            )
        except InvalidParameterValue as err:
            if "DelaySeconds is invalid" not in str(err):
                raise
            failed.append(
                {"Id": entry["Id"], "SenderFault": True, "Code": err.code, "Message": err.message}
            )
            continue
        message.user_id = entry["Id"]
        messages.append(message)
    return messages, failed
