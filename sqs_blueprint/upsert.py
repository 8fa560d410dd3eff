"""Idempotent hash-keyed upserts into DynamoDB, paced to a WCU budget.

The record-processing core shared by the Lambda write buffer, the EC2 worker
and the local runner is :func:`write_records`: each record's body (a JSON
object) becomes one item keyed by ``pk``, the SHA-256 of its canonical JSON
(:mod:`sqs_blueprint.items`); writes are paced by :mod:`sqs_blueprint.pacing` and
packed into BatchWriteItem calls by :mod:`sqs_blueprint.batch_write`, which also says
which errors are retried. The items and pacing modules' public names are importable
from here too.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sqs_blueprint._clients import LazyClient
from sqs_blueprint.batch_write import (
    THROTTLING_CODES,
    Entry,
    PutResult,
    error_code,
    error_reason,
    pack_calls,
    settle,
    transient,
)
from sqs_blueprint.capacity import wcu_per_item
from sqs_blueprint.items import (
    KEY_ATTRIBUTE,
    MAX_DEPTH,
    MAX_DIGITS,
    MAX_ITEM_BYTES,
    MAX_MAGNITUDE,
    MIN_MAGNITUDE,
    ItemError,
    canonical_json,
    item_key,
    item_size,
    parse_body,
    serialize,
    to_item,
)
from sqs_blueprint.pacing import Grant, TokenBucket, WindowPacer
from sqs_blueprint.records import Record
from sqs_blueprint.versioning import NEWER_CONDITION, stored_version_problem

__all__ = [
    "KEY_ATTRIBUTE",
    "MAX_DEPTH",
    "MAX_DIGITS",
    "MAX_ITEM_BYTES",
    "MAX_MAGNITUDE",
    "MIN_MAGNITUDE",
    "THROTTLING_CODES",
    "BatchOutcome",
    "ItemError",
    "PutResult",
    "TokenBucket",
    "Upserter",
    "canonical_json",
    "item_key",
    "item_size",
    "parse_body",
    "serialize",
    "to_item",
    "wcu_per_item",
    "write_records",
]


class Upserter:
    """Writes items keyed by ``pk`` to one table, paced to ``wcu_per_second`` if given."""

    def __init__(
        self,
        table_name: str,
        *,
        dynamodb_client: Any = None,
        session: Any = None,
        wcu_per_second: float | None = None,
        deadline_seconds: float = 20.0,
        max_item_bytes: int | None = None,
        base_delay: float = 0.05,
        max_delay: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.table_name = table_name
        self.deadline_seconds = deadline_seconds
        self.max_item_bytes = max_item_bytes  # larger items fail: a batch must fit the budget
        self._client = LazyClient("dynamodb", dynamodb_client, session)
        self._bucket = (
            # No burst: no span of one second holds more than the budget, as the table
            # sees it (docs/aws-facts.md#dynamodb: burst capacity is never planned on).
            WindowPacer(wcu_per_second, clock=clock, sleep=sleep) if wcu_per_second else None
        )
        self._base_delay, self._max_delay = base_delay, max_delay
        self._clock, self._sleep, self._jitter = clock, sleep, jitter

    def _pace(self, wcu: int, deadline: float) -> Grant | None:
        """Wait for room for ``wcu`` in the budget; None if that would pass the deadline.
        The grant's ``done()`` is called once the request is answered."""
        if self._bucket is None:
            return Grant(None, wcu)
        return self._bucket.acquire(wcu, max_wait=max(0.0, deadline - self._clock()))

    def _request_wcu_cap(self) -> int | None:
        """The most WCU one request may carry: one second of the budget, so that no second
        sees more than the budget (a larger request would arrive all at once)."""
        return max(1, int(self._bucket.rate)) if self._bucket else None

    def _out_of_time(self, entries: Sequence[Entry], result: PutResult) -> None:
        """Fail entries the budget had no room for; those never refused (throttled, left
        unprocessed) are not at fault: ``deferred``."""
        rate = self._bucket.rate if self._bucket else 0
        for e in entries:
            if not e.reason:
                result.deferred.update(e.indexes)
            self._fail(
                e,
                f"not written before the deadline: the write budget of {rate:g} WCU/s "
                "has no room left for it in this batch",
                result,
            )

    def _backoff(self, attempt: int, deadline: float) -> None:
        """Exponential backoff with full jitter, never past the deadline."""
        delay = self._jitter() * min(self._max_delay, self._base_delay * 2**attempt)
        self._sleep(max(0.0, min(delay, deadline - self._clock())))

    def _entries(
        self,
        indexed: Sequence[tuple[int, Mapping[str, Any]]],
        result: PutResult,
        keep_new: Callable[[Mapping[str, Any], Mapping[str, Any]], bool],
    ) -> list[Entry]:
        """One entry per key; ``keep_new(new, old)`` decides which item of a key is written."""
        entries: dict[str, Entry] = {}
        for index, item in indexed:
            key = item.get(KEY_ATTRIBUTE)
            if not isinstance(key, str) or not key:
                result.failed[index] = f"item has no string partition key {KEY_ATTRIBUTE!r}"
                continue
            try:
                serialized = serialize(item)
            except Exception as error:  # whatever this item's fault, it fails alone
                result.failed[index] = error_reason(error)
                continue
            size = item_size(serialized)
            if self.max_item_bytes is not None and size > self.max_item_bytes:
                result.failed[index] = (
                    f"item is {size:,} bytes, over this consumer's MAX_ITEM_KB of "
                    f"{self.max_item_bytes:,} bytes (the largest item a full batch may hold "
                    "within one invocation's write budget)"
                )
                continue
            old = entries.get(key)
            if old is None or keep_new(item, old.source):
                indexes = [*old.indexes, index] if old else [index]
                entries[key] = Entry(key, serialized, size, indexes, item, sent=index)
            else:
                old.indexes.append(index)
        return list(entries.values())

    def put_many(self, items: Sequence[Mapping[str, Any]]) -> PutResult:
        """Overwrite mode: BatchWriteItem, duplicates removed (last wins), retried to a deadline."""
        result = PutResult()
        pending = self._entries(list(enumerate(items)), result, lambda new, old: True)
        deadline = self._clock() + self.deadline_seconds
        attempt = 0
        while pending:
            retry: list[Entry] = []
            backoff = False
            chunks = pack_calls(pending, self._request_wcu_cap())
            for position, chunk in enumerate(chunks):
                grant = self._pace(sum(e.wcu for e in chunk), deadline)
                if grant is None:
                    self._out_of_time([e for c in chunks[position:] for e in c], result)
                    break
                request = [{"PutRequest": {"Item": e.item}} for e in chunk]
                try:
                    response = self._client().batch_write_item(
                        RequestItems={self.table_name: request}
                    )
                except (ClientError, BotoCoreError) as error:
                    if transient(error):
                        backoff = True
                        for e in chunk:
                            e.reason = f"{transient(error)} ({error_reason(error)})"
                        retry.extend(chunk)
                    elif len(chunk) == 1:
                        self._fail(chunk[0], error_reason(error), result)
                    else:  # isolate the item DynamoDB rejected: write each alone
                        for e in chunk:
                            e.alone = True
                        retry.extend(chunk)
                    continue
                finally:
                    grant.done()
                unprocessed = {
                    r["PutRequest"]["Item"][KEY_ATTRIBUTE]["S"]
                    for r in response.get("UnprocessedItems", {}).get(self.table_name, [])
                }
                for e in chunk:
                    if e.key in unprocessed:
                        backoff = True
                        e.reason = "left in UnprocessedItems"
                        retry.append(e)
                    else:
                        result.written += 1
                        result.duplicates += len(e.indexes) - 1
                        settle(e, "written", "duplicate", result)
            if backoff:
                if self._clock() >= deadline:
                    for e in retry:
                        self._fail(e, f"not written before the deadline: {e.reason}", result)
                    break
                self._backoff(attempt, deadline)
                attempt += 1
            pending = retry
        return result

    def put_versioned(self, items: Sequence[Mapping[str, Any]], version_field: str) -> PutResult:
        """Versioned mode: conditional PutItem keeping the highest numeric ``version_field``.

        The one rule, inside a batch and across batches: an item is written only if
        its version is greater than the stored one, or no item is stored, or the stored
        item has no ``version_field`` (written before versioning, or under another
        version field: older than any versioned update); an older or EQUAL stored
        version is an acknowledged no-op, so the first item seen with a version wins.
        A stored version that is not a number fails the item with the reason. Inside a
        batch the same rule picks, per key, the first item with the highest version.
        """
        result = PutResult()
        indexed: list[tuple[int, Mapping[str, Any]]] = []
        for index, item in enumerate(items):
            version = item.get(version_field)
            if isinstance(version, bool) or not isinstance(version, int | float | Decimal):
                result.failed[index] = (
                    f"version field {version_field!r} must be a number, got {version!r}"
                )
            else:
                indexed.append((index, item))
        entries = self._entries(
            indexed, result, lambda new, old: bool(new[version_field] > old[version_field])
        )
        deadline = self._clock() + self.deadline_seconds
        for entry in entries:
            try:
                self._put_conditional(entry, version_field, deadline, result)
            except Exception as error:  # an error tied to one item fails that item alone
                self._fail(entry, error_reason(error), result)
        return result

    def _put_conditional(
        self, entry: Entry, version_field: str, deadline: float, result: PutResult
    ) -> None:
        absorbed = len(entry.indexes) - 1
        attempt = 0
        while True:
            grant = self._pace(entry.wcu, deadline)  # a refused write costs the same
            if grant is None:  # (docs/aws-facts.md#dynamodb)
                self._out_of_time([entry], result)
                return
            try:
                self._client().put_item(
                    TableName=self.table_name,
                    Item=entry.item,
                    ConditionExpression=NEWER_CONDITION,
                    ExpressionAttributeNames={"#k": KEY_ATTRIBUTE, "#v": version_field},
                    ExpressionAttributeValues={
                        ":v": entry.item[version_field],
                        ":number": {"S": "N"},
                    },
                    # The stored item, to tell a newer version from one that is no number
                    # (docs/aws-facts.md#dynamodb).
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except (ClientError, BotoCoreError) as error:
                if error_code(error) == "ConditionalCheckFailedException":
                    refused = stored_version_problem(
                        getattr(error, "response", {}).get("Item"),
                        entry.item[version_field]["N"],
                        version_field,
                    )
                    if refused:
                        self._fail(entry, refused, result)
                    else:
                        result.noops += absorbed + 1
                        settle(entry, "no-op", "no-op", result)
                elif not transient(error):
                    self._fail(entry, error_reason(error), result)
                elif self._clock() >= deadline:
                    self._fail(
                        entry, f"not written before the deadline: {transient(error)}", result
                    )
                else:
                    self._backoff(attempt, deadline)
                    attempt += 1
                    continue
                return
            finally:
                grant.done()  # after any backoff: the window stays counted meanwhile
            result.written += 1
            result.noops += absorbed
            settle(entry, "written", "no-op", result)
            return

    @staticmethod
    def _fail(entry: Entry, reason: str, result: PutResult) -> None:
        for index in entry.indexes:
            result.failed[index] = reason


# ---------------------------------------------------------------- the record core


@dataclass
class BatchOutcome:
    """What became of a batch of records: counts, and ``{message_id: reason}`` for failures."""

    order: list[str] = field(default_factory=list)
    written: int = 0
    duplicates: int = 0
    noops: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    # Of the failed, those never attempted: the write budget ran out before the deadline.
    deferred: set[str] = field(default_factory=set)
    # Per message id: its item's key, and (written, duplicate or no-op; WCU charged).
    keys: dict[str, str] = field(default_factory=dict)
    versions: dict[str, Any] = field(default_factory=dict)  # versioned mode only
    settled: dict[str, tuple[str, int]] = field(default_factory=dict)

    def failed_ids(self, *, fifo: bool = False) -> list[str]:
        """Message ids to report; for FIFO the first failure and every later record
        (docs/aws-facts.md#lambda-event-source-mapping)."""
        if not fifo:
            return [mid for mid in self.order if mid in self.failed]
        for position, mid in enumerate(self.order):
            if mid in self.failed:
                return self.order[position:]
        return []

    def batch_response(self, *, fifo: bool = False) -> dict[str, list[dict[str, str]]]:
        """The Lambda partial batch response (docs/aws-facts.md#lambda-event-source-mapping)."""
        return {
            "batchItemFailures": [{"itemIdentifier": mid} for mid in self.failed_ids(fifo=fifo)]
        }


def write_records(
    records: Sequence[Record],
    *,
    upserter: Upserter,
    key_fields: Sequence[str] | None = None,
    version_field: str | None = None,
) -> BatchOutcome:
    """Upsert each record's JSON-object body as one item; a bad record fails alone.

    Overwrite mode by default; with ``version_field``, versioned mode.
    """
    outcome = BatchOutcome(order=[r.message_id for r in records])
    items: list[dict[str, Any]] = []
    owners: list[str] = []
    for record in records:
        try:
            items.append(to_item(parse_body(record.body), key_fields))
        except Exception as error:  # anything tied to this body fails this record alone
            outcome.failed[record.message_id] = error_reason(error)
            continue
        owners.append(record.message_id)
        outcome.keys[record.message_id] = items[-1][KEY_ATTRIBUTE]
        if version_field:
            outcome.versions[record.message_id] = items[-1].get(version_field)
    if version_field:
        result = upserter.put_versioned(items, version_field)
    else:
        result = upserter.put_many(items)
    outcome.written, outcome.duplicates, outcome.noops = (
        result.written,
        result.duplicates,
        result.noops,
    )
    for index, reason in result.failed.items():
        outcome.failed[owners[index]] = reason
    outcome.deferred = {owners[index] for index in result.deferred}
    outcome.settled = {owners[index]: settled for index, settled in result.settled.items()}
    return outcome
