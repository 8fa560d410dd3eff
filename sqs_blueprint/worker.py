"""A long-poll SQS worker for EC2 (or any host that runs a process for long).

The worker long-polls one queue, builds a :class:`~sqs_blueprint.records.Record`
for each message (S3 pointers resolved) and hands the records to a pool of
threads that run the handler. Two kinds of handler, one interface:

- a record handler ``f(record) -> None`` raises to fail its record;
- a batch handler, marked with :func:`batch_handler`, takes a list of records
  and returns ``{message_id: reason}`` for the records that failed.

The worker always calls a batch function: a record handler is adapted by
:func:`per_record`. Record handlers get one record per task; batch handlers,
and every handler on a FIFO queue, get the whole received batch in order.

What becomes of a message:

- success: deleted with DeleteMessageBatch, ten at a time (docs/aws-facts.md#sqs-limits);
- failure (the handler raised anything, even ``SystemExit``, or the record
  could not be built): its visibility is set to the retry backoff's delay
  (:mod:`sqs_blueprint.backoff`: exponential in its receive count, full jitter;
  on FIFO for each group's first failure only), so it comes back then and, past
  the queue's maxReceiveCount, moves to the DLQ. Without a backoff, or if the
  change fails, it is left as it is and comes back when its visibility timeout
  ends. A failure is its record's alone: the rest of the receive is processed;
- FIFO: a failure holds back the later records of its own message group only
  (they are not run and come back with it); other groups are processed, as
  Powertools' ``SqsFifoPartialProcessor(skip_group_on_error=True)`` does;
- still running or waiting to be deleted when half of its visibility timeout
  is left: extended by another timeout (ChangeMessageVisibilityBatch), so a
  long job is not handed to a second worker. A transient refusal (an SQS
  server error or throttling) is asked again at the next heartbeat, and so is
  a delete refused that way;
- :meth:`Worker.stop` (SIGTERM, SIGINT): no more receives; messages not yet
  started are given back at once (visibility 0); running ones get until the
  drain deadline to finish; any still running then are given back too.
  A second ``stop`` ends the drain at once.
"""

from __future__ import annotations

import importlib
import logging
import math
import os
import queue
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, cast

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from sqs_blueprint._clients import LazyClient
from sqs_blueprint.backoff import DEFAULT_BACKOFF, Backoff, Failure, Retrier
from sqs_blueprint.errors import SqsBlueprintError, UsageError
from sqs_blueprint.payload import PayloadStore
from sqs_blueprint.records import Record

MAX_BATCH = 10  # docs/aws-facts.md#sqs-limits: ReceiveMessage and *Batch entries
MAX_WAIT_S = 20  # docs/aws-facts.md#sqs-limits: long polling
MAX_VISIBILITY_S = 43_200  # docs/aws-facts.md#sqs-limits: visibility timeout
_IDLE_S = 0.2  # how often waiting threads look at the stop flag
_BATCH_MARK = "__sqs_blueprint_batch__"
_SKIPPED = "not processed: an earlier record of its FIFO message group failed"
# Batch-entry failures worth asking again: SQS's own faults and throttling
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_BatchResultErrorEntry.html).
_TRANSIENT_CODES = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "RequestThrottled",
        "Throttling",
        "ThrottlingException",
    }
)

# The ``service`` key of every log line: "worker", or Powertools' POWERTOOLS_SERVICE_NAME if set.
SERVICE = os.getenv("POWERTOOLS_SERVICE_NAME") or "worker"
# A child of the SERVICE Logger that :func:`log_json` configures: until then (the worker used
# as a library) its records go to the application's own logging, extras attached.
log = Logger(service=SERVICE, child=True)

RecordHandler = Callable[[Record], object]
BatchHandler = Callable[[Sequence[Record]], Mapping[str, str]]
Message = dict[str, Any]


# ---------------------------------------------------------------- handlers


def batch_handler(fn: BatchHandler) -> BatchHandler:
    """Mark ``fn`` as a batch handler: records in, ``{message_id: reason}`` of failures out."""
    setattr(fn, _BATCH_MARK, True)
    return fn


