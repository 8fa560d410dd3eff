"""The client-side move: only the chosen messages, at-least-once, never lost.

Each message is re-sent as it was received (body, message attributes, and an S3
pointer with its reserved attribute untouched, docs/aws-facts.md#extended-client-wire-format), with
its group id on
FIFO queues, and deleted from the DLQ only after its send succeeded. The
messages not chosen are held for the run and handed back at its end.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sqs_blueprint import tracing
from sqs_blueprint.payload import PayloadResolver, message_size
from sqs_blueprint.producer import pack
from sqs_blueprint.redrive.letters import dead_letter
from sqs_blueprint.redrive.queues import Queue, brief, receive, release, visible
from sqs_blueprint.redrive.result import Progress, RedriveResult
from sqs_blueprint.redrive.select import Selector

log = logging.getLogger(__name__)


def _deduplication_id(dlq_arn: str, message: Mapping[str, Any]) -> str:
    """The same for every retry of one move, new each time a message is dead-lettered again.

    The DLQ's sequence number changes when a message arrives in it again, so a
    redriven message that fails and is redriven within 5 minutes (docs/aws-facts.md#sqs-limits) is
    not taken for a duplicate of itself.
    """
    attributes = message.get("Attributes") or {}
    key = f"{dlq_arn}|{message['MessageId']}|{attributes.get('SequenceNumber', '')}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def entry(index: int, message: Mapping[str, Any], dlq: Queue) -> dict[str, Any]:
    """A SendMessageBatch entry that re-sends the message as it was received."""
    entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
    if message.get("MessageAttributes"):
        # Kept verbatim: an S3 pointer keeps its reserved attribute
        # (docs/aws-facts.md#extended-client-wire-format).
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


DELETE_ATTEMPTS = 4  # one DeleteMessageBatch and up to three retries
DELETE_BACKOFF_S = 0.2  # doubled after each failed attempt: 0.2, 0.4, 0.8 s


@dataclass
class _Move:
    """The state of one client-side run."""

    held: dict[str, str] = field(default_factory=dict)  # id -> receipt handle, not deleted
    in_flight: set[str] = field(default_factory=set)  # chosen, not yet moved or failed
    moved: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # not sent: still only in the DLQ
    duplicated: dict[str, str] = field(default_factory=dict)  # sent, not deleted: in both
    skipped: int = 0
    seen: int = 0
    failed_groups: set[str] = field(default_factory=set)

    def stop(self) -> None:
        """The run stopped: what was chosen but not settled stays in the DLQ, maybe sent."""
        for message_id in self.in_flight:
            self.failed[message_id] = (
                "the run stopped before its move was confirmed: it is in the DLQ and may "
                "also have reached the destination"
            )
        self.in_flight.clear()

    def result(self, unreached: int = 0, stopped: str | None = None) -> RedriveResult:
        return RedriveResult(
            path="client-side",
            moved=len(self.moved),
            skipped=self.skipped,
            failed=dict(self.failed),
            duplicated=dict(self.duplicated),
            moved_ids=tuple(self.moved),
            unreached=unreached,
            seen=self.seen,
            status="COMPLETED" if stopped is None else "INTERRUPTED",
            failure_reason=stopped,
        )


def _group(message: Mapping[str, Any]) -> str | None:
    return (message.get("Attributes") or {}).get("MessageGroupId")


def delete(sqs: Any, url: str, handles: Mapping[int, str]) -> dict[int, str]:
    """Delete messages from the DLQ, retrying with backoff; why each one left was not deleted.

    A failed entry or a failed call is retried up to DELETE_ATTEMPTS times in all,
    waiting DELETE_BACKOFF_S and doubling. Deleting twice is harmless.
    """
    pending = dict(handles)
    failures: dict[int, str] = {}
    for attempt in range(DELETE_ATTEMPTS):
        if attempt:
            time.sleep(DELETE_BACKOFF_S * 2 ** (attempt - 1))
        entries = [{"Id": str(i), "ReceiptHandle": handle} for i, handle in pending.items()]
        try:
            response = sqs.delete_message_batch(QueueUrl=url, Entries=entries)
        except (BotoCoreError, ClientError) as error:
            failures = dict.fromkeys(pending, brief(error))
            continue
        failures = {
            int(f["Id"]): f"{f.get('Code', 'Error')}: {f.get('Message', '')}"
            for f in response.get("Failed", [])
        }
        pending = {i: pending[i] for i in failures}
        if not pending:
            break
    return failures


def _hold(move: _Move, message: Mapping[str, Any], reason: str) -> None:
    """Leave a message in the DLQ, handed back at the end of the run."""
    move.failed[message["MessageId"]] = reason
    move.in_flight.discard(message["MessageId"])


def _send_batch(
    sqs: Any, dlq: Queue, destination: Queue, by_index: dict[int, Any]
) -> dict[int, str]:
    """Send one batch; why each entry that was not sent failed."""
    try:
        response = sqs.send_message_batch(
            QueueUrl=destination.url, Entries=[entry(i, m, dlq) for i, m in by_index.items()]
        )
    except ClientError as error:
        return dict.fromkeys(by_index, str(error))
    except BotoCoreError as error:  # no answer: the batch may or may not have arrived
        return dict.fromkeys(by_index, f"{brief(error)} (it may have reached {destination.url})")
    if tracing.enabled():
        _note_redriven(dlq, destination, by_index, response.get("Successful", []))
    return {int(f["Id"]): f.get("Message", f.get("Code", "")) for f in response["Failed"]}


def _note_redriven(
    dlq: Queue, destination: Queue, by_index: dict[int, Any], sent: list[dict[str, Any]]
) -> None:
    """A "redriven" moment in each moved message's trace: its header is kept, so the new
    message (a new id) goes on in the same trace."""
    for ok in sent:
        message = by_index[int(ok["Id"])]
        tracing.event(
            (message.get("Attributes") or {}).get(tracing.HEADER),
            "redriven",
            **{
                tracing.MESSAGE_ID: message["MessageId"],
                "sqs_blueprint.new_message_id": ok["MessageId"],
                "sqs_blueprint.source": dlq.url,
                tracing.DESTINATION: destination.url,
            },
        )


def _send(
    sqs: Any, dlq: Queue, destination: Queue, batch: list[dict[str, Any]], move: _Move
) -> None:
    """Send one batch, then delete from the DLQ what was sent; hold what was not."""
    for message in batch:
        if dlq.fifo and _group(message) in move.failed_groups:
            _hold(
                move,
                message,
                f"not sent: an earlier message of group {_group(message)} was not sent",
            )
    by_index = dict(enumerate(m for m in batch if m["MessageId"] not in move.failed))
    if not by_index:
        return
    failures = _send_batch(sqs, dlq, destination, by_index)
    for index, reason in sorted(failures.items()):
        message = by_index.pop(index)
        group = _group(message)
        ahead = sum(1 for i, m in by_index.items() if i > index and _group(m) == group)
        if dlq.fifo and group is not None:
            move.failed_groups.add(group)
        if dlq.fifo and ahead:
            reason += f"; {ahead} later message(s) of group {group} in the same batch were sent"
        _hold(move, message, f"not sent: {reason}")
    unremoved = delete(sqs, dlq.url, {i: m["ReceiptHandle"] for i, m in by_index.items()})
    for index, reason in unremoved.items():
        message = by_index.pop(index)
        move.duplicated[message["MessageId"]] = (
            f"sent, but not deleted from the DLQ after {DELETE_ATTEMPTS} attempts (delete it "
            f"there, or a later redrive sends it again): {reason}"
        )
        move.in_flight.discard(message["MessageId"])
    for message in by_index.values():
        del move.held[message["MessageId"]]
        move.in_flight.discard(message["MessageId"])
        move.moved.append(message["MessageId"])


def _choose(
    messages: list[dict[str, Any]],
    select: Selector | None,
    resolver: PayloadResolver,
    allowed: Collection[str] | None,
    move: _Move,
) -> list[dict[str, Any]]:
    """The messages to send now. Every message is held until deleted or handed back."""
    chosen: list[dict[str, Any]] = []
    for message in messages:
        message_id = message["MessageId"]
        seen = message_id in move.held
        move.held[message_id] = message["ReceiptHandle"]
        if seen:
            continue  # back after its visibility ran out: already counted
        move.seen += 1
        if select is not None and not _selected(select, message, resolver, allowed):
            move.skipped += 1
            continue
        move.in_flight.add(message_id)
        chosen.append(message)
    return chosen


def _selected(
    select: Selector,
    message: Mapping[str, Any],
    resolver: PayloadResolver,
    allowed: Collection[str] | None,
) -> bool:
    try:
        return select(dead_letter(message, resolver, allowed))
    except Exception:  # a selector that fails on one message leaves that message alone
        log.warning(
            "selector failed on message %s; leaving it in the DLQ",
            message["MessageId"],
            exc_info=True,
        )
        return False


def _run(
    sqs: Any,
    dlq: Queue,
    destination: Queue,
    move: _Move,
    choose: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
    *,
    rate: int | None,
    visibility: int,
    wait_seconds: int,
    progress: Progress | None,
) -> int:
    """Receive, choose, send and delete until nothing new arrives; about how many are left."""
    pacer = Pacer(rate)
    reported = 0  # progress reports moves: nothing until the first one
    while True:
        before = move.seen
        chosen = choose(receive(sqs, dlq.url, visibility, wait_seconds))
        sizes = [message_size(m["Body"], m.get("MessageAttributes")) for m in chosen]
        for indexes in pack(sizes):
            pacer.wait(len(indexes))
            _send(sqs, dlq, destination, [chosen[i] for i in indexes], move)
        if progress is not None and len(move.moved) > reported:
            reported = len(move.moved)
            progress(reported, None)
        if move.seen == before:
            break  # nothing new: every reachable message has been seen
    return visible(sqs, dlq.url)  # still held: what is visible was never reached


def client_side(
    sqs: Any,
    dlq: Queue,
    destination: Queue,
    *,
    select: Selector | None,
    resolver: PayloadResolver,
    allowed: Collection[str] | None = None,
    rate: int | None,
    visibility: int,
    wait_seconds: int,
    progress: Progress | None,
) -> RedriveResult:
    """Move the chosen messages; the result says what moved and what is where, even if stopped.

    An error that stops the run (a receive refused, the network gone) ends it
    with status INTERRUPTED and the error as ``failure_reason``; Ctrl-C is
    re-raised with the summary attached as a note. Either way the messages held
    back are handed back first.
    """
    move = _Move()

    def choose(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return _choose(messages, select, resolver, allowed, move)

    try:
        unreached = _run(
            sqs,
            dlq,
            destination,
            move,
            choose,
            rate=rate,
            visibility=visibility,
            wait_seconds=wait_seconds,
            progress=progress,
        )
    except Exception as error:  # the run ends with its summary, whatever stopped it
        move.stop()
        return move.result(stopped=f"stopped by {brief(error)}")
    except KeyboardInterrupt as interrupt:
        move.stop()
        interrupt.add_note(move.result(stopped="stopped by Ctrl-C").summary())
        raise
    finally:
        release(sqs, dlq.url, move.held.values())
    return move.result(unreached)
