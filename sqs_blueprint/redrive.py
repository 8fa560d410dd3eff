"""Dead-letter queue operations: inspect, redrive to source, cancel a move.

Inspect receives with a short visibility and hands every message straight back
(visibility 0), so nothing is consumed. Redrive has two paths:

- native: StartMessageMoveTask, followed with ListMessageMoveTasks, cancelled
  with CancelMessageMoveTask (FACTS §1). It moves every message.
- client-side: moves only the chosen messages. Each message is re-sent as it was
  received (body, message attributes, and an S3 pointer with its reserved
  attribute untouched, FACTS §4), with its group id on FIFO queues, and deleted
  from the DLQ only after its send succeeded: at-least-once, never lost.

Where the service has no move tasks (moto, FACTS §7) the native path falls back
to the client-side one and says so.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import ClientError

from sqs_blueprint._clients import LazyClient
from sqs_blueprint.payload import (
    RESERVED_ATTRIBUTES,
    PayloadError,
    PayloadResolver,
    PayloadStore,
    S3Pointer,
    message_size,
    parse_pointer,
)
from sqs_blueprint.producer import pack
from sqs_blueprint.records import Record

log = logging.getLogger(__name__)

MAX_VISIBILITY = 43_200  # FACTS §1: visibility timeout 0 .. 43,200 s
MAX_WAIT = 20  # FACTS §1: long polling 0 .. 20 s
MAX_RATE = 500  # SQS API reference: MaxNumberOfMessagesPerSecond is at most 500
_RECEIVE_MAX = 10  # FACTS §1: at most 10 entries per batch call
_DONE = frozenset({"COMPLETED", "CANCELLED", "FAILED"})
_MISSING_QUEUE_CODES = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})

Selector = Callable[["DeadLetter"], bool]
Progress = Callable[[int, int | None], None]
Notify = Callable[[str], None]


class RedriveError(Exception):
    """A redrive or inspect request that cannot be carried out as asked (bad usage)."""


class MoveTasksUnsupported(RedriveError):
    """The service has no message move tasks (FACTS §7: moto)."""


def _brief(error: Exception) -> str:
    """One short line for an error: a ClientError's code, else its first line."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        return f"{error.operation_name} answered {code}" if code else type(error).__name__
    first = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {first[:120]}"


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
    size: int  # UTF-8 bytes of the body a consumer sees (the S3 payload if offloaded)
    body: str | None  # None when an S3 payload could not be read (see ``error``)
    payload: str | None = None  # s3://bucket/key of an offloaded body
    error: str | None = None

    def preview(self, width: int = 120) -> str:
        """The body on one line, cut to ``width`` characters."""
        text = f"<{self.error}>" if self.body is None else " ".join(self.body.split())
        return text if len(text) <= width else text[: width - 1] + "…"

    def summary(self) -> str:
        """Two lines for a terminal: the facts, then the body preview."""
        facts = [
            self.message_id,
            f"receives={self.receive_count}",
            f"sent={_iso(self.sent_at)}",
            f"first-received={_iso(self.first_received_at)}",
            f"size={self.size}B",
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


@dataclass(frozen=True)
class RedriveResult:
    """What a redrive did. ``failed`` maps message ids to why they stayed in the DLQ."""

    path: Literal["native", "client-side"]
    moved: int
    skipped: int = 0
    failed: Mapping[str, str] = field(default_factory=dict)
    task_handle: str | None = None
    status: str = "COMPLETED"  # the move task's status on the native path
    failure_reason: str | None = None
    moved_ids: tuple[str, ...] = ()
    unreached: int = 0  # messages left visible and never examined (client-side, approximate)

    @property
    def ok(self) -> bool:
        return self.status == "COMPLETED" and not self.failed

    def summary(self) -> str:
        text = f"{self.path}: {self.status.lower()}, moved {self.moved}"
        if self.path == "client-side":
            text += f", skipped {self.skipped}, failed {len(self.failed)}"
        if self.failure_reason:
            text += f" ({self.failure_reason})"
        if self.unreached:
            text += (
                f"; about {self.unreached} message(s) were not reached (FIFO groups behind "
                "a message left in the DLQ, or messages that arrived during the run)"
            )
        return text


@dataclass(frozen=True)
class _Queue:
    url: str
    arn: str
    fifo: bool
    redrive_allow_policy: str | None


# --- queues ------------------------------------------------------------------


def queue_url(queue: str, *, sqs_client: Any = None) -> str:
    """A queue URL from a URL, a name (GetQueueUrl) or an ARN."""
    if queue.startswith(("https://", "http://")):
        return queue
    kwargs = {"QueueName": queue}
    if queue.startswith("arn:"):
        parts = queue.split(":")
        if len(parts) != 6 or parts[2] != "sqs":
            raise RedriveError(f"{queue!r} is not an SQS queue ARN")
        kwargs = {"QueueName": parts[5], "QueueOwnerAWSAccountId": parts[4]}
    try:
        url: str = LazyClient("sqs", sqs_client)().get_queue_url(**kwargs)["QueueUrl"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in _MISSING_QUEUE_CODES:
            raise RedriveError(
                f"queue {queue!r} does not exist in this account and region "
                "(give its URL, name or ARN)"
            ) from error
        raise
    return url


def source_queues(dlq_url: str, *, sqs_client: Any = None) -> list[str]:
    """URLs of the queues whose RedrivePolicy names this DLQ (ListDeadLetterSourceQueues)."""
    pages = LazyClient("sqs", sqs_client)().get_paginator("list_dead_letter_source_queues")
    return [url for page in pages.paginate(QueueUrl=dlq_url) for url in page.get("queueUrls", [])]


def _describe(sqs: Any, url: str) -> _Queue:
    # "All": moto refuses RedriveAllowPolicy by name (FACTS §7: it does not keep it).
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return _Queue(
        url=url,
        arn=attrs["QueueArn"],
        fifo=attrs.get("FifoQueue") == "true",
        redrive_allow_policy=attrs.get("RedriveAllowPolicy"),
    )


def redrive_allowed(policy: str | None, destination_arn: str) -> bool:
    """True if a DLQ's RedriveAllowPolicy lets its messages go to ``destination_arn``.

    FACTS §1: ``allowAll``, ``denyAll`` or ``byQueue`` with ``sourceQueueArns``.
    No policy (or one that cannot be read) allows nothing beyond the DLQ's sources.
    """
    try:
        value = json.loads(policy or "")
    except ValueError:
        return False
    if not isinstance(value, dict):
        return False
    permission = value.get("redrivePermission")
    if permission == "allowAll":
        return True
    return permission == "byQueue" and destination_arn in (value.get("sourceQueueArns") or [])


def _destination(sqs: Any, dlq: _Queue, to: str | None) -> _Queue:
    """The queue to redrive into: the DLQ's one source, or ``to`` if it is allowed."""
    sources = source_queues(dlq.url, sqs_client=sqs)
    if to is None:
        if not sources:
            raise RedriveError(
                f"DLQ {dlq.url} serves no source queue (no queue's RedrivePolicy names it); "
                "say where to redrive with --to"
            )
        if len(sources) > 1:
            raise RedriveError(
                f"DLQ {dlq.url} serves {len(sources)} source queues, choose one with --to: "
                + ", ".join(sources)
            )
        url = sources[0]
    else:
        url = queue_url(to, sqs_client=sqs)
    destination = _describe(sqs, url)
    if url not in sources and not redrive_allowed(dlq.redrive_allow_policy, destination.arn):
        raise RedriveError(
            f"refusing to redrive DLQ {dlq.url} into {url}: it is not a source of the DLQ "
            f"(sources: {', '.join(sources) or 'none'}) and the DLQ's RedriveAllowPolicy "
            f"({dlq.redrive_allow_policy or 'not set'}) does not allow it; set it to "
            '{"redrivePermission": "allowAll"} or "byQueue" with that queue\'s ARN'
        )
    if destination.fifo != dlq.fifo:
        kinds = {True: "FIFO", False: "standard"}
        raise RedriveError(
            f"DLQ {dlq.url} is a {kinds[dlq.fifo]} queue but {url} is {kinds[destination.fifo]}; "
            "messages can only be redriven into a queue of the same type (FACTS §1)"
        )
    return destination


# --- reading dead letters ------------------------------------------------------


def _timestamp(attributes: Mapping[str, str], name: str) -> datetime | None:
    stamp = attributes.get(name)
    return datetime.fromtimestamp(int(stamp) / 1000, tz=UTC) if stamp else None


def _pointer(body: str) -> S3Pointer | None:
    try:
        return parse_pointer(body)
    except PayloadError:
        return None


def dead_letter(message: Mapping[str, Any], resolver: PayloadResolver | None) -> DeadLetter:
    """A ReceiveMessage message as a :class:`DeadLetter`, its S3 payload resolved if any."""
    body: str | None
    try:
        record = Record.from_sqs(message, resolver=resolver)
        body, error, pointer = record.body, None, record.pointer
    except PayloadError as exc:
        # Shown, not raised: a missing payload is one of the things to inspect.
        record = Record(
            message_id=message["MessageId"],
            receipt_handle=message["ReceiptHandle"],
            body=message["Body"],
            attributes=dict(message.get("Attributes") or {}),
        )
        body, error, pointer = None, str(exc), _pointer(message["Body"])
    if body is not None:
        size = len(body.encode("utf-8"))
    else:  # FACTS §4: the reserved attribute holds the payload's byte length
        attributes = message.get("MessageAttributes") or {}
        declared = [
            attributes[n].get("StringValue") for n in RESERVED_ATTRIBUTES if n in attributes
        ]
        size = int(declared[0] or 0) if declared else 0
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


def _receive(sqs: Any, url: str, visibility: int, wait_seconds: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=_RECEIVE_MAX,
        VisibilityTimeout=visibility,
        WaitTimeSeconds=wait_seconds,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", [])
    return messages


def _chunks(items: list[str], size: int = _RECEIVE_MAX) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _release(sqs: Any, url: str, receipt_handles: Iterable[str]) -> None:
    """Make held messages visible again now (visibility 0)."""
    for chunk in _chunks(list(receipt_handles)):
        response = sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for i, handle in enumerate(chunk)
            ],
        )
        for failure in response.get("Failed", []):
            log.warning("could not hand a message back to %s: %s", url, failure.get("Message"))


def _check_receive(visibility: int, wait_seconds: int) -> None:
    if not 1 <= visibility <= MAX_VISIBILITY:
        raise RedriveError(
            f"visibility must be 1 .. {MAX_VISIBILITY:,} seconds (FACTS §1), got {visibility}"
        )
    if not 0 <= wait_seconds <= MAX_WAIT:
        raise RedriveError(
            f"wait must be 0 .. {MAX_WAIT} seconds of long polling (FACTS §1), got {wait_seconds}"
        )


def inspect(
    dlq: str,
    *,
    sqs_client: Any = None,
    resolver: PayloadResolver | None = None,
    limit: int = 20,
    visibility: int = 30,
    wait_seconds: int = 0,
) -> list[DeadLetter]:
    """Up to ``limit`` messages of a DLQ, without consuming them.

    Messages are received with a short ``visibility`` and all handed back
    (visibility 0) before this returns, so they are visible again at once.
    ``resolver`` reads S3 payloads; by default a :class:`PayloadStore` that
    accepts any bucket the caller's credentials can read.
    """
    if limit < 1:
        raise RedriveError(f"limit must be at least 1, got {limit}")
    _check_receive(visibility, wait_seconds)
    sqs = LazyClient("sqs", sqs_client)()
    url = queue_url(dlq, sqs_client=sqs)
    resolver = resolver if resolver is not None else PayloadStore()
    held: dict[str, str] = {}
    letters: list[DeadLetter] = []
    try:
        while len(letters) < limit:
            fresh = [
                m
                for m in _receive(sqs, url, visibility, wait_seconds)
                if m["MessageId"] not in held
            ]
            for message in fresh:
                held[message["MessageId"]] = message["ReceiptHandle"]
            if not fresh:
                break
            letters += [dead_letter(m, resolver) for m in fresh[: limit - len(letters)]]
    finally:
        _release(sqs, url, held.values())
    return letters


# --- choosing messages ---------------------------------------------------------


def by_ids(ids: Collection[str]) -> Selector:
    """Choose the messages with these message ids."""
    wanted = frozenset(ids)
    return lambda letter: letter.message_id in wanted


def where(expression: str) -> Selector:
    """Choose messages whose JSON body makes a JMESPath expression true.

    Bodies that are not JSON (or whose S3 payload cannot be read) never match.
    """
    try:
        import jmespath
        from jmespath.exceptions import JMESPathError
    except ImportError as error:
        raise RedriveError(
            "--where needs the jmespath package: pip install 'sqs-blueprint[redrive]'"
        ) from error
    try:
        compiled = jmespath.compile(expression)
    except JMESPathError as error:
        raise RedriveError(
            f"--where {expression!r} is not a JMESPath expression: {error}"
        ) from None

    def select(letter: DeadLetter) -> bool:
        if letter.body is None:
            return False
        try:
            document = json.loads(letter.body)
        except ValueError:
            return False
        try:
            return bool(compiled.search(document))
        except JMESPathError:
            return False

    return select


# --- native path -----------------------------------------------------------------


def _no_move_tasks(error: Exception) -> bool:
    """FACTS §7: moto has no move tasks: NotImplementedError in process, HTTP 500 as a server."""
    if isinstance(error, NotImplementedError):
        return True
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return bool(status == 500)
    return False


def start_move(
    sqs: Any, dlq_arn: str, *, destination_arn: str | None = None, rate: int | None = None
) -> str:
    """Start a native move task; its handle. Raises MoveTasksUnsupported where there is none."""
    kwargs: dict[str, Any] = {"SourceArn": dlq_arn}
    if destination_arn is not None:
        kwargs["DestinationArn"] = destination_arn
    if rate is not None:
        kwargs["MaxNumberOfMessagesPerSecond"] = rate
    try:
        handle: str = sqs.start_message_move_task(**kwargs)["TaskHandle"]
    except (NotImplementedError, ClientError) as error:
        if _no_move_tasks(error):
            raise MoveTasksUnsupported(
                f"the service has no message move tasks ({_brief(error)})"
            ) from error
        raise
    return handle


def follow(
    sqs: Any,
    dlq_arn: str,
    *,
    progress: Progress | None = None,
    poll_seconds: float = 2.0,
) -> dict[str, Any]:
    """Poll ListMessageMoveTasks until the DLQ's latest task ends; its last description."""
    while True:
        results = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=1).get("Results", [])
        if not results:
            raise RedriveError(f"no message move task found for {dlq_arn}")
        task: dict[str, Any] = results[0]
        if progress is not None:
            progress(
                task.get("ApproximateNumberOfMessagesMoved", 0),
                task.get("ApproximateNumberOfMessagesToMove"),
            )
        if task.get("Status") in _DONE:
            return task
        time.sleep(poll_seconds)


