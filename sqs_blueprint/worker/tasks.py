"""What the worker knows about one task's messages: FIFO groups and failures."""

from __future__ import annotations

from collections.abc import Mapping

from sqs_blueprint.backoff import Failure
from sqs_blueprint.worker.inflight import Message


def as_failure(message: Message) -> Failure:
    """A failed message as the retry backoff sees it."""
    attributes = message.get("Attributes", {})
    return Failure(
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        receive_count=int(attributes.get("ApproximateReceiveCount", 1)),
        group_id=attributes.get("MessageGroupId"),
    )


def group_id(message: Message) -> str | None:
    group: str | None = message.get("Attributes", {}).get("MessageGroupId")
    return group


def held_back(message: Message, task: list[Message], failed: Mapping[str, str]) -> bool:
    """Whether an earlier record of ``message``'s FIFO group in ``task`` failed."""
    group = group_id(message)
    for earlier in task:
        if earlier is message:
            return False
        if earlier["MessageId"] in failed and group_id(earlier) == group:
            return True
    return False
