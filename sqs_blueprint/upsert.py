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
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal, Inexact
from json.encoder import encode_basestring
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as AwsConnectionError

from sqs_blueprint._clients import LazyClient, error_text
from sqs_blueprint.capacity import wcu_per_item
from sqs_blueprint.errors import SqsBlueprintError
from sqs_blueprint.records import Record

KEY_ATTRIBUTE = "pk"
MAX_BATCH_ITEMS = 25  # FACTS §3: BatchWriteItem requests
MAX_BATCH_BYTES = 16 * 1024 * 1024  # FACTS §3: BatchWriteItem size
MAX_ITEM_BYTES = 400 * 1024  # FACTS §3: item size
# FACTS §3: throttling is backpressure, retried with backoff.
THROTTLING_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)
# 5xx answers: the request may succeed when retried (docs/aws-facts.md#dynamodb).
SERVER_CODES = frozenset({"InternalServerError", "ServiceUnavailable"})

_serializer = TypeSerializer()


class ItemError(SqsBlueprintError, ValueError):
    """A record cannot become an item; it fails alone."""


# ---------------------------------------------------------------- keys and items

MAX_DEPTH = 32  # DynamoDB nests attributes up to 32 levels (docs/aws-facts.md#dynamodb)
MAX_DIGITS = 38  # DynamoDB numbers: up to 38 significant digits (docs/aws-facts.md#dynamodb)
MIN_MAGNITUDE = Decimal("1E-130")  # smallest non-zero magnitude DynamoDB stores
MAX_MAGNITUDE = Decimal("9.9999999999999999999999999999999999999E+125")  # largest


def _too_deep() -> ItemError:
    return ItemError(
        f"body nests arrays and objects more than {MAX_DEPTH} levels deep (the body object is "
        f"level 1); DynamoDB stores nested attributes up to {MAX_DEPTH} levels: flatten the body"
    )


# Exact arithmetic up to DynamoDB's 38 digits: normalizing a number with more
# significant digits signals Inexact; exponents are not limited here, the range is
# checked against DynamoDB's own bounds.
_EXACT = Context(prec=MAX_DIGITS, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[Inexact])
_ZERO, _ONE = Decimal(0), Decimal(1)


def _number(value: int | float | Decimal) -> Decimal:
    """The value as a Decimal without trailing zeros; refuses what DynamoDB cannot store."""
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise ItemError(f"number {value!r} is not finite; DynamoDB stores finite numbers only")
    if not number:
        return _ZERO  # 0, -0, 0.0 and 0e5 are one value
    try:
        number = number.normalize(_EXACT)
    except Inexact:
        digits = len("".join(map(str, number.as_tuple().digits)).strip("0"))
        raise ItemError(
            f"number {_text(number)} has {digits} significant digits; DynamoDB stores at "
            f"most {MAX_DIGITS}: send it as a string"
        ) from None
    if not MIN_MAGNITUDE <= number.copy_abs() <= MAX_MAGNITUDE:
        raise ItemError(
            f"number {number} is out of DynamoDB's range: magnitudes from {MIN_MAGNITUDE} to "
            f"{MAX_MAGNITUDE}, or 0: send it as a string"
        )
    return number


def _text(number: Decimal) -> str:
    """Positional notation: no exponent, no trailing zeros after the point (once normalized)."""
    return format(number, "f")


def _string(value: str) -> str:
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            code = ord(value[error.start])
            raise ItemError(
                f"string {value[:40]!r} holds a lone surrogate U+{code:04X}, which is not valid "
                "UTF-8 and cannot be stored in DynamoDB: fix the producer's text encoding"
            ) from error
    return encode_basestring(value)


def _canonical(value: Any, depth: int, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, int | float | Decimal):
        out.append(_text(_number(value)))
    elif isinstance(value, Mapping | list | tuple):
        if depth >= MAX_DEPTH:
            raise _too_deep()
        if isinstance(value, Mapping):
            _canonical_object(value, depth + 1, out)
            return
        out.append("[")
        for position, element in enumerate(value):
            out.append("," if position else "")
            _canonical(element, depth + 1, out)
        out.append("]")
    else:
        raise ItemError(f"a {type(value).__name__} is not a JSON value: {value!r:.80}")


def _canonical_object(value: Mapping[Any, Any], depth: int, out: list[str]) -> None:
    if not all(isinstance(name, str) for name in value):
        raise ItemError(f"object keys must be strings, got {sorted(map(repr, value))[:5]}")
    out.append("{")
    for position, name in enumerate(sorted(value)):
        out.append(("," if position else "") + _string(name) + ":")
        _canonical(value[name], depth, out)
    out.append("}")