def cancel(task_handle: str, *, sqs_client: Any = None) -> int:
    """Cancel a running move task; about how many messages it had moved."""
    sqs = LazyClient("sqs", sqs_client)()
    try:
        response = sqs.cancel_message_move_task(TaskHandle=task_handle)
    except (NotImplementedError, ClientError) as error:
        if _no_move_tasks(error):
            raise MoveTasksUnsupported(
                f"the service has no message move tasks ({type(error).__name__})"
            ) from error
        raise
    moved: int = response.get("ApproximateNumberOfMessagesMoved", 0)
    return moved


# --- client-side path --------------------------------------------------------------


def _deduplication_id(dlq_arn: str, message: Mapping[str, Any]) -> str:
    """The same for every retry of one move, new each time a message is dead-lettered again.

    The DLQ's sequence number changes when a message arrives in it again, so a
    redriven message that fails and is redriven within 5 minutes (FACTS §1) is
    not taken for a duplicate of itself.
    """
    attributes = message.get("Attributes") or {}
    key = f"{dlq_arn}|{message['MessageId']}|{attributes.get('SequenceNumber', '')}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _entry(index: int, message: Mapping[str, Any], dlq: _Queue) -> dict[str, Any]:
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


class _Pacer:
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
    sqs: Any, dlq: _Queue, destination: _Queue, batch: list[dict[str, Any]], move: _Move
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
            QueueUrl=destination.url, Entries=[_entry(i, m, dlq) for i, m in by_index.items()]
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


