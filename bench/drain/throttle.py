"""The table's provisioned throughput, modelled for moto.

moto does not meter capacity (docs/aws-facts.md#local-cloud), so the table's
provisioned throughput is modelled here by :class:`ProvisionedTable`, a token
bucket attached to DynamoDB clients with botocore hooks. It starts the way a
new table does, conservatively
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html#bp-partition-key-throughput-bursting,
docs/aws-facts.md#dynamodb):

- the bucket starts EMPTY when the drain starts (a table just created has saved
  no unused capacity), refills at the provisioned rate and holds at most one
  second of it. DynamoDB may keep up to 300 s of unused capacity as burst, but
  documents it as best effort; the model grants none, so a consumer that relies
  on burst is throttled here and one that stays within the rate is not;
- a write costs ``ceil(item bytes / 1 KB)`` WCU per item, the item sized by
  DynamoDB's documented rules in the local cloud's meter
  (:mod:`sqs_blueprint.local.meter`), not by the library under test; charged
  when the request is issued; a refused write costs nothing;
- PutItem whose WCU exceeds the tokens left is answered with
  ``ProvisionedThroughputExceededException``; BatchWriteItem writes its items in
  order while they fit and returns the rest in ``UnprocessedItems``, and when
  not even the first fits the whole request is answered with the throttle.
  Both are what DynamoDB does.

The decision is taken for every attempt on ``before-send``, on the serialized
request (a BatchWriteItem's body is trimmed to what fits; a throttle is
returned as DynamoDB's HTTP 400 answer), so botocore's own retries with backoff
apply as they do against DynamoDB, and every attempt is counted at the table:
``retries`` are requests carrying an item the table refused before, whoever
resent it (the SDK or the consumer). The unprocessed items are added to the
parsed response on ``after-call``, registered first so that boto3's resource
layer turns them into Python values as it does DynamoDB's own.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.awsrequest import AWSResponse

from sqs_blueprint.local.meter import item_size, write_units

TOKEN_EPSILON = 1e-6  # float slack when a request asks for exactly the tokens left
KEY = "pk"  # the table's partition key
THROTTLE = "ProvisionedThroughputExceededException"


@dataclass
class TableStats:
    """What the table saw, counted at the table."""

    requests: int = 0
    throttled_requests: int = 0  # refused whole, or partly (UnprocessedItems)
    throttled_items: int = 0
    retries: int = 0  # requests carrying an item the table had refused before
    consumed_wcu: int = 0
    accepted_items: int = 0


class ProvisionedTable:
    """A token bucket of WCU at a table's provisioned rate, hooked onto DynamoDB clients."""

    def __init__(
        self,
        table_name: str,
        wcu: float,
        *,
        capacity_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.table_name = table_name
        self.rate = float(wcu)
        self.capacity = self.rate * capacity_s  # no burst beyond one second (best effort)
        self.tokens = 0.0  # a new table has saved nothing
        self.stats = TableStats()
        self._clock = clock
        self._last = clock()
        self._refused: set[str] = set()
        self._lock = threading.Lock()
        self._unprocessed = threading.local()  # one call's items left out, for its response

    def attach(self, client: Any) -> Any:
        events = client.meta.events
        for op in ("PutItem", "BatchWriteItem"):
            events.register(f"before-send.dynamodb.{op}", self._before_send)
        events.register_first("after-call.dynamodb.BatchWriteItem", self._after)
        return client

    def admit(self, costs: list[tuple[str, int]]) -> int:
        """How many leading items (key, WCU) fit in the tokens left; takes their tokens."""
        with self._lock:
            now = self._clock()
            self.tokens = min(self.capacity, self.tokens + (now - self._last) * self.rate)
            self._last = now
            stats = self.stats
            stats.requests += 1
            if any(key in self._refused for key, _ in costs):
                stats.retries += 1
            fitting = 0
            for _, wcu in costs:
                if wcu > self.tokens + TOKEN_EPSILON:
                    break
                self.tokens -= wcu
                stats.consumed_wcu += wcu
                fitting += 1
            stats.accepted_items += fitting
            if fitting < len(costs):
                stats.throttled_requests += 1
                stats.throttled_items += len(costs) - fitting
                self._refused.update(key for key, _ in costs[fitting:])
            return fitting

    def _before_send(self, request: Any, **_: Any) -> AWSResponse | None:
        """Admit what fits of one attempt: trim its body, or answer it with a throttle."""

        def cost(item: dict[str, Any]) -> tuple[str, int]:
            return item[KEY]["S"], write_units(item_size(item))

        body = json.loads(request.body)
        if "Item" in body:  # PutItem
            if body["TableName"] != self.table_name:
                return None
            return None if self.admit([cost(body["Item"])]) else _throttled_response(request)
        requests = body["RequestItems"].get(self.table_name)
        if not requests:
            return None
        # A delete is charged by its key here (DynamoDB charges the deleted item's size).
        fitting = self.admit(
            [
                cost(r["PutRequest"]["Item"] if "PutRequest" in r else r["DeleteRequest"]["Key"])
                for r in requests
            ]
        )
        if fitting == 0:
            return _throttled_response(request)
        if fitting < len(requests):
            body["RequestItems"][self.table_name] = requests[:fitting]
            request.body = json.dumps(body).encode()
            request.headers["Content-Length"] = str(len(request.body))
            self._unprocessed.items = requests[fitting:]
        return None

    def _after(self, parsed: dict[str, Any], **_: Any) -> None:
        rest = getattr(self._unprocessed, "items", None)
        self._unprocessed.items = None
        if rest and "Error" not in parsed:
            unprocessed = parsed.setdefault("UnprocessedItems", {})
            unprocessed.setdefault(self.table_name, []).extend(rest)


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


def _throttled_response(request: Any) -> AWSResponse:
    """DynamoDB's answer to a write over the table's capacity, as botocore receives it."""
    body = json.dumps(
        {
            "__type": f"com.amazonaws.dynamodb.v20120810#{THROTTLE}",
            "message": "The level of configured provisioned throughput for the table was "
            "exceeded. Consider increasing your provisioning level with the UpdateTable API.",
        }
    ).encode()
    headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "bench"}
    return AWSResponse(request.url, 400, headers, _Body(body))