def canonical_json(value: Any) -> bytes:
    """The canonical form of a JSON value, as UTF-8 bytes: equal values, equal bytes.

    Two values get the same bytes exactly when DynamoDB would store them as the
    same value, so a key derived from these bytes is value-exact:

    - objects: members sorted by key, compared by Unicode code point; keys are
      strings; ``{``, ``}``, ``:`` and ``,`` with no whitespace; a key repeated in
      one JSON object keeps its last value (as the parser does);
    - arrays: elements in their order, ``[``, ``]`` and ``,`` with no whitespace;
    - strings: JSON string literals with ``"`` and ``\\`` escaped, control
      characters U+0000 to U+001F as ``\\b \\f \\n \\r \\t`` or ``\\u00xx``, every
      other character as itself in UTF-8 (``"é"`` and ``"\\u00e9"`` are one
      string); a lone surrogate is refused;
    - numbers: by value, in positional notation without exponent, leading zeros,
      trailing fractional zeros or a point when integral: ``1``, ``1.0`` and
      ``1e0`` are ``1``; ``100`` and ``1e2`` are ``100``; ``0.50`` is ``0.5``;
      ``-0`` is ``0`` (DynamoDB has no negative zero); integers and decimals of
      equal value are one number; a Python float counts as its shortest
      repr (``0.1`` is ``0.1``). Numbers DynamoDB cannot store are refused:
      more than 38 significant digits, or a magnitude outside 1E-130 to
      9.9999999999999999999999999999999999999E+125, NaN or Infinity;
    - ``true``, ``false`` and ``null`` as themselves; booleans are not numbers;
    - nesting: at most 32 levels of arrays and objects, the outer value counting
      as level 1, DynamoDB's own limit for nested attributes.
    """
    out: list[str] = []
    _canonical(value, 0, out)
    return "".join(out).encode("utf-8")


def item_key(obj: Mapping[str, Any], fields: Sequence[str] | None = None) -> str:
    """SHA-256 hex of :func:`canonical_json` of ``fields`` of ``obj`` (all of it if None)."""
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
    """A JSON object with every number as a Decimal; anything else is an :class:`ItemError`.

    Arrays and objects may nest :data:`MAX_DEPTH` levels (the body object is level 1).
    """
    try:
        value = json.loads(
            body, parse_float=Decimal, parse_int=Decimal, parse_constant=_reject_constant
        )
    except RecursionError:
        raise _too_deep() from None
    except ArithmeticError:  # decimal: an exponent beyond what any Decimal holds
        raise ItemError(
            f"body has a number with an exponent out of DynamoDB's range (magnitudes from "
            f"{MIN_MAGNITUDE} to {MAX_MAGNITUDE}, or 0): send it as a string"
        ) from None
    except ValueError as error:
        raise ItemError(f"body is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise ItemError(f"body must be a JSON object, got a JSON {type(value).__name__}")
    _check_depth(value)
    return value


def _check_depth(value: dict[str, Any]) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH`, without recursion."""
    level: list[Any] = [value]
    for _ in range(MAX_DEPTH):
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, dict | list)
        ]
        if not level:
            return
    raise _too_deep()


def _dynamodb_number(number: Decimal) -> Decimal:
    """The Decimal to store: integers up to 38 digits written out (``100``, not ``1E+2``)."""
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0 and number.adjusted() < MAX_DIGITS:
        return number.quantize(_ONE, context=_EXACT)
    return number


def _item_values(value: Any, depth: int) -> Any:
    """Numbers as checked Decimals, strings checked for UTF-8, nesting checked."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float | Decimal):
        return _dynamodb_number(_number(value))
    if isinstance(value, str):
        _string(value)
        return value
    if isinstance(value, Mapping | list | tuple):
        if depth >= MAX_DEPTH:
            raise _too_deep()
        if isinstance(value, Mapping):
            return {_item_values(k, depth): _item_values(v, depth + 1) for k, v in value.items()}
        return [_item_values(v, depth + 1) for v in value]
    return value


def to_item(obj: Mapping[str, Any], key_fields: Sequence[str] | None = None) -> dict[str, Any]:
    """The item for ``obj``: its fields, numbers as DynamoDB Decimals, plus the hash key ``pk``."""
    if KEY_ATTRIBUTE in obj:
        raise ItemError(
            f"body has a top-level field {KEY_ATTRIBUTE!r}, which is the table's partition key; "
            "rename the field"
        )
    item: dict[str, Any] = _item_values(obj, 0)
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


def _code(error: Exception) -> str:
    return (
        str(error.response.get("Error", {}).get("Code", ""))
        if isinstance(error, ClientError)
        else ""
    )


def _transient(error: Exception) -> str:
    """Why ``error`` is worth retrying ("throttled", "service error", "network error"), or ""."""
    if _code(error) in THROTTLING_CODES:
        return "throttled"  # backpressure (docs/aws-facts.md#dynamodb)
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return "service error" if status >= 500 or _code(error) in SERVER_CODES else ""
    return "network error" if isinstance(error, AwsConnectionError | HTTPClientError) else ""


def _reason(error: Exception) -> str:
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
            except Exception as error:  # whatever this item's fault, it fails alone
                result.failed[index] = _reason(error)
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
                except (ClientError, BotoCoreError) as error:
                    if _transient(error):
                        backoff = True
                        for e in chunk:
                            e.reason = f"{_transient(error)} ({_reason(error)})"
                        retry.extend(chunk)
                    elif len(chunk) == 1:
                        self._fail(chunk[0], _reason(error), result)
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

        The one rule, inside a batch and across batches: an item is written only if
        its version is greater than the stored one (or none is stored); an older or
        EQUAL version is an acknowledged no-op, so the first item seen with a version
        wins. Inside a batch the same rule picks, per key, the first item with the
        highest version.
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
                self._fail(entry, _reason(error), result)
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
            except (ClientError, BotoCoreError) as error:
                if _code(error) == "ConditionalCheckFailedException":
                    result.noops += absorbed + 1
                elif not _transient(error):
                    self._fail(entry, _reason(error), result)
                elif self._clock() >= deadline:
                    self._fail(
                        entry, f"not written before the deadline: {_transient(error)}", result
                    )
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
        except Exception as error:  # anything tied to this body fails this record alone
            outcome.failed[record.message_id] = _reason(error)
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
