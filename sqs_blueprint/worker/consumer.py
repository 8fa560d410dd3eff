"""The :class:`Worker`: long-polls one queue and runs a handler on a pool of threads.

Threads: the caller's runs the receive loop; ``concurrency`` threads run tasks
(one record each, or the whole receive for a batch handler and on FIFO); one
heartbeat thread deletes, extends and gives back through the
:class:`~sqs_blueprint.worker.inflight.InFlightTable`.
"""

from __future__ import annotations

import queue
import random
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict
from typing import Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from sqs_blueprint import tracing
from sqs_blueprint._clients import LazyClient
from sqs_blueprint.backoff import DEFAULT_BACKOFF, Backoff, Retrier
from sqs_blueprint.errors import UsageError
from sqs_blueprint.limits import (
    SQS_BATCH_MAX_ENTRIES,
    SQS_MAX_VISIBILITY_TIMEOUT_S,
    SQS_MAX_WAIT_TIME_S,
)
from sqs_blueprint.payload import PayloadStore
from sqs_blueprint.records import Record
from sqs_blueprint.worker.handlers import (
    NOT_STARTED,
    SKIPPED,
    BatchHandler,
    RecordHandler,
    is_batch_handler,
    per_record,
    reason,
)
from sqs_blueprint.worker.inflight import InFlightTable, Message, WorkerStats
from sqs_blueprint.worker.logs import log
from sqs_blueprint.worker.polling import receive
from sqs_blueprint.worker.tasks import as_failure, held_back

_IDLE_S = 0.2  # how often waiting threads look at the stop flag


def _check_settings(
    concurrency: int,
    visibility_timeout: int | None,
    max_messages: int,
    wait_time_seconds: int,
    drain_timeout: float,
) -> None:
    """Every problem with the worker's settings in one :class:`UsageError`."""
    problems = []
    if concurrency < 1:
        problems.append(f"concurrency must be at least 1, got {concurrency}")
    most_visibility = SQS_MAX_VISIBILITY_TIMEOUT_S
    if visibility_timeout is not None and not 1 <= visibility_timeout <= most_visibility:
        problems.append(
            f"visibility_timeout must be 1..{most_visibility} s, got {visibility_timeout}"
        )
    if not 1 <= max_messages <= SQS_BATCH_MAX_ENTRIES:
        problems.append(f"max_messages must be 1..{SQS_BATCH_MAX_ENTRIES}, got {max_messages}")
    if not 0 <= wait_time_seconds <= SQS_MAX_WAIT_TIME_S:
        problems.append(
            f"wait_time_seconds must be 0..{SQS_MAX_WAIT_TIME_S}, got {wait_time_seconds}"
        )
    if drain_timeout < 0:
        problems.append(f"drain_timeout must be 0 or more seconds, got {drain_timeout}")
    if problems:
        raise UsageError("invalid worker settings: " + "; ".join(problems))


