"""Dead-letter queue operations: inspect, redrive to source, cancel a move.

Inspect receives with a short visibility and hands every message straight back
(visibility 0), so nothing is consumed. Redrive has two paths:

- native (``native``): a message move task. It moves every message.
- client-side (``client_side``): moves only the chosen messages (``select``),
  each deleted from the DLQ only after its send succeeded.

Where the service has no move tasks (moto, docs/aws-facts.md#local-cloud) the native path falls back
to the client-side one and says so. ``queues`` finds and describes the queues;
``letters`` reads dead letters without consuming them.

Both page by holding what they received (short visibility) and receiving again,
which reaches every message of a standard queue but, on a FIFO queue, only the
first receive's worth of each message group: SQS hands out a group's later
messages only once the earlier ones leave the queue
(docs/aws-facts.md#sqs-limits). What was left unseen is counted
(``Survey.unseen``, ``RedriveResult.unreached``) from the visible count read
while everything seen is still held.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from typing import Any

from sqs_blueprint._clients import LazyClient
from sqs_blueprint.payload import PayloadResolver, PayloadStore
from sqs_blueprint.redrive.client_side import client_side as _client_side
from sqs_blueprint.redrive.letters import DeadLetter, Survey, dead_letter, inspect, survey
from sqs_blueprint.redrive.native import MoveTasksUnsupported, cancel, follow, move, start_move
from sqs_blueprint.redrive.queues import (
    MAX_RATE,
    MAX_VISIBILITY,
    MAX_WAIT,
    PayloadBuckets,
    QueueNotFound,
    RedriveError,
    RedriveUsageError,
    check_receive,
    consumer_buckets,
    describe,
    destination,
    queue_url,
    redrive_allowed,
    source_queues,
)
from sqs_blueprint.redrive.result import Progress, RedriveResult
from sqs_blueprint.redrive.select import Selector, by_ids, where

__all__ = [
    "MAX_RATE",
    "MAX_VISIBILITY",
    "MAX_WAIT",
    "DeadLetter",
    "MoveTasksUnsupported",
    "PayloadBuckets",
    "Progress",
    "QueueNotFound",
    "RedriveError",
    "RedriveResult",
    "RedriveUsageError",
    "Selector",
    "Survey",
    "by_ids",
    "cancel",
    "consumer_buckets",
    "dead_letter",
    "follow",
    "inspect",
    "queue_url",
    "redrive",
    "redrive_allowed",
    "source_queues",
    "start_move",
    "survey",
    "where",
]

log = logging.getLogger(__name__)

Notify = Callable[[str], None]


def redrive(
    dlq: str,
    *,
    to: str | None = None,
    select: Selector | None = None,
    rate: int | None = None,
    client_side: bool = False,
    sqs_client: Any = None,
    resolver: PayloadResolver | None = None,
    buckets: Collection[str] | None = None,
    progress: Progress | None = None,
    notify: Notify | None = None,
    started: Callable[[str], None] | None = None,
    wait: bool = True,
    visibility: int = 600,
    wait_seconds: int = 1,
    poll_seconds: float = 2.0,
) -> RedriveResult:
    """Move messages from a DLQ (URL, name or ARN) back to its source, or to ``to``.

    Natively (a move task) unless ``client_side`` or ``select`` is given, or the
    service has no move tasks (then ``notify`` is told and the client-side path
    runs). ``started`` is given a native task's handle as soon as it exists;
    ``wait=False`` returns then, otherwise ``progress`` follows the task.
    Client-side, chosen messages are sent and deleted as they are received;
    the others are held for up to ``visibility`` seconds (the run must fit in
    it) and handed back at the end. ``wait_seconds`` is each receive's long
    poll: 1 s or more makes SQS look at every server before it answers empty.
    ``select`` sees S3 payloads only from ``buckets`` (default: the consumers'
    payload buckets, :func:`consumer_buckets`); others count as unreadable.
    An error that stops a client-side run ends it with status INTERRUPTED.
    """
    if rate is not None and not 1 <= rate <= MAX_RATE:
        raise RedriveUsageError(f"rate must be 1 .. {MAX_RATE} messages per second, got {rate}")
    check_receive(visibility, wait_seconds)
    notify = notify if notify is not None else log.warning
    sqs = LazyClient("sqs", sqs_client)()
    source = describe(sqs, queue_url(dlq, sqs_client=sqs))
    target = destination(sqs, source, to)
    if not (client_side or select is not None):
        try:
            return move(
                sqs,
                source.arn,
                destination_arn=target.arn if to is not None else None,
                rate=rate,
                started=started,
                wait=wait,
                progress=progress,
                poll_seconds=poll_seconds,
            )
        except MoveTasksUnsupported as error:
            notify(f"{error}; moving the messages client-side instead")
    if select is not None and buckets is None and resolver is None:
        buckets = consumer_buckets(source.url, sqs_client=sqs).buckets
    return _client_side(
        sqs,
        source,
        target,
        select=select,
        resolver=resolver if resolver is not None else PayloadStore(allowed_buckets=buckets),
        allowed=buckets,
        rate=rate,
        visibility=visibility,
        wait_seconds=wait_seconds,
        progress=progress,
    )
