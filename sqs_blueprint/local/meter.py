"""A meter of every DynamoDB write the local cloud serves, taken at the server.

The embedded moto server runs in this process, so its WSGI application can be
wrapped: each BatchWriteItem, PutItem, UpdateItem, DeleteItem and
TransactWriteItems request is read as it arrives and its response as it leaves,
whoever sent it (a handler's runtime process, the CLI, a test). For each item
written the meter records when, which table, which key and how many WCU, so a
second write of one key is seen and the write rate is measured, not inferred:
:meth:`WriteMeter.max_rate` is the most WCU in any one-second span, a window that
slides over the writes rather than bins counted from the first one.

Sizes and WCU follow DynamoDB's documented rules
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html,
docs/aws-facts.md#dynamodb) in this module's own code, independent of the
library's sizing, so a sizing bug there cannot hide here:

- an item's size is the sum of its attribute names' and values' sizes: a string
  or binary its bytes; a number 1 byte per two significant digits plus 1; a
  boolean or null 1; a list or map 3 bytes plus its elements (plus 1 byte each,
  and the names of a map's entries); a set the sum of its elements;
- one WCU writes up to 1 KB: ``ceil(size / 1024)``, at least 1; a transaction
  costs twice that; a write refused by its condition still costs its WCU.

What the meter cannot see from the request alone: DynamoDB charges the larger of
the old and the new item (the meter charges the request's item); a DeleteItem is
charged by its key; an UpdateItem by its key and the values it sets.
"""

from __future__ import annotations

import base64
import io
import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

TARGET_PREFIX = "DynamoDB_20120810."
WRITE_OPERATIONS = frozenset(
    {"BatchWriteItem", "PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"}
)
KB = 1024
WINDOW_S = 1.0  # the span over which a write rate is measured
_EPS = 1e-9  # s: times 1 s apart may differ from 1.0 by float rounding (1.009 - 0.009)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def attribute_size(value: Mapping[str, Any]) -> int:
    """Bytes of one AttributeValue (``{"S": "..."}``, ``{"M": {...}}``, ...)."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode("utf-8"))
    if kind == "B":  # base64 on the wire
        return len(base64.b64decode(inner))
    if kind == "N":
        digits = inner.lstrip("+-").split("e")[0].split("E")[0].replace(".", "").strip("0")
        return math.ceil(len(digits or "0") / 2) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(attribute_size(v) + 1 for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + attribute_size(v) + 1 for k, v in inner.items())
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in inner)
    if kind == "NS":
        return sum(attribute_size({"N": n}) for n in inner)
    if kind == "BS":
        return sum(len(base64.b64decode(b)) for b in inner)
    raise ValueError(f"unknown DynamoDB attribute type {kind!r}")


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """Bytes of an item: each attribute's name (UTF-8) plus its value."""
    return sum(len(name.encode("utf-8")) + attribute_size(v) for name, v in item.items())


def write_units(size: int) -> int:
    """WCU of one standard write of an item of ``size`` bytes: 1 per KB, rounded up."""
    return max(1, math.ceil(size / KB))


@dataclass(frozen=True)
class Write:
    """One item write the server answered: ``written`` False when its condition refused it."""

    at: float
    table: str
    key: str
    wcu: int
    operation: str
    written: bool = True


def _key(names: tuple[str, ...], item: Mapping[str, Any]) -> str:
    return json.dumps({n: item.get(n) for n in names}, sort_keys=True)


