"""Per-record retry backoff: a failed record comes back after an exponential,
fully jittered delay from its receive count, not after the queue's whole
visibility timeout every time.

The delay for the ``n``-th receive is uniform in ``[0, min(max_s, base_s * 2**(n-1))]``
("full jitter", https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/),
set as the message's visibility timeout with ChangeMessageVisibilityBatch, ten
entries a call (docs/aws-facts.md#sqs-limits). On a FIFO queue only the first
failed message of each group is delayed: its group stays blocked while it is
invisible, so the later held-back messages keep their order without a delay of
their own. Changing the visibility is best effort: a call or an entry that fails
is logged and the record stays failed, back after its current visibility timeout.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqs_blueprint._clients import LazyClient
from sqs_blueprint.errors import UsageError
from sqs_blueprint.limits import SQS_BATCH_MAX_ENTRIES, SQS_MAX_VISIBILITY_TIMEOUT_S
from sqs_blueprint.payload import unwrap_receipt_handle

DEFAULT_BASE_S = 60.0  # with the cap, 5 receives wait 900 s on average: 5 x a 180 s queue timeout
DEFAULT_MAX_S = 900.0
_MAX_DOUBLINGS = 32  # 2**32 s is far past the cap: no float overflow on huge receive counts

log = logging.getLogger(__name__)


class BackoffError(UsageError):
    """Backoff settings that cannot work."""


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter; ``max_s`` at most SQS's 43,200 s visibility."""

    base_s: float = DEFAULT_BASE_S
    max_s: float = DEFAULT_MAX_S

    def __post_init__(self) -> None:
        problems = []
        if not self.base_s > 0:
            problems.append(f"base {self.base_s} s must be greater than 0")
        if not self.base_s <= self.max_s <= SQS_MAX_VISIBILITY_TIMEOUT_S:
            problems.append(
                f"cap {self.max_s} s must be at least the base ({self.base_s} s) and at most "
                f"{SQS_MAX_VISIBILITY_TIMEOUT_S} s, the longest SQS visibility timeout"
            )
        if problems:
            raise BackoffError("retry backoff: " + "; ".join(problems))

    def delay(self, receive_count: int, rand: Callable[[], float] = random.random) -> int:
        """Whole seconds to wait before the ``receive_count``-th receive is retried."""
        doublings = min(max(receive_count, 1) - 1, _MAX_DOUBLINGS)
        ceiling = min(self.max_s, self.base_s * 2.0**doublings)
        return min(round(rand() * ceiling), SQS_MAX_VISIBILITY_TIMEOUT_S)


DEFAULT_BACKOFF = Backoff()


@dataclass(frozen=True)
class Failure:
    """A failed message as the retry needs it, in the order it was delivered."""

    message_id: str
    receipt_handle: str
    receive_count: int
    group_id: str | None = None


def to_delay(failures: Iterable[Failure], *, fifo: bool) -> list[Failure]:
    """The failures to delay: all of them, or on FIFO the first of each message group."""
    chosen: list[Failure] = []
    groups: set[str | None] = set()
    for failure in failures:
        if fifo and failure.group_id in groups:
            continue
        groups.add(failure.group_id)
        chosen.append(failure)
    return chosen


def queue_url_from_arn(arn: str, endpoint_url: str) -> str:
    """``arn:aws:sqs:region:account:name`` as a queue URL at the SQS ``endpoint_url``."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs":
        raise BackoffError(
            f"eventSourceARN {arn!r} is not an SQS queue ARN (arn:aws:sqs:region:account:name)"
        )
    return f"{endpoint_url.rstrip('/')}/{parts[4]}/{parts[5]}"


class Retrier:
    """Sets failed records' visibility with a :class:`Backoff`; never raises."""

    def __init__(
        self,
        backoff: Backoff,
        *,
        sqs_client: Any = None,
        session: Any = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.backoff = backoff
        self._sqs = LazyClient("sqs", sqs_client, session)
        self._rand = rand

    def delay(
        self,
        queue_url: str,
        failures: Sequence[Failure],
        *,
        fifo: bool,
        at_once: Collection[str] = (),
    ) -> dict[str, int]:
        """Delay the failures (FIFO: each group's first); ``{message_id: seconds}`` of those set.
        Those in ``at_once`` (not their fault) are made visible again now, not delayed."""
        chosen = to_delay(failures, fifo=fifo)
        delays = {
            f.message_id: 0
            if f.message_id in at_once
            else self.backoff.delay(f.receive_count, self._rand)
            for f in chosen
        }
        done: dict[str, int] = {}
        for start in range(0, len(chosen), SQS_BATCH_MAX_ENTRIES):
            chunk = chosen[start : start + SQS_BATCH_MAX_ENTRIES]
            entries = [
                {
                    "Id": str(n),
                    "ReceiptHandle": f.receipt_handle,
                    "VisibilityTimeout": delays[f.message_id],
                }
                for n, f in enumerate(chunk)
            ]
            try:
                response = self._sqs().change_message_visibility_batch(
                    QueueUrl=queue_url, Entries=entries
                )
            except Exception as error:  # best effort: the records stay failed all the same
                ids = [f.message_id for f in chunk]
                log.warning("retry delay not set", extra={"message_ids": ids, "error": str(error)})
                continue
            for entry in response.get("Successful", []):
                message_id = chunk[int(entry["Id"])].message_id
                done[message_id] = delays[message_id]
            for entry in response.get("Failed", []):
                log.warning(
                    "retry delay refused",
                    extra={
                        "correlation_id": chunk[int(entry["Id"])].message_id,
                        "error": f"{entry.get('Code')}: {entry.get('Message')}",
                    },
                )
        return done

    def delay_event(
        self, event: Mapping[str, Any], failed: Iterable[str], *, at_once: Collection[str] = ()
    ) -> dict[str, int]:
        """Delay the failed records of a Lambda SQS event (one queue: the mapping's); those in
        ``at_once`` are returned now instead."""
        failed_ids = set(failed)
        records = [r for r in event.get("Records", []) if r.get("messageId") in failed_ids]
        if not records:
            return {}
        arn = records[0]["eventSourceARN"]
        try:
            url = queue_url_from_arn(arn, self._sqs().meta.endpoint_url)
        except Exception as error:  # no client, or an odd ARN: the records stay failed
            log.warning("retry delay not set", extra={"error": str(error)})
            return {}
        failures = [_from_lambda(r) for r in records]
        return self.delay(url, failures, fifo=arn.endswith(".fifo"), at_once=at_once)


def _from_lambda(record: Mapping[str, Any]) -> Failure:
    attributes = record.get("attributes") or {}
    return Failure(
        message_id=record["messageId"],
        receipt_handle=unwrap_receipt_handle(record["receiptHandle"]),
        receive_count=int(attributes.get("ApproximateReceiveCount", 1)),
        group_id=attributes.get("MessageGroupId"),
    )
