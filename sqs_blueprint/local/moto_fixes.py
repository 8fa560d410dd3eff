"""Where the local cloud adapts moto 5.2's SQS to behave as SQS does
(docs/aws-facts.md#local-cloud).

Applied once per process by :meth:`LocalCloud.start`; each fix says what moto
does and what SQS does instead.
"""

from __future__ import annotations

from typing import Any

_APPLIED = "_sqs_blueprint_fix"


def apply() -> None:
    """Patch moto's SQS backend in this process (idempotent)."""
    from moto.sqs.models import SQSBackend

    if getattr(SQSBackend.receive_message, _APPLIED, False):
        return
    original = SQSBackend.receive_message

    def receive_message(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        free_timed_out_groups(self.get_queue(queue_name))
        return original(self, queue_name, *args, **kwargs)

    setattr(receive_message, _APPLIED, True)
    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
    SQSBackend.is_message_valid_based_on_retention_period = within_retention  # type: ignore[method-assign,assignment]


def free_timed_out_groups(queue: Any) -> None:
    """Redeliver a FIFO group's timed-out messages in order.

    moto frees a timed-out message's group only when its receive loop reaches
    that message, so when several messages of a group time out together the
    group still looks busy at the first one and the later one is handed out
    first. SQS hands them out in order; freeing them all before the loop does too.
    """
    for message in [m for m in queue.pending_messages if m.visible]:
        queue.pending_messages.discard(message)


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