def is_batch_handler(fn: object) -> bool:
    return bool(getattr(fn, _BATCH_MARK, False))


def _reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def per_record(handler: RecordHandler, *, fifo: bool = False) -> BatchHandler:
    """A batch handler calling ``handler`` on each record; any raise fails that record.

    With ``fifo``, a failure also fails the later records of its message group
    without running them; other groups go on.
    """

    def run(records: Sequence[Record]) -> dict[str, str]:
        failed: dict[str, str] = {}
        failed_groups: set[str | None] = set()
        for record in records:
            if fifo and record.group_id in failed_groups:
                failed[record.message_id] = _SKIPPED
                continue
            try:
                handler(record)
            except BaseException as error:  # SystemExit too: it fails the record, not the worker
                log.exception("handler raised", extra={"correlation_id": record.message_id})
                failed[record.message_id] = _reason(error)
                failed_groups.add(record.group_id)
        return failed

    return run


def write_buffer_handler() -> BatchHandler:
    """The write buffer as a batch handler, configured like the Lambda (``TABLE_NAME``, ...).

    The records arrive resolved by the worker; the upserts are the shared core's.
    If a batch raises, each record is written on its own, so an error tied to
    one record fails that record only (upserts are idempotent: a record written
    before the raise is written again to the same item).
    """
    from sqs_blueprint.write_buffer import WriteBuffer

    buffer = WriteBuffer.from_env()

    @batch_handler
    def write(records: Sequence[Record]) -> Mapping[str, str]:
        try:
            return buffer.process(records).failed
        except Exception:
            if len(records) == 1:
                raise
            log.exception("write-buffer batch raised; writing its records one by one")
        failed: dict[str, str] = {}
        for record in records:
            try:
                failed.update(buffer.process([record]).failed)
            except Exception as error:
                log.exception("record not written", extra={"correlation_id": record.message_id})
                failed[record.message_id] = _reason(error)
        return failed

    return write


BUILTIN_HANDLERS: Mapping[str, Callable[[], BatchHandler]] = {
    "builtin:write-buffer": write_buffer_handler,
}


