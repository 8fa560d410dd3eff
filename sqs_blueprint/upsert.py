"""Idempotent hash-keyed upserts into DynamoDB, paced to a WCU budget.

The record-processing core shared by the Lambda write buffer, the EC2 worker
and the local runner is :func:`write_records`: each record's body (a JSON
object) becomes one item keyed by ``pk``, the SHA-256 of its canonical JSON.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from sqs_blueprint._clients import LazyClient, error_text
from sqs_blueprint.capacity import wcu_per_item
from sqs_blueprint.records import Record

KEY_ATTRIBUTE = "pk"
MAX_BATCH_ITEMS = 25  # FACTS §3: BatchWriteItem requests
MAX_BATCH_BYTES = 16 * 1024 * 1024  # FACTS §3: BatchWriteItem size
MAX_ITEM_BYTES = 400 * 1024  # FACTS §3: item size
# FACTS §3: throttling is backpressure, retried with backoff.
THROTTLING_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)

_serializer = TypeSerializer()


class ItemError(ValueError):
    """A record cannot become an item; it fails alone."""


# ---------------------------------------------------------------- keys and items


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):  # numbers parsed from JSON text with a fraction or exponent
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8."""
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
    )
    return text.encode("utf-8")


def item_key(obj: Mapping[str, Any], fields: Sequence[str] | None = None) -> str:
    """SHA-256 hex of the canonical JSON of ``fields`` of ``obj`` (all of it if None)."""
    if fields:
        missing = [name for name in fields if name not in obj]
        if missing:
            raise ItemError(
                f"body has no key field {missing[0]!r} (key fields: {list(fields)}, "
                f"body fields: {sorted(obj)[:20]})"
            )
        obj = {name: obj[name] for name in fields}
    return hashlib.sha256(canonical_json(obj)).hexdigest()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number DynamoDB can store")


def parse_body(body: str) -> dict[str, Any]:
    """A JSON object with numbers as Decimal; anything else is an :class:`ItemError`."""
    try:
        value = json.loads(body, parse_float=Decimal, parse_constant=_reject_constant)
    except ValueError as error:
        raise ItemError(f"body is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise ItemError(f"body must be a JSON object, got a JSON {type(value).__name__}")
    return value


def _decimals(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_decimals(v) for v in value]
    return value


def to_item(obj: Mapping[str, Any], key_fields: Sequence[str] | None = None) -> dict[str, Any]:
    """The item for ``obj``: its fields, floats as Decimal, plus the hash key ``pk``."""
    if KEY_ATTRIBUTE in obj:
        raise ItemError(
            f"body has a top-level field {KEY_ATTRIBUTE!r}, which is the table's partition key; "
            "rename the field"
        )
    item: dict[str, Any] = _decimals(obj)
    item[KEY_ATTRIBUTE] = item_key(obj, key_fields)
    return item


def _size(value: Mapping[str, Any]) -> int:
    """Bytes of one AttributeValue, by DynamoDB's item size rules (FACTS §3)."""
    (kind, inner), *_ = value.items()
    if kind == "S":
        return len(inner.encode("utf-8"))
    if kind == "B":
        return len(inner)
    if kind == "N":
        digits = inner.lstrip("-").replace(".", "").lstrip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(_size(v) + 1 for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + _size(v) + 1 for k, v in inner.items())
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in inner)
    if kind == "NS":
        return sum(_size({"N": n}) for n in inner)
    return sum(len(b) for b in inner)  # BS


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """Bytes of a serialized item: attribute names plus values (FACTS §3)."""
    return sum(len(name.encode("utf-8")) + _size(value) for name, value in item.items())


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    """Serialize a Python item to DynamoDB's AttributeValue map, checking the 400 KB limit."""
    try:
        out = {name: _serializer.serialize(value) for name, value in item.items()}
    except (TypeError, ValueError, ArithmeticError) as error:
        raise ItemError(f"item cannot be stored in DynamoDB: {error!r}") from error
    size = item_size(out)
    if size > MAX_ITEM_BYTES:
        raise ItemError(f"item is {size:,} bytes, over DynamoDB's limit of {MAX_ITEM_BYTES:,}")
    return out


# ---------------------------------------------------------------- pacing