class WriteMeter:
    """Records every DynamoDB item write served by the wrapped application.

    ``key_names(table)`` gives a table's key attribute names (hash, then range).
    """

    def __init__(
        self,
        key_names: Callable[[str], tuple[str, ...]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._key_names = key_names
        self._clock = clock
        self._lock = threading.Lock()
        self._writes: list[Write] = []

    # ------------------------------------------------------------ what was written

    def writes(self, table: str) -> list[Write]:
        with self._lock:
            return [w for w in self._writes if w.table == table]

    def writes_by_key(self, table: str) -> Counter[str]:
        """How many times the server wrote each key of ``table``."""
        return Counter(w.key for w in self.writes(table) if w.written)

    def written_twice(self, table: str) -> int:
        """Keys of ``table`` the server wrote more than once."""
        return sum(1 for n in self.writes_by_key(table).values() if n > 1)

    def wcu_per_second(self, table: str) -> list[int]:
        """WCU consumed in each second from ``table``'s first write on (refused writes too)."""
        writes = sorted(self.writes(table), key=lambda w: w.at)
        if not writes:
            return []
        first = writes[0].at
        seconds = [0] * (int(writes[-1].at - first) + 1)
        for w in writes:
            seconds[int(w.at - first)] += w.wcu
        return seconds

    def max_rate(self, table: str, window_s: float = WINDOW_S) -> int:
        """The most WCU ``table`` consumed in any ``window_s`` span (refused writes too).

        The window slides: it may start at any instant, not only at whole seconds from
        the first write, so a burst that straddles two such seconds is counted whole.
        The busiest span starts at a write (moving its start later to the next write
        only drops writes), so each write's time is tried as a start."""
        writes = sorted(self.writes(table), key=lambda w: w.at)
        best = total = 0
        start = 0
        for write in writes:  # total: the writes from writes[start] to this one
            total += write.wcu
            while write.at - writes[start].at >= window_s - _EPS:
                total -= writes[start].wcu
                start += 1
            best = max(best, total)
        return best

    # ------------------------------------------------------------ at the server

    def wsgi(self, app: WsgiApp) -> WsgiApp:
        """``app`` with every DynamoDB write request and its response recorded here."""

        def metered(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            operation = target.removeprefix(TARGET_PREFIX)
            if not target.startswith(TARGET_PREFIX) or operation not in WRITE_OPERATIONS:
                return app(environ, start_response)
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            status: list[str] = []

            def capture(code: str, headers: Any, *rest: Any) -> Any:
                status.append(code)
                return start_response(code, headers, *rest)

            chunks = list(app(environ, capture))
            self.record(operation, json.loads(body or b"{}"), status[0], b"".join(chunks))
            return chunks

        return metered

    def record(self, operation: str, request: dict[str, Any], status: str, body: bytes) -> None:
        """Record the item writes of one answered request (``status`` as ``"200 OK"``)."""
        ok = status.startswith("200")
        response = json.loads(body or b"{}") if ok else {}
        error = "" if ok else str(json.loads(body or b"{}").get("__type", ""))
        refused = "ConditionalCheckFailed" in error  # charged, not written
        if not ok and not refused:
            return  # a throttled, invalid or cancelled request writes nothing
        now = self._clock()
        writes = [
            Write(now, table, key, wcu, operation, written=ok)
            for table, key, wcu in self._items(operation, request, response)
        ]
        with self._lock:
            self._writes.extend(writes)

    def _items(
        self, operation: str, request: dict[str, Any], response: dict[str, Any]
    ) -> list[tuple[str, str, int]]:
        """(table, key, WCU) of each item the request wrote."""
        if operation == "BatchWriteItem":
            unprocessed = response.get("UnprocessedItems") or {}
            out = []
            for table, requests in request.get("RequestItems", {}).items():
                for r in requests:
                    if r in unprocessed.get(table, []):
                        continue
                    out.append(self._one(table, r.get("PutRequest"), r.get("DeleteRequest")))
            return out
        if operation == "TransactWriteItems":
            out = []
            for entry in request.get("TransactItems", []):
                ((kind, action),) = entry.items()
                if kind == "ConditionCheck":
                    continue
                table, key, wcu = self._one(action["TableName"], action, None)
                out.append((table, key, 2 * wcu))
            return out
        return [self._one(request["TableName"], request, None)]

    def _one(
        self, table: str, put: Mapping[str, Any] | None, delete: Mapping[str, Any] | None
    ) -> tuple[str, str, int]:
        """(table, key, WCU) of one put (``Item``), update or delete (``Key``)."""
        names = self._key_names(table)
        action = put if put is not None else delete or {}
        if "Item" in action:
            item = action["Item"]
            return table, _key(names, item), write_units(item_size(item))
        key = action["Key"]
        size = item_size(key)
        size += sum(attribute_size(v) for v in action.get("ExpressionAttributeValues", {}).values())
        return table, _key(names, key), write_units(size)