def load_handler(spec: str) -> RecordHandler | BatchHandler:
    """The handler named ``module:function``, or a built-in (``builtin:write-buffer``)."""
    if spec in BUILTIN_HANDLERS:
        return BUILTIN_HANDLERS[spec]()
    module_name, _, name = spec.partition(":")
    if not module_name or not name:
        raise UsageError(
            f"handler {spec!r} is not of the form module:function "
            f"(or one of {sorted(BUILTIN_HANDLERS)})"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise UsageError(
            f"handler {spec!r}: cannot import module {module_name!r} ({error}); "
            "is it installed or on PYTHONPATH?"
        ) from error
    except SyntaxError as error:
        raise UsageError(
            f"handler {spec!r}: {error.filename}, line {error.lineno}: {error.msg}; fix the module"
        ) from error
    except Exception as error:  # the module raised at import: a failure at run time
        raise SqsBlueprintError(
            f"handler {spec!r}: importing module {module_name!r} raised "
            f"{_reason(error)}; fix the module"
        ) from error
    fn = getattr(module, name, None)
    if not callable(fn):
        raise UsageError(f"handler {spec!r}: module {module_name!r} has no function {name!r}")
    handler: RecordHandler | BatchHandler = fn
    return handler


# ---------------------------------------------------------------- logging


def log_json() -> None:
    """This process's logs as Powertools JSON lines on stderr, the worker's and every library's.

    The lines have the Lambda handlers' keys (``service``; per record ``correlation_id``,
    the message id, ``receive_count`` and ``outcome``), so one Logs Insights query finds
    a record in every consumer. The level is POWERTOOLS_LOG_LEVEL's (INFO by default).
    """
    service = Logger(service=SERVICE, stream=sys.stderr)
    # Other loggers (the write buffer's, botocore's) reach the same handler through the root.
    logging.basicConfig(level=service.log_level, handlers=[service.registered_handler], force=True)
    logging.getLogger(SERVICE).propagate = False  # the worker's lines are written once
    logging.getLogger("botocore").setLevel(max(service.log_level, logging.WARNING))


# ---------------------------------------------------------------- the worker


@dataclass
class WorkerStats:
    received: int = 0
    processed: int = 0
    failed: int = 0
    extended: int = 0
    returned: int = 0


@dataclass
class _InFlight:
    """A received message the worker still answers for."""

    message_id: str
    receipt_handle: str
    expires_at: float  # monotonic time its visibility ends
    done: bool = False  # processed, waiting for its delete
    extended: bool = False


def _is_transient(failure: Mapping[str, Any]) -> bool:
    """A batch entry refused by an SQS fault or throttling, not by the request."""
    return failure.get("SenderFault") is False or failure.get("Code") in _TRANSIENT_CODES


def _failure(message: Message) -> Failure:
    attributes = message.get("Attributes", {})
    return Failure(
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        receive_count=int(attributes.get("ApproximateReceiveCount", 1)),
        group_id=attributes.get("MessageGroupId"),
    )


def _group_id(message: Message) -> str | None:
    group: str | None = message.get("Attributes", {}).get("MessageGroupId")
    return group


class Worker:
    """Long-polls ``queue_url`` and runs ``handler`` on a pool of ``concurrency`` threads.

    ``visibility_timeout`` (seconds) is asked for on every receive and renewed by
    the heartbeat; by default the queue's own. ``retry_backoff`` sets a failed
    record's retry delay (None: the visibility timeout), jittered with
    ``retry_random`` (uniform in [0, 1)). ``payload_bucket`` is the only
    bucket an S3 pointer may name (none when unset: pointers then fail).
    Clients are created on first use, so ``AWS_ENDPOINT_URL`` applies.
    """

    def __init__(
        self,
        queue_url: str,
        handler: RecordHandler | BatchHandler,
        *,
        concurrency: int = 4,
        visibility_timeout: int | None = None,
        max_messages: int = MAX_BATCH,
        wait_time_seconds: int = MAX_WAIT_S,
        drain_timeout: float = 30.0,
        payload_bucket: str | None = None,
        retry_backoff: Backoff | None = DEFAULT_BACKOFF,
        retry_random: Callable[[], float] = random.random,
        sqs_client: Any = None,
        s3_client: Any = None,
        session: Any = None,
    ) -> None:
        problems = []
        if concurrency < 1:
            problems.append(f"concurrency must be at least 1, got {concurrency}")
        if visibility_timeout is not None and not 1 <= visibility_timeout <= MAX_VISIBILITY_S:
            problems.append(
                f"visibility_timeout must be 1..{MAX_VISIBILITY_S} s, got {visibility_timeout}"
            )
        if not 1 <= max_messages <= MAX_BATCH:
            problems.append(f"max_messages must be 1..{MAX_BATCH}, got {max_messages}")
        if not 0 <= wait_time_seconds <= MAX_WAIT_S:
            problems.append(f"wait_time_seconds must be 0..{MAX_WAIT_S}, got {wait_time_seconds}")
        if drain_timeout < 0:
            problems.append(f"drain_timeout must be 0 or more seconds, got {drain_timeout}")
        if problems:
            raise UsageError("invalid worker settings: " + "; ".join(problems))
        self.queue_url = queue_url
        self.fifo = queue_url.endswith(".fifo")
        self.batched = self.fifo or is_batch_handler(handler)
        if is_batch_handler(handler):
            self._handle = cast(BatchHandler, handler)
        else:
            self._handle = per_record(cast(RecordHandler, handler), fifo=self.fifo)
        self.concurrency = concurrency
        self.visibility_timeout = visibility_timeout
        self.max_messages = max_messages
        self.wait_time_seconds = wait_time_seconds
        self.drain_timeout = drain_timeout
        self.stats = WorkerStats()
        self._sqs = LazyClient("sqs", sqs_client, session)
        self._retrier = retry_backoff and Retrier(
            retry_backoff, sqs_client=sqs_client, session=session, rand=retry_random
        )
        # Comma-separated, like the Lambda's PAYLOAD_BUCKET; none: every pointer is refused.
        allowed = [b.strip() for b in (payload_bucket or "").split(",") if b.strip()]
        self._resolver = PayloadStore(
            allowed[0] if allowed else None,
            s3_client=s3_client,
            session=session,
            allowed_buckets=allowed,
        )
        self._lock = threading.Condition()  # guards _inflight, _pending and stats
        self._inflight: dict[str, _InFlight] = {}  # by receipt handle
        self._pending = 0  # tasks queued or running
        self._tasks: queue.Queue[list[Message]] = queue.Queue()
        self._wake = threading.Event()
        self._deadline: float | None = None  # set by stop()
        self._closing = False  # no more tasks: idle threads exit
        self._closed = False  # the heartbeat exits
        self._visibility = 0

    # ------------------------------------------------------------ control

    @property
    def stopping(self) -> bool:
        return self._deadline is not None

    def stop(self) -> None:
        """Ask :meth:`run` to drain and return; a second call ends the drain at once.

        Takes no lock, so it is safe in a signal handler.
        """
        self._deadline = time.monotonic() + (0.0 if self.stopping else self.drain_timeout)
        self._wake.set()

    def stop_on_signals(self, signals: Iterable[int] = (signal.SIGTERM, signal.SIGINT)) -> None:
        """Call :meth:`stop` on these signals (from the main thread)."""

        def on_signal(signum: int, frame: object) -> None:
            log.info("signal received: draining", extra={"signal": signal.Signals(signum).name})
            self.stop()

        for signum in signals:
            signal.signal(signum, on_signal)

    def run(self) -> WorkerStats:
        """Receive and process until :meth:`stop`; return the counts."""
        # A queue may say 0; the heartbeat needs at least a second to work with.
        self._visibility = self.visibility_timeout or max(1, self._queue_visibility())
        threads = [
            threading.Thread(target=self._work, name=f"sqs-worker-{n}", daemon=True)
            for n in range(self.concurrency)
        ]
        threads.append(threading.Thread(target=self._heartbeat, name="sqs-heartbeat", daemon=True))
        for thread in threads:
            thread.start()
        log.info(
            "worker started",
            extra={
                "queue_url": self.queue_url,
                "concurrency": self.concurrency,
                "visibility_timeout": self._visibility,
                "wait_time_seconds": self.wait_time_seconds,
            },
        )
        try:
            self._receive_loop()
        finally:
            self._drain(threads)
        return self.stats

    # ------------------------------------------------------------ receiving

    def _queue_visibility(self) -> int:
        attributes = self._sqs().get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["VisibilityTimeout"]
        )["Attributes"]
        return int(attributes["VisibilityTimeout"])

    def _pause(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < end:
            time.sleep(min(_IDLE_S, end - time.monotonic()))

    def _receive_loop(self) -> None:
        errors = 0
        while not self.stopping:
            with self._lock:
                if self._pending >= self.concurrency:  # every thread busy: receive no more
                    self._lock.wait(_IDLE_S)
                    continue
            try:
                messages = self._receive()
            except (BotoCoreError, ClientError) as error:
                errors += 1
                log.warning("receive failed", extra={"error": str(error)})
                self._pause(min(MAX_WAIT_S, 2.0**errors))
                continue
            errors = 0
            if not messages and not self.wait_time_seconds:
                self._pause(0.5)  # short polling an empty queue: do not spin
            elif messages and self.stopping:
                self._give_back(self._track(messages))
            elif messages:
                self._submit(messages)

    def _receive(self) -> list[Message]:
        response = self._sqs().receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.max_messages,
            WaitTimeSeconds=self.wait_time_seconds,
            VisibilityTimeout=self._visibility,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[Message] = response.get("Messages", [])
        return messages

    def _track(self, messages: Sequence[Message]) -> list[_InFlight]:
        expires_at = time.monotonic() + self._visibility
        entries = [_InFlight(m["MessageId"], m["ReceiptHandle"], expires_at) for m in messages]
        with self._lock:
            self.stats.received += len(entries)
            self._inflight.update((e.receipt_handle, e) for e in entries)
        return entries

    def _submit(self, messages: list[Message]) -> None:
        self._track(messages)
        tasks = [messages] if self.batched else [[m] for m in messages]
        with self._lock:
            self._pending += len(tasks)
        for task in tasks:
            self._tasks.put(task)

    # ------------------------------------------------------------ processing

    def _work(self) -> None:
        while True:
            try:
                task = self._tasks.get(timeout=_IDLE_S)
            except queue.Empty:
                if self._closing:
                    return
                continue
            if self.stopping:
                self._give_back(self._entries(task))
                self._task_done()
                continue
            try:
                failed = self._process(task)
            except BaseException as error:  # never lose the slot: the task fails as a whole
                log.exception("processing a task raised")
                failed = {m["MessageId"]: _reason(error) for m in task}
            self._finish(task, failed)

    def _process(self, task: list[Message]) -> dict[str, str]:
        """Build the records and run the handler; ``{message_id: reason}`` of the failures."""
        records: list[Record] = []
        failed: dict[str, str] = {}
        for message in task:
            if self._held_back(message, task, failed):
                failed[message["MessageId"]] = _SKIPPED
                continue
            try:
                records.append(
                    Record.from_sqs(message, queue_url=self.queue_url, resolver=self._resolver)
                )
            except Exception as error:  # any error building one record fails it alone
                log.exception("record not built", extra={"correlation_id": message["MessageId"]})
                failed[message["MessageId"]] = f"record not built: {_reason(error)}"
        if records:
            try:
                failed.update(self._handle(records))
            except BaseException as error:  # a batch handler that raises fails its batch
                ids = [r.message_id for r in records]
                log.exception("batch handler raised", extra={"message_ids": ids})
                failed.update((r.message_id, _reason(error)) for r in records)
        # FIFO: a failure and every later record of its group
        # (docs/aws-facts.md#lambda-event-source-mapping)
        if self.fifo:
            for message in task:
                if message["MessageId"] not in failed and self._held_back(message, task, failed):
                    failed[message["MessageId"]] = _SKIPPED
        return failed

    def _held_back(self, message: Message, task: list[Message], failed: Mapping[str, str]) -> bool:
        """On FIFO: whether an earlier record of ``message``'s group in ``task`` failed."""
        if not self.fifo:
            return False
        group = _group_id(message)
        for earlier in task:
            if earlier is message:
                return False
            if earlier["MessageId"] in failed and _group_id(earlier) == group:
                return True
        return False

    def _finish(self, task: list[Message], failed: Mapping[str, str]) -> None:
        """Mark the task's records done or failed and free its slot."""
        done = 0
        with self._lock:
            for message in task:
                entry = self._inflight.get(message["ReceiptHandle"])
                if entry is None:  # given back at the drain deadline
                    continue
                if message["MessageId"] in failed:
                    del self._inflight[entry.receipt_handle]
                    self.stats.failed += 1
                else:
                    entry.done = True
                    self.stats.processed += 1
            done = sum(e.done for e in self._inflight.values())
        failures = [_failure(m) for m in task if m["MessageId"] in failed]
        retry_in = (
            self._retrier.delay(self.queue_url, failures, fifo=self.fifo) if self._retrier else {}
        )
        for failure in failures:
            log.warning(
                "record failed; it will be received again",
                extra={
                    "correlation_id": failure.message_id,
                    "receive_count": failure.receive_count,
                    "outcome": "failed",
                    "reason": failed[failure.message_id],
                    "retry_in_s": retry_in.get(failure.message_id),
                },
            )
        if done >= MAX_BATCH:
            self._wake.set()
        self._task_done()

    def _task_done(self) -> None:
        with self._lock:
            self._pending -= 1
            self._lock.notify_all()

    # ------------------------------------------------------------ heartbeat

    def _heartbeat(self) -> None:
        """Deletes what is done, extends what is due; unstarted tasks go back once stopping."""
        tick = min(1.0, self._visibility / 4)
        while not self._closed:
            self._wake.wait(tick)
            self._wake.clear()
            try:
                if self.stopping:
                    self._give_back_unstarted()
                self._delete_done()
                self._extend_due()
            except Exception:  # the heartbeat must outlive any one bad tick
                log.exception("heartbeat tick failed; trying again at the next")

    def _delete_done(self) -> None:
        with self._lock:
            done = [e for e in self._inflight.values() if e.done]
        ok, refused = self._batch_call("delete_message_batch", done)
        with self._lock:
            for entry in ok + refused:
                self._inflight.pop(entry.receipt_handle, None)

    def _extend_due(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = [e for e in self._inflight.values() if e.expires_at - now < self._visibility / 2]
        ok, refused = self._batch_call(
            "change_message_visibility_batch", due, VisibilityTimeout=self._visibility
        )
        with self._lock:
            for entry in ok:
                entry.expires_at = now + self._visibility
                if not entry.extended:
                    entry.extended = True
                    self.stats.extended += 1
            for entry in refused:  # refused for good, e.g. past the 12-hour limit: stop asking
                entry.expires_at = math.inf
        if ok:
            log.info("visibility extended", extra={"message_ids": [e.message_id for e in ok]})

    # ------------------------------------------------------------ giving back and draining

    def _entries(self, task: Sequence[Message]) -> list[_InFlight]:
        with self._lock:
            found = (self._inflight.get(m["ReceiptHandle"]) for m in task)
            return [e for e in found if e is not None]

    def _give_back(self, entries: list[_InFlight]) -> None:
        """Make messages visible again at once (visibility 0) for another worker."""
        ok, _ = self._batch_call("change_message_visibility_batch", entries, VisibilityTimeout=0)
        with self._lock:
            for entry in entries:
                self._inflight.pop(entry.receipt_handle, None)
            self.stats.returned += len(ok)
        if entries:
            log.info("given back", extra={"message_ids": [e.message_id for e in entries]})

    def _give_back_unstarted(self) -> None:
        while True:
            try:
                task = self._tasks.get_nowait()
            except queue.Empty:
                return
            self._give_back(self._entries(task))
            self._task_done()

    def _drain(self, threads: list[threading.Thread]) -> None:
        if self._deadline is None:  # run() ended on an error: drain all the same
            self._deadline = time.monotonic() + self.drain_timeout
        self._closing = True
        self._give_back_unstarted()
        for thread in threads[:-1]:
            thread.join(max(0.0, self._deadline - time.monotonic()))
        self._closed = True
        self._wake.set()
        threads[-1].join()
        self._delete_done()
        with self._lock:
            late = [e for e in self._inflight.values() if not e.done]
        if late:
            log.warning(
                "records still running at the drain deadline are given back",
                extra={"message_ids": [e.message_id for e in late]},
            )
            self._give_back(late)
        log.info("worker stopped", extra=asdict(self.stats))

    def _batch_call(
        self, action: str, entries: Sequence[_InFlight], **fields: Any
    ) -> tuple[list[_InFlight], list[_InFlight]]:
        """Call a ``*Batch`` action ten entries at a time (docs/aws-facts.md#sqs-limits).

        Returns the entries that succeeded and those SQS refused for good;
        entries of a call that raised, or refused for a transient reason (an
        SQS fault, throttling), are in neither: they are tried again later.
        """
        ok: list[_InFlight] = []
        refused: list[_InFlight] = []
        for start in range(0, len(entries), MAX_BATCH):
            chunk = entries[start : start + MAX_BATCH]
            request = [
                {"Id": str(n), "ReceiptHandle": e.receipt_handle, **fields}
                for n, e in enumerate(chunk)
            ]
            try:
                response = getattr(self._sqs(), action)(QueueUrl=self.queue_url, Entries=request)
            except (BotoCoreError, ClientError) as error:
                ids = [e.message_id for e in chunk]
                log.warning(f"{action} failed", extra={"message_ids": ids, "error": str(error)})
                continue
            ok += [chunk[int(s["Id"])] for s in response.get("Successful", [])]
            for failure in response.get("Failed", []):
                entry = chunk[int(failure["Id"])]
                transient = _is_transient(failure)
                if not transient:
                    refused.append(entry)
                log.warning(
                    f"{action} refused" + ("; asking again later" if transient else ""),
                    extra={
                        "correlation_id": entry.message_id,
                        "code": failure.get("Code"),
                        "reason": failure.get("Message"),
                    },
                )
        return ok, refused
