"""The client-side move: only the chosen messages, at-least-once, never lost.

Each message is re-sent as it was received (body, message attributes, and an S3
pointer with its reserved attribute untouched, FACTS §4), with its group id on
FIFO queues, and deleted from the DLQ only after its send succeeded. The
messages not chosen are held for the run and handed back at its end.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from sqs_blueprint.payload import PayloadResolver, message_size
from sqs_blueprint.producer import pack
from sqs_blueprint.redrive.letters import dead_letter
from sqs_blueprint.redrive.queues import Queue, receive, release
from sqs_blueprint.redrive.result import Progress, RedriveResult
from sqs_blueprint.redrive.select import Selector


def _deduplication_id(dlq_arn: str, message: Mapping[str, Any]) -> str:
    """The same for every retry of one move, new each time a message is dead-lettered again.

    The DLQ's sequence number changes when a message arrives in it again, so a
    redriven message that fails and is redriven within 5 minutes (FACTS §1) is
    not taken for a duplicate of itself.
    """
    attributes = message.get("Attributes") or {}
    key = f"{dlq_arn}|{message['MessageId']}|{attributes.get('SequenceNumber', '')}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def entry(index: int, message: Mapping[str, Any], dlq: Queue) -> dict[str, Any]:
    """A SendMessageBatch entry that re-sends the message as it was received."""
    entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
    if message.get("MessageAttributes"):
        # Kept verbatim: an S3 pointer keeps its reserved attribute (FACTS §4).
        entry["MessageAttributes"] = message["MessageAttributes"]
    attributes = message.get("Attributes") or {}
    if attributes.get("AWSTraceHeader"):
        entry["MessageSystemAttributes"] = {
            "AWSTraceHeader": {"DataType": "String", "StringValue": attributes["AWSTraceHeader"]}
        }
    if dlq.fifo:
        entry["MessageGroupId"] = attributes["MessageGroupId"]
        entry["MessageDeduplicationId"] = _deduplication_id(dlq.arn, message)
    return entry


class Pacer:
    """Keeps a client-side move at or below ``rate`` messages per second."""

    def __init__(self, rate: int | None) -> None:
        self.rate = rate
        self.start = time.monotonic()
        self.count = 0

    def wait(self, count: int) -> None:
        if self.rate is not None:
            ahead = self.count / self.rate - (time.monotonic() - self.start)
            if ahead > 0:
                time.sleep(ahead)
        self.count += count


@dataclass
class _Move:
    """The state of one client-side run."""

    held: dict[str, str] = field(default_factory=dict)  # id -> receipt handle, given back
    moved: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: int = 0
    seen: int = 0
    failed_groups: set[str] = field(default_factory=set)


def _group(message: Mapping[str, Any]) -> str | None:
    return (message.get("Attributes") or {}).get("MessageGroupId")


def _send(
    sqs: Any, dlq: Queue, destination: Queue, batch: list[dict[str, Any]], move: _Move
) -> None:
    """Send one batch, then delete from the DLQ what was sent; hold what was not."""
    for message in batch:
        if dlq.fifo and _group(message) in move.failed_groups:
            move.failed[message["MessageId"]] = (
                f"not sent: an earlier message of group {_group(message)} was not sent"
            )
            move.held[message["MessageId"]] = message["ReceiptHandle"]
    by_index = dict(enumerate(m for m in batch if m["MessageId"] not in move.held))
    if not by_index:
        return
    try:
        response = sqs.send_message_batch(
            QueueUrl=destination.url, Entries=[entry(i, m, dlq) for i, m in by_index.items()]
        )
        failures = {int(f["Id"]): f.get("Message", f.get("Code", "")) for f in response["Failed"]}
    except ClientError as error:
        failures = dict.fromkeys(by_index, str(error))
    for index, reason in sorted(failures.items()):
        message = by_index.pop(index)
        move.failed[message["MessageId"]] = f"not sent: {reason}"
        move.held[message["MessageId"]] = message["ReceiptHandle"]
        group = _group(message)
        if dlq.fifo and group is not None:
            move.failed_groups.add(group)
            ahead = sum(1 for i, m in by_index.items() if i > index and _group(m) == group)
            if ahead:
                move.failed[message["MessageId"]] += (
                    f"; {ahead} later message(s) of group {group} in the same batch were sent"
                )
    if not by_index:
        return
    response = sqs.delete_message_batch(
        QueueUrl=dlq.url,
        Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in by_index.items()],
    )
    for failure in response.get("Failed", []):
        message = by_index.pop(int(failure["Id"]))
        move.failed[message["MessageId"]] = (
            "sent, but not deleted from the DLQ, so it is in both queues "
            f"(a later redrive sends it again): {failure.get('Message', failure.get('Code'))}"
        )
    move.moved += [m["MessageId"] for m in by_index.values()]


def _choose(
    messages: list[dict[str, Any]],
    select: Selector | None,
    resolver: PayloadResolver,
    move: _Move,
) -> list[dict[str, Any]]:
    """The messages to send now; the others are held until the end of the run."""
    chosen: list[dict[str, Any]] = []
    for message in messages:
        message_id = message["MessageId"]
        seen = message_id in move.held
        move.held[message_id] = message["ReceiptHandle"]
        if seen:
            continue  # back after its visibility ran out: already counted
        move.seen += 1
        if select is not None and not select(dead_letter(message, resolver)):
            move.skipped += 1
            continue
        del move.held[message_id]
        chosen.append(message)
    return chosen


def client_side(
    sqs: Any,
    dlq: Queue,
    destination: Queue,
    *,
    select: Selector | None,
    resolver: PayloadResolver,
    rate: int | None,
    visibility: int,
    wait_seconds: int,
    progress: Progress | None,
) -> RedriveResult:
    move = _Move()
    pacer = Pacer(rate)
    try:
        while True:
            before = move.seen
            received = receive(sqs, dlq.url, visibility, wait_seconds)
            chosen = _choose(received, select, resolver, move)
            sizes = [message_size(m["Body"], m.get("MessageAttributes")) for m in chosen]
            for indexes in pack(sizes):
                pacer.wait(len(indexes))
                _send(sqs, dlq, destination, [chosen[i] for i in indexes], move)
            if progress is not None:
                progress(len(move.moved), None)
            if move.seen == before:
                break  # nothing new: every reachable message has been seen
        unreached = int(
            sqs.get_queue_attributes(
                QueueUrl=dlq.url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"].get("ApproximateNumberOfMessages", 0)
        )
    finally:
        release(sqs, dlq.url, move.held.values())
    return RedriveResult(
        path="client-side",
        moved=len(move.moved),
        skipped=move.skipped,
        failed=move.failed,
        moved_ids=tuple(move.moved),
        unreached=unreached,
    )
