"""One poller of a local event-source mapping: receive a batch, invoke the function,
delete what succeeded (docs/aws-facts.md#lambda-event-source-mapping).

Every receive of the local runner goes through :func:`receive_messages`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from sqs_blueprint import filters as event_filters
from sqs_blueprint import limits
from sqs_blueprint.local.events import RECEIVE_ARGS, lambda_record
from sqs_blueprint.local.invoke import (
    FunctionStats,
    InvalidResponse,
    failed_ids,
    function_config,
    function_role,
)
from sqs_blueprint.local.mappings import SQS_BATCH, MappingConfig
from sqs_blueprint.local.runtime import InvokeTimeout, Runtime, RuntimeFailure

if TYPE_CHECKING:
    from sqs_blueprint.local.runner import LocalRunner

log = logging.getLogger(__name__)
_EMPTY_EVENT_BYTES = len(b'{"Records": []}')


def receive_messages(sqs: Any, mapping: MappingConfig, most: int) -> list[dict[str, Any]]:
    """One ReceiveMessage for ``mapping``'s poller: up to ``most`` messages, at once."""
    got: list[dict[str, Any]] = sqs.receive_message(
        QueueUrl=mapping.queue_url,
        MaxNumberOfMessages=min(SQS_BATCH, most),
        WaitTimeSeconds=0,  # moto spins on long polls of blocked FIFO groups
        **RECEIVE_ARGS,
    ).get("Messages", [])
    return got


