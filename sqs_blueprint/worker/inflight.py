"""In-flight bookkeeping: the messages the worker still answers for, and the SQS calls on them.

A received message is an :class:`InFlight` entry, by receipt handle, until it is
deleted (processed), dropped (failed: it comes back on its own) or given back
(visibility 0). The heartbeat deletes what is done and extends what is due.
``*Batch`` calls go ten entries at a time (docs/aws-facts.md#sqs-limits); an entry
refused for a transient reason (an SQS fault, throttling) stays, to be asked again.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sqs_blueprint._clients import LazyClient
from sqs_blueprint.limits import SQS_BATCH_MAX_ENTRIES
from sqs_blueprint.worker.logs import log

Message = dict[str, Any]

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


@dataclass
class WorkerStats:
    received: int = 0
    processed: int = 0
    failed: int = 0
    extended: int = 0
    returned: int = 0


@dataclass
class InFlight:
    """A received message the worker still answers for."""

    message_id: str
    receipt_handle: str
    expires_at: float  # monotonic time its visibility ends
    done: bool = False  # processed, waiting for its delete
    extended: bool = False


def _is_transient(failure: Mapping[str, Any]) -> bool:
    """A batch entry refused by an SQS fault or throttling, not by the request."""
    return failure.get("SenderFault") is False or failure.get("Code") in _TRANSIENT_CODES


class InFlightTable:
    """The in-flight entries of one queue and the counts; safe to use from any thread.

    ``visibility`` (seconds) is what a receive asked for and an extension asks for.
    """

    def __init__(self, queue_url: str, sqs: LazyClient, stats: WorkerStats) -> None:
        self.queue_url = queue_url
        self.stats = stats
        self.visibility = 0
        self._sqs = sqs
        self._lock = threading.Lock()  # guards _entries and stats
        self._entries: dict[str, InFlight] = {}  # by receipt handle

    def track(self, messages: Sequence[Message]) -> list[InFlight]:
        """Enter freshly received messages; their visibility ends ``visibility`` from now."""
        expires_at = time.monotonic() + self.visibility
        entries = [InFlight(m["MessageId"], m["ReceiptHandle"], expires_at) for m in messages]
        with self._lock:
            self.stats.received += len(entries)
            self._entries.update((e.receipt_handle, e) for e in entries)
        return entries

    def entries_of(self, task: Sequence[Message]) -> list[InFlight]:
        """The entries of ``task``'s messages still in flight."""
        with self._lock:
            found = (self._entries.get(m["ReceiptHandle"]) for m in task)
            return [e for e in found if e is not None]

    def settle(self, task: Sequence[Message], failed: Mapping[str, str]) -> tuple[int, set[str]]:
        """Mark ``task``'s records done (to delete) or drop the failed.

        Returns how many entries are done, waiting for their delete, and the ids
        of the failed records that were still in flight. A failed record is left
        as it is in SQS: it comes back when its visibility ends. A record already
        given back (at a stop or the drain deadline) is not counted again.
        """
        dropped: set[str] = set()
        with self._lock:
            for message in task:
                entry = self._entries.get(message["ReceiptHandle"])
                if entry is None:
                    continue
                if message["MessageId"] in failed:
                    del self._entries[entry.receipt_handle]
                    dropped.add(entry.message_id)
                    self.stats.failed += 1
                else:
                    entry.done = True
                    self.stats.processed += 1
            return sum(e.done for e in self._entries.values()), dropped

    def holds(self, receipt_handle: str) -> bool:
        """Whether the worker still answers for this message: not given back, settled or
        deleted. A record may start only while this is true."""
        with self._lock:
            return receipt_handle in self._entries

    def running(self) -> list[InFlight]:
        """The entries not done yet (running, or waiting to run)."""
        with self._lock:
            return [e for e in self._entries.values() if not e.done]

    def delete_done(self) -> None:
        """Delete what is done; an entry SQS refused for good is dropped too."""
        with self._lock:
            done = [e for e in self._entries.values() if e.done]
        ok, refused = self._batch_call("delete_message_batch", done)
        with self._lock:
            for entry in ok + refused:
                self._entries.pop(entry.receipt_handle, None)

    def extend_due(self) -> None:
        """Extend by another ``visibility`` the entries with less than half of it left."""
        now = time.monotonic()
        with self._lock:
            due = [e for e in self._entries.values() if e.expires_at - now < self.visibility / 2]
        ok, refused = self._batch_call(
            "change_message_visibility_batch", due, VisibilityTimeout=self.visibility
        )
        with self._lock:
            for entry in ok:
                entry.expires_at = now + self.visibility
                if not entry.extended:
                    entry.extended = True
                    self.stats.extended += 1
            for entry in refused:  # refused for good, e.g. past the 12-hour limit: stop asking
                entry.expires_at = math.inf
        if ok:
            log.info("visibility extended", extra={"message_ids": [e.message_id for e in ok]})

    def give_back(self, entries: list[InFlight]) -> None:
        """Make messages visible again at once (visibility 0) for another worker.

        They leave the table first, so no record of them starts once another
        worker can receive them (:meth:`holds`).
        """
        with self._lock:
            for entry in entries:
                self._entries.pop(entry.receipt_handle, None)
        ok, _ = self._batch_call("change_message_visibility_batch", entries, VisibilityTimeout=0)
        with self._lock:
            self.stats.returned += len(ok)
        if entries:
            log.info("given back", extra={"message_ids": [e.message_id for e in entries]})

    def _batch_call(
        self, action: str, entries: Sequence[InFlight], **fields: Any
    ) -> tuple[list[InFlight], list[InFlight]]:
        """Call a ``*Batch`` action ten entries at a time (docs/aws-facts.md#sqs-limits).

        Returns the entries that succeeded and those SQS refused for good;
        entries of a call that raised, or refused for a transient reason (an
        SQS fault, throttling), are in neither: they are tried again later.
        """
        ok: list[InFlight] = []
        refused: list[InFlight] = []
        for start in range(0, len(entries), SQS_BATCH_MAX_ENTRIES):
            chunk = entries[start : start + SQS_BATCH_MAX_ENTRIES]
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
