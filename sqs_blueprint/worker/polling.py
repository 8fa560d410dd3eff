"""One receive of the worker: a long poll that a stop cuts short.

A ``WaitTimeSeconds=20`` call cannot be interrupted: a stopped worker would wait
it out. The wait is sent as long polls of :data:`POLL_SLICE_S` instead, up to
the configured total, so a stop is seen within a slice. Each slice is still a
long poll (1 s or more): SQS looks at every server before it answers empty
(docs/aws-facts.md#sqs-limits). The price: an idle worker makes one
ReceiveMessage a second rather than one per ``WaitTimeSeconds``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from sqs_blueprint.worker.inflight import Message

POLL_SLICE_S = 1  # the longest a stop waits for a receive


def receive(
    sqs: Any,
    queue_url: str,
    *,
    max_messages: int,
    wait_time_seconds: int,
    visibility: int,
    stopping: Callable[[], bool],
) -> list[Message]:
    """Up to ``max_messages`` messages, waiting up to ``wait_time_seconds`` for the first.

    The wait ends early when messages arrive or ``stopping()`` turns true; 0 is
    one short poll.
    """
    wait = min(POLL_SLICE_S, wait_time_seconds)
    for _ in range(max(1, math.ceil(wait_time_seconds / POLL_SLICE_S))):
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=wait,
            VisibilityTimeout=visibility,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[Message] = response.get("Messages", [])
        if messages or stopping():
            return messages
    return []