class Poller(threading.Thread):
    """One concurrent batch of a mapping: receive, invoke, delete, again."""

    def __init__(self, runner: LocalRunner, mapping: MappingConfig) -> None:
        super().__init__(name=f"poller-{mapping.function_name}", daemon=True)
        self.runner = runner
        self.mapping = mapping
        self.runtime: Runtime | None = None
        self._stopping = runner.stopping  # the runner stops: drop what is in flight
        self._retired = threading.Event()  # this poller stops after its batch

    def retire(self) -> None:
        self._retired.set()

    def run(self) -> None:
        cloud = self.runner.cloud
        lam = cloud.internal_client("lambda")
        # Lambda polls, deletes and returns messages with the function's execution role.
        sqs = cloud.internal_client("sqs", role=function_role(lam, self.mapping.function_arn))
        idle = self.runner.idle_s
        while not self._retired.is_set():
            try:
                self._warm(lam)
                messages = self._collect(sqs)
                if messages:
                    self._handle(sqs, lam, messages)
                    idle = self.runner.idle_s
                else:  # back off while the queue stays empty, up to 1 s
                    self._retired.wait(idle)
                    idle = min(2 * idle, max(1.0, self.runner.idle_s))
            except Exception:
                if self._retired.is_set():
                    break
                log.exception("poller of %s failed; retrying", self.mapping.function_name)
                self._retired.wait(1.0)
        self.kill_runtime()

    def _warm(self, lam: Any) -> None:
        """Start (or replace) the runtime before receiving, so that its start is not spent
        inside the batch's visibility timeout: a batch that outlived it would be received
        again and processed twice. (Lambda counts its init there too, but AWS's timeout is
        six times the function's; the demo shortens it locally.) A start that fails is
        left to the next batch, which fails as Lambda's does."""
        stats = FunctionStats()
        try:
            self._runtime(lam, stats)
        except RuntimeFailure:
            self.kill_runtime()
        if stats.restarts:
            self.runner.record(self.mapping.function_name, lambda s: s.add(stats))

    def kill_runtime(self) -> None:
        runtime, self.runtime = self.runtime, None
        if runtime is not None:
            runtime.stop()

    def _collect(self, sqs: Any) -> list[dict[str, Any]]:
        """Receive until the batch is full or the batching window closes.

        moto's ReceiveMessage is not atomic: two receives at once can hand two pollers
        the same message. SQS never does; one receive at a time per queue restores that.
        """
        m = self.mapping
        messages: list[dict[str, Any]] = []
        closes = time.monotonic() + m.window_s
        lock = self.runner.receive_lock(m.queue_url)
        while len(messages) < m.batch_size and not self._retired.is_set():
            with lock:
                got = receive_messages(sqs, m, m.batch_size - len(messages))
            messages += got
            left = closes - time.monotonic()
            if not messages or left <= 0:
                break
            if not got:
                self._retired.wait(min(self.runner.idle_s, left))
        return messages

    def _handle(self, sqs: Any, lam: Any, messages: list[dict[str, Any]]) -> None:
        messages = self._drop_filtered(sqs, messages)
        if not messages:
            return
        m = self.mapping
        records = self._fit_payload(sqs, messages)
        messages = messages[: len(records)]
        ids = [msg["MessageId"] for msg in messages]
        stats = FunctionStats(batches=1, records=len(messages))
        failed = self._invoke(lam, {"Records": records}, ids, stats)
        if self._stopping.is_set():
            return
        if stats.last_error:
            log.debug("%s: batch of %d returned: %s", m.function_name, len(ids), stats.last_error)
        done = [msg for msg in messages if msg["MessageId"] not in failed]
        stats.deleted = delete(sqs, m.queue_url, done)
        self.runner.record(m.function_name, lambda s: s.add(stats))

    def _invoke(
        self, lam: Any, event: dict[str, Any], ids: list[str], stats: FunctionStats
    ) -> set[str]:
        """Invoke the function with ``event``; the ids of the records to leave in the queue."""
        try:  # the runtime _warm checked just before this batch's receive, if it started
            runtime = self.runtime or self._runtime(lam, stats)
            response = runtime.invoke(event, request_id=str(uuid.uuid4()))
            if "errorType" in response:
                raise InvalidResponse(f"{response['errorType']}: {response.get('errorMessage')}")
            failed = failed_ids(response.get("result"), ids, self.mapping.report_failures)
            stats.failures_reported = len(failed)
            return failed
        except InvokeTimeout as exc:
            self.runtime = None
            stats.timeouts, stats.last_error = 1, str(exc)
        except (RuntimeFailure, InvalidResponse) as exc:
            if isinstance(exc, RuntimeFailure):
                self.kill_runtime()
            stats.errors, stats.last_error = 1, str(exc)
        stats.failed_records = len(ids)
        return set(ids)

    def _fit_payload(self, sqs: Any, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records of the longest head of ``messages`` whose event stays within
        Lambda's invocation payload (UTF-8 JSON); the messages after it are made
        visible again at once, left for the next poll as Lambda does."""
        m = self.mapping
        records: list[dict[str, Any]] = []
        size = _EMPTY_EVENT_BYTES
        for msg in messages:
            record = lambda_record(msg, m.queue_arn, self.runner.cloud.region)
            added = len(json.dumps(record, ensure_ascii=False).encode()) + (2 if records else 0)
            if records and size + added > limits.LAMBDA_MAX_INVOKE_PAYLOAD_BYTES:
                break
            records.append(record)
            size += added
        rest = messages[len(records) :]
        if rest:
            release(sqs, m.queue_url, rest)
            log.debug("%s: %d record(s) left for the next poll (6 MB)", m.function_name, len(rest))
            self.runner.record(
                m.function_name, lambda s: setattr(s, "deferred", s.deferred + len(rest))
            )
        return records

    def _drop_filtered(self, sqs: Any, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Delete the records no filter matches (Lambda does, unseen); keep the rest."""
        m = self.mapping
        if not m.filters:
            return messages
        region = self.runner.cloud.region
        kept: list[dict[str, Any]] = []
        dropped: list[dict[str, Any]] = []
        for msg in messages:
            record = lambda_record(msg, m.queue_arn, region)
            (kept if event_filters.matches_any(m.filters, record) else dropped).append(msg)
        if dropped:
            deleted = delete(sqs, m.queue_url, dropped)
            self.runner.record(
                m.function_name, lambda s: setattr(s, "filtered", s.filtered + deleted)
            )
        return kept

    def _runtime(self, lam: Any, stats: FunctionStats) -> Runtime:
        """This poller's runtime, replaced when the function's configuration changed."""
        config = function_config(self.runner.cloud, lam, self.mapping.function_arn)
        if self.runtime is not None and self.runtime.config != config:
            self.kill_runtime()
            stats.restarts = 1
        if self.runtime is None:
            log_file = self.runner.log_dir / f"{config.name}.log"
            self.runtime = Runtime(config, self.runner.runtime_environment(config.role), log_file)
        return self.runtime


def delete(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> int:
    """Delete processed messages; how many were deleted.

    A delete fails (ReceiptHandleIsInvalid) only for a message that is no longer in
    the queue: moto accepts any receipt handle a message ever had, so that message
    outlived its visibility timeout while the batch ran and a later receive moved it
    to the DLQ (maxReceiveCount). SQS would also deliver it again; the warning says so.
    """
    deleted = 0
    for start in range(0, len(messages), SQS_BATCH):
        chunk = messages[start : start + SQS_BATCH]
        response = sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
            ],
        )
        deleted += len(response.get("Successful", []))
        for failure in response.get("Failed", []):
            message = chunk[int(failure["Id"])]
            log.warning(
                "message %s was processed but not deleted (%s: %s): it was received again "
                "after its visibility timeout expired, or moved to the DLQ, while the batch "
                "ran; it will be delivered again, so its record may be processed twice",
                message["MessageId"],
                failure.get("Code"),
                failure.get("Message"),
            )
    return deleted


def release(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> None:
    """Make received messages visible again now (visibility timeout 0)."""
    for start in range(0, len(messages), SQS_BATCH):
        chunk = messages[start : start + SQS_BATCH]
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(chunk)
            ],
        )
