"""What one BatchWriteItem call may carry, and which DynamoDB errors are worth retrying.

The :class:`~sqs_blueprint.upsert.Upserter` writes :class:`Entry` objects, one per item
key, packed in order by :func:`pack_calls` into calls within DynamoDB's limits
(docs/aws-facts.md#dynamodb); :func:`transient` says why an error may pass on a retry
(throttling is backpressure, a 5xx or a dropped connection a fault).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as AwsConnectionError

from sqs_blueprint._clients import error_text
from sqs_blueprint.capacity import wcu_per_item
from sqs_blueprint.items import ItemError
from sqs_blueprint.limits import DYNAMODB_BATCH_WRITE_MAX_BYTES, DYNAMODB_BATCH_WRITE_MAX_ITEMS

# docs/aws-facts.md#dynamodb: throttling is backpressure, retried with backoff.
THROTTLING_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)
# 5xx answers: the request may succeed when retried (docs/aws-facts.md#dynamodb).
SERVER_CODES = frozenset({"InternalServerError", "ServiceUnavailable"})


def error_code(error: Exception) -> str:
    return (
        str(error.response.get("Error", {}).get("Code", ""))
        if isinstance(error, ClientError)
        else ""
    )


def transient(error: Exception) -> str:
    """Why ``error`` is worth retrying ("throttled", "service error", "network error"), or ""."""
    if error_code(error) in THROTTLING_CODES:
        return "throttled"  # backpressure (docs/aws-facts.md#dynamodb)
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return "service error" if status >= 500 or error_code(error) in SERVER_CODES else ""
    return "network error" if isinstance(error, AwsConnectionError | HTTPClientError) else ""


def error_reason(error: Exception) -> str:
    """One line for a failed item: ``Code: Message`` for AWS errors, else the exception."""
    if isinstance(error, ClientError):
        return error_text(error)
    if isinstance(error, ItemError):
        return str(error)
    return f"{type(error).__name__}: {error}"


@dataclass
class PutResult:
    """What became of a list of items, by input index."""

    written: int = 0
    duplicates: int = 0
    noops: int = 0
    failed: dict[int, str] = field(default_factory=dict)
    # Of the failed, those never sent: the budget had no room left before the deadline.
    deferred: set[int] = field(default_factory=set)
    # What became of each input not failed: (written, duplicate or no-op; WCU charged).
    settled: dict[int, tuple[str, int]] = field(default_factory=dict)


@dataclass
class Entry:
    """The item written for one key, and the inputs that share its fate."""

    key: str
    item: dict[str, Any]
    size: int
    indexes: list[int]
    source: Mapping[str, Any]
    alone: bool = False
    reason: str = ""
    sent: int = -1  # the input whose item this is (the others were absorbed by it)

    @property
    def wcu(self) -> int:
        return wcu_per_item(self.size / 1024)  # docs/aws-facts.md#dynamodb


def settle(entry: Entry, outcome: str, others: str, result: PutResult) -> None:
    """Per input of ``entry``: the one whose item was sent gets ``outcome`` and the WCU,
    the inputs it absorbed get ``others``."""
    for index in entry.indexes:
        result.settled[index] = (outcome, entry.wcu) if index == entry.sent else (others, 0)


def pack_calls(entries: Sequence[Entry], max_wcu: int | None = None) -> list[list[Entry]]:
    """Pack entries in order into BatchWriteItem calls of at most 25 items, 16 MB and, when
    paced, ``max_wcu`` (an item costing more goes alone)."""
    chunks: list[list[Entry]] = []
    current: list[Entry] = []
    size = wcu = 0
    for entry in entries:
        if current and (
            entry.alone
            or current[-1].alone
            or len(current) == DYNAMODB_BATCH_WRITE_MAX_ITEMS
            or size + entry.size > DYNAMODB_BATCH_WRITE_MAX_BYTES
            or (max_wcu is not None and wcu + entry.wcu > max_wcu)
        ):
            chunks.append(current)
            current, size, wcu = [], 0, 0
        current.append(entry)
        size += entry.size
        wcu += entry.wcu if max_wcu is not None else 0
    if current:
        chunks.append(current)
    return chunks