class TokenBucket:
    """Holds a rate (units per second) with a burst of ``burst`` units; sleeps when in debt."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be greater than 0 units per second, got {rate!r}")
        self.rate = rate
        self.capacity = burst if burst is not None else rate
        self.tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self, units: float, max_wait: float = math.inf) -> bool:
        """Take ``units``, sleeping off any debt; thread-safe, callers wait in turn.

        When the wait would be longer than ``max_wait`` seconds, take nothing and
        return False at once.
        """
        with self._lock:
            now = self._clock()
            tokens = min(self.capacity, self.tokens + (now - self._last) * self.rate)
            self._last = now
            wait = max(0.0, (units - tokens) / self.rate)
            if wait > max_wait:
                self.tokens = tokens
                return False
            self.tokens = tokens - units
            if wait:
                self._sleep(wait)
            return True


# ---------------------------------------------------------------- writing


def _throttled(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in THROTTLING_CODES


@dataclass
class PutResult:
    """What became of a list of items, by input index."""

    written: int = 0
    duplicates: int = 0
    noops: int = 0
    failed: dict[int, str] = field(default_factory=dict)


@dataclass
class _Entry:
    """The item written for one key, and the inputs that share its fate."""

    key: str
    item: dict[str, Any]
    size: int
    indexes: list[int]
    source: Mapping[str, Any]
    alone: bool = False
    reason: str = ""

    @property
    def wcu(self) -> int:
        return wcu_per_item(self.size / 1024)  # FACTS §3


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
        base_delay: float = 0.05,
        max_delay: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.table_name = table_name
        self.deadline_seconds = deadline_seconds
        self._client = LazyClient("dynamodb", dynamodb_client, session)
        self._bucket = (
            # No burst: every write waits for its share of the budget, so the rate stays
            # within it over any window (FACTS §3: burst capacity is never planned on).
            TokenBucket(wcu_per_second, burst=0, clock=clock, sleep=sleep)
            if wcu_per_second
            else None
        )
        self._base_delay, self._max_delay = base_delay, max_delay
        self._clock, self._sleep, self._jitter = clock, sleep, jitter

    def _pace(self, wcu: int, deadline: float) -> bool:
        """Wait for ``wcu`` of the budget; False if that would pass the deadline."""
        if self._bucket is None:
            return True
        return self._bucket.acquire(wcu, max_wait=max(0.0, deadline - self._clock()))

    def _out_of_time(self, entries: Sequence[_Entry], result: PutResult) -> None:
        rate = self._bucket.rate if self._bucket else 0
        for e in entries:
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
    ) -> list[_Entry]:
        """One entry per key; ``keep_new(new, old)`` decides which item of a key is written."""
        entries: dict[str, _Entry] = {}
        for index, item in indexed:
            key = item.get(KEY_ATTRIBUTE)
            if not isinstance(key, str) or not key:
                result.failed[index] = f"item has no string partition key {KEY_ATTRIBUTE!r}"
                continue
            try:
                serialized = serialize(item)
            except ItemError as error:
                result.failed[index] = str(error)
                continue
            old = entries.get(key)
            if old is None or keep_new(item, old.source):
                indexes = [*old.indexes, index] if old else [index]
                entries[key] = _Entry(key, serialized, item_size(serialized), indexes, item)
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
            retry: list[_Entry] = []
            backoff = False
            chunks = _chunks(pending)
            for position, chunk in enumerate(chunks):
                if not self._pace(sum(e.wcu for e in chunk), deadline):
                    self._out_of_time([e for c in chunks[position:] for e in c], result)
                    break
                request = [{"PutRequest": {"Item": e.item}} for e in chunk]
                try:
                    response = self._client().batch_write_item(
                        RequestItems={self.table_name: request}
                    )
                except ClientError as error:
                    if _throttled(error):
                        backoff = True
                        for e in chunk:
                            e.reason = f"throttled ({error_text(error)})"
                        retry.extend(chunk)
                    elif len(chunk) == 1:
                        self._fail(chunk[0], error_text(error), result)
                    else:  # isolate the item DynamoDB rejected: write each alone
                        for e in chunk:
                            e.alone = True
                        retry.extend(chunk)
                    continue
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

        An item whose version is older than or equal to the stored one is a no-op.
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
            indexed, result, lambda new, old: bool(new[version_field] >= old[version_field])
        )
        deadline = self._clock() + self.deadline_seconds
        for entry in entries:
            self._put_conditional(entry, version_field, deadline, result)
        return result

    def _put_conditional(
        self, entry: _Entry, version_field: str, deadline: float, result: PutResult
    ) -> None:
        absorbed = len(entry.indexes) - 1
        attempt = 0
        while True:
            if not self._pace(entry.wcu, deadline):  # FACTS §3: a failed write costs the same
                self._out_of_time([entry], result)
                return
            try:
                self._client().put_item(
                    TableName=self.table_name,
                    Item=entry.item,
                    ConditionExpression="attribute_not_exists(#k) OR #v < :v",
                    ExpressionAttributeNames={"#k": KEY_ATTRIBUTE, "#v": version_field},
                    ExpressionAttributeValues={":v": entry.item[version_field]},
                )
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code")
                if code == "ConditionalCheckFailedException":
                    result.noops += absorbed + 1
                elif not _throttled(error):
                    self._fail(entry, error_text(error), result)
                elif self._clock() >= deadline:
                    self._fail(entry, "not written before the deadline: throttled", result)
                else:
                    self._backoff(attempt, deadline)
                    attempt += 1
                    continue
                return
            result.written += 1
            result.noops += absorbed
            return

    @staticmethod
    def _fail(entry: _Entry, reason: str, result: PutResult) -> None:
        for index in entry.indexes:
            result.failed[index] = reason


def _chunks(entries: Sequence[_Entry]) -> list[list[_Entry]]:
    """Pack entries in order into BatchWriteItem calls of at most 25 items and 16 MB."""
    chunks: list[list[_Entry]] = []
    current: list[_Entry] = []
    size = 0
    for entry in entries:
        if current and (
            entry.alone
            or current[-1].alone
            or len(current) == MAX_BATCH_ITEMS
            or size + entry.size > MAX_BATCH_BYTES
        ):
            chunks.append(current)
            current, size = [], 0
        current.append(entry)
        size += entry.size
    if current:
        chunks.append(current)
    return chunks


# ---------------------------------------------------------------- the record core


@dataclass
class BatchOutcome:
    """What became of a batch of records: counts, and ``{message_id: reason}`` for failures."""

    order: list[str] = field(default_factory=list)
    written: int = 0
    duplicates: int = 0
    noops: int = 0
    failed: dict[str, str] = field(default_factory=dict)

    def failed_ids(self, *, fifo: bool = False) -> list[str]:
        """Message ids to report; for FIFO the first failure and every later record (FACTS §2)."""
        if not fifo:
            return [mid for mid in self.order if mid in self.failed]
        for position, mid in enumerate(self.order):
            if mid in self.failed:
                return self.order[position:]
        return []

    def batch_response(self, *, fifo: bool = False) -> dict[str, list[dict[str, str]]]:
        """The Lambda partial batch response (FACTS §2)."""
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
        except ItemError as error:
            outcome.failed[record.message_id] = str(error)
            continue
        owners.append(record.message_id)
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
    return outcome