def _client_side(
    sqs: Any,
    dlq: _Queue,
    destination: _Queue,
    *,
    select: Selector | None,
    resolver: PayloadResolver,
    rate: int | None,
    visibility: int,
    wait_seconds: int,
    progress: Progress | None,
) -> RedriveResult:
    move = _Move()
    pacer = _Pacer(rate)
    try:
        while True:
            before = move.seen
            received = _receive(sqs, dlq.url, visibility, wait_seconds)
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
        _release(sqs, dlq.url, move.held.values())
    return RedriveResult(
        path="client-side",
        moved=len(move.moved),
        skipped=move.skipped,
        failed=move.failed,
        moved_ids=tuple(move.moved),
        unreached=unreached,
    )


# --- redrive ---------------------------------------------------------------------


def redrive(
    dlq: str,
    *,
    to: str | None = None,
    select: Selector | None = None,
    rate: int | None = None,
    client_side: bool = False,
    sqs_client: Any = None,
    resolver: PayloadResolver | None = None,
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
    """
    if rate is not None and not 1 <= rate <= MAX_RATE:
        raise RedriveError(f"rate must be 1 .. {MAX_RATE} messages per second, got {rate}")
    _check_receive(visibility, wait_seconds)
    notify = notify if notify is not None else log.warning
    sqs = LazyClient("sqs", sqs_client)()
    source = _describe(sqs, queue_url(dlq, sqs_client=sqs))
    destination = _destination(sqs, source, to)
    if not (client_side or select is not None):
        try:
            handle = start_move(
                sqs,
                source.arn,
                destination_arn=destination.arn if to is not None else None,
                rate=rate,
            )
        except MoveTasksUnsupported as error:
            notify(f"{error}; moving the messages client-side instead")
        else:
            if started is not None:
                started(handle)
            if not wait:
                return RedriveResult(path="native", moved=0, task_handle=handle, status="RUNNING")
            task = follow(sqs, source.arn, progress=progress, poll_seconds=poll_seconds)
            return RedriveResult(
                path="native",
                moved=task.get("ApproximateNumberOfMessagesMoved", 0),
                task_handle=handle,
                status=task.get("Status", "COMPLETED"),
                failure_reason=task.get("FailureReason"),
            )
    return _client_side(
        sqs,
        source,
        destination,
        select=select,
        resolver=resolver if resolver is not None else PayloadStore(),
        rate=rate,
        visibility=visibility,
        wait_seconds=wait_seconds,
        progress=progress,
    )


def progress_bar(write: Callable[[str], object], width: int = 30) -> Progress:
    """A plain-text progress reporter: ``[#####-----] 120/300 moved`` redrawn with ``\\r``."""

    def report(moved: int, total: int | None) -> None:
        if total:
            filled = min(width, width * moved // total)
            write(f"\r[{'#' * filled}{'-' * (width - filled)}] {moved}/{total} moved")
        else:
            write(f"\r{moved} moved")

    return report