def _payload_store(payload_bucket: str | None, s3_client: Any, session: Any) -> PayloadStore:
    """Comma-separated, like the Lambda's PAYLOAD_BUCKET; none: every pointer is refused."""
    allowed = [b.strip() for b in (payload_bucket or "").split(",") if b.strip()]
    return PayloadStore(
        allowed[0] if allowed else None,
        s3_client=s3_client,
        session=session,
        allowed_buckets=allowed,
    )


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
        max_messages: int = SQS_BATCH_MAX_ENTRIES,
        wait_time_seconds: int = SQS_MAX_WAIT_TIME_S,
        drain_timeout: float = 30.0,
        payload_bucket: str | None = None,
        retry_backoff: Backoff | None = DEFAULT_BACKOFF,
        retry_random: Callable[[], float] = random.random,
        sqs_client: Any = None,
        s3_client: Any = None,
        session: Any = None,
    ) -> None:
        _check_settings(
            concurrency, visibility_timeout, max_messages, wait_time_seconds, drain_timeout
        )
        self.queue_url = queue_url
        self.fifo = queue_url.endswith(".fifo")
        self.batched = self.fifo or is_batch_handler(handler)
        if is_batch_handler(handler):
            self._handle = cast(BatchHandler, handler)
        else:
            record_handler = cast(RecordHandler, handler)
            self._handle = per_record(record_handler, fifo=self.fifo, may_start=self._may_start)
        self.concurrency = concurrency
        self.visibility_timeout = visibility_timeout
        self.max_messages = max_messages
        self.wait_time_seconds = wait_time_seconds
        self.drain_timeout = drain_timeout
        self.stats = WorkerStats()
        self._sqs = LazyClient("sqs", sqs_client, session)
        self._inflight = InFlightTable(queue_url, self._sqs, self.stats)
        self._retrier = retry_backoff and Retrier(
            retry_backoff, sqs_client=sqs_client, session=session, rand=retry_random
        )
        self._resolver = _payload_store(payload_bucket, s3_client, session)
        self._slots = threading.Condition()  # guards _pending
        self._pending = 0  # tasks queued or running
        self._tasks: queue.Queue[list[Message]] = queue.Queue()
        self._wake = threading.Event()
        self._deadline: float | None = None  # set by stop()
        self._closing = False  # no more tasks: idle threads exit
        self._closed = False  # the heartbeat exits

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
        self._inflight.visibility = self.visibility_timeout or max(1, self._queue_visibility())
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
                "visibility_timeout": self._inflight.visibility,
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
            with self._slots:
                if self._pending >= self.concurrency:  # every thread busy: receive no more
                    self._slots.wait(_IDLE_S)
                    continue
            try:
                messages = self._receive()
            except (BotoCoreError, ClientError) as error:
                errors += 1
                log.warning("receive failed", extra={"error": str(error)})
                self._pause(min(SQS_MAX_WAIT_TIME_S, 2.0**errors))
                continue
            errors = 0
            if not messages and not self.wait_time_seconds:
                self._pause(0.5)  # short polling an empty queue: do not spin
            elif messages and self.stopping:
                self._inflight.give_back(self._inflight.track(messages))
            elif messages:
                self._submit(messages)

    def _receive(self) -> list[Message]:
        return receive(
            self._sqs(),
            self.queue_url,
            max_messages=self.max_messages,
            wait_time_seconds=self.wait_time_seconds,
            visibility=self._inflight.visibility,
            stopping=lambda: self.stopping,
        )

    def _submit(self, messages: list[Message]) -> None:
        self._inflight.track(messages)
        tasks = [messages] if self.batched else [[m] for m in messages]
        with self._slots:
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
                self._inflight.give_back(self._inflight.entries_of(task))
                self._task_done()
                continue
            try:
                failed = self._process(task)
            except BaseException as error:  # never lose the slot: the task fails as a whole
                log.exception("processing a task raised")
                failed = {m["MessageId"]: reason(error) for m in task}
            self._finish(task, failed)

    def _process(self, task: list[Message]) -> dict[str, str]:
        """Build the records and run the handler; ``{message_id: reason}`` of the failures."""
        records: list[Record] = []
        failed: dict[str, str] = {}
        for message in task:
            if self.fifo and held_back(message, task, failed):
                failed[message["MessageId"]] = SKIPPED
                continue
            try:
                records.append(
                    Record.from_sqs(message, queue_url=self.queue_url, resolver=self._resolver)
                )
            except Exception as error:  # any error building one record fails it alone
                log.exception("record not built", extra={"correlation_id": message["MessageId"]})
                failed[message["MessageId"]] = f"record not built: {reason(error)}"
        startable = self._startable(records)
        failed.update((r.message_id, NOT_STARTED) for r in records[len(startable) :])
        if startable:
            records = startable
            try:
                failed.update(self._handle(records))
            except BaseException as error:  # a batch handler that raises fails its batch
                ids = [r.message_id for r in records]
                log.exception("batch handler raised", extra={"message_ids": ids})
                failed.update((r.message_id, reason(error)) for r in records)
        # FIFO: a failure and every later record of its group
        # (docs/aws-facts.md#lambda-event-source-mapping)
        if self.fifo:
            for message in task:
                if message["MessageId"] not in failed and held_back(message, task, failed):
                    failed[message["MessageId"]] = SKIPPED
        return failed

    def _may_start(self, record: Record) -> bool:
        """Whether a record may start: before the drain deadline, and not given back."""
        deadline = self._deadline
        if deadline is not None and time.monotonic() >= deadline:
            return False
        return self._inflight.holds(record.receipt_handle)

    def _startable(self, records: list[Record]) -> list[Record]:
        """The records up to the first that may not start (its batch was given back)."""
        for n, record in enumerate(records):
            if not self._may_start(record):
                return records[:n]
        return records

    def _finish(self, task: list[Message], failed: Mapping[str, str]) -> None:
        """Mark the task's records done or failed, set the failed ones' retry, free the slot.

        A record given back before it was settled is another receive's now: no retry delay.
        """
        done, dropped = self._inflight.settle(task, failed)
        failures = [as_failure(m) for m in task if m["MessageId"] in dropped]
        gone = [m["MessageId"] for m in task if m["MessageId"] in failed.keys() - dropped]
        if gone:
            log.info("not settled: given back before it ended", extra={"message_ids": gone})
        retry_in = (
            self._retrier.delay(self.queue_url, failures, fifo=self.fifo) if self._retrier else {}
        )
        headers = {m["MessageId"]: (m.get("Attributes") or {}).get(tracing.HEADER) for m in task}
        for failure in failures:
            log.warning(
                "record failed; it will be received again",
                extra={
                    "correlation_id": failure.message_id,
                    "trace_id": tracing.trace_id_of(headers.get(failure.message_id)),
                    "receive_count": failure.receive_count,
                    "outcome": "failed",
                    "reason": failed[failure.message_id],
                    "retry_in_s": retry_in.get(failure.message_id),
                },
            )
        if done >= SQS_BATCH_MAX_ENTRIES:  # a full delete batch: no need to wait for the tick
            self._wake.set()
        self._task_done()

    def _task_done(self) -> None:
        with self._slots:
            self._pending -= 1
            self._slots.notify_all()

    # ------------------------------------------------------------ heartbeat and draining

    def _heartbeat(self) -> None:
        """Deletes what is done, extends what is due; unstarted tasks go back once stopping."""
        tick = min(1.0, self._inflight.visibility / 4)
        while not self._closed:
            self._wake.wait(tick)
            self._wake.clear()
            try:
                if self.stopping:
                    self._give_back_unstarted()
                self._inflight.delete_done()
                self._inflight.extend_due()
            except Exception:  # the heartbeat must outlive any one bad tick
                log.exception("heartbeat tick failed; trying again at the next")

    def _give_back_unstarted(self) -> None:
        while True:
            try:
                task = self._tasks.get_nowait()
            except queue.Empty:
                return
            self._inflight.give_back(self._inflight.entries_of(task))
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
        self._inflight.delete_done()
        late = self._inflight.running()
        if late:
            log.warning(
                "records still running at the drain deadline are given back",
                extra={"message_ids": [e.message_id for e in late]},
            )
            self._inflight.give_back(late)
        log.info("worker stopped", extra=asdict(self.stats))
