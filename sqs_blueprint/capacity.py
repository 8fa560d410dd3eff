"""Capacity planning for SQS -> Lambda -> DynamoDB pipelines: pure math.

Standard library only, so CDK patterns can call it at synth time. Every
function validates its inputs and raises ``ValueError`` with the value given,
the rule and the fix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# FACTS §2: the queue's visibility timeout is at least six times the function
# timeout, plus the batching window.
VISIBILITY_FACTOR = 6
MAX_VISIBILITY_TIMEOUT_S = 43_200  # FACTS §1
MAX_BATCHING_WINDOW_S = 300  # FACTS §2
MAX_BATCH_SIZE = 10_000  # FACTS §2 (standard queues; more than 10 needs a window)
MAX_BATCH_WITHOUT_WINDOW = 10  # FACTS §2
MIN_CONCURRENCY, MAX_CONCURRENCY = 2, 1_000  # FACTS §2: ScalingConfig.MaximumConcurrency
MAX_ITEM_KB = 400  # FACTS §3: DynamoDB item size limit
MAX_FUNCTION_TIMEOUT_S = 900  # Lambda's maximum function timeout (Lambda quotas)
SQS_BATCH_ENTRIES = 10  # FACTS §1: entries per SendMessageBatch / DeleteMessageBatch
SQS_BILLING_CHUNK_KB = 64  # FACTS §1 / §5: every 64 KiB chunk is one request

# Share of the function timeout a batch may spend writing; the rest is left for
# start-up, payload fetches and retries of unprocessed items.
TIMEOUT_HEADROOM = 0.8
DEFAULT_RECORD_MS = 10.0  # unpaced time one record takes (parse + its share of a batch write)
HOURS_PER_MONTH = 730
DAYS_PER_MONTH = HOURS_PER_MONTH / 24

# USD, us-east-1. FACTS §5: check there (and on the AWS pricing pages) before
# publishing a figure.
PRICES_USD: dict[str, float] = {
    "sqs_standard_per_request": 0.40 / 1e6,
    "sqs_fifo_per_request": 0.50 / 1e6,
    "lambda_per_request": 0.20 / 1e6,
    "lambda_arm64_per_gb_s": 0.0000133334,
    "dynamodb_wcu_hour": 0.00065,
    "dynamodb_on_demand_per_wru": 0.625 / 1e6,
    "s3_put": 0.005 / 1_000,
    "s3_get": 0.0004 / 1_000,
    "s3_gb_month": 0.023,
}


def _check_number(
    name: str, value: float, *, minimum: float = 0.0, inclusive: bool = False
) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < minimum or (value == minimum and not inclusive):
        rule = "at least" if inclusive else "greater than"
        raise ValueError(f"{name} must be {rule} {minimum:g}, got {value!r}")


def _check_at_most(name: str, value: float, maximum: float, source: str) -> None:
    if value > maximum:
        raise ValueError(f"{name} must be at most {maximum:g} ({source}), got {value!r}")


def visibility_timeout(function_timeout_s: float, batching_window_s: float = 0) -> int:
    """Visibility timeout for a queue consumed by a Lambda function (FACTS §2).

    ``6 x function timeout + batching window``, rounded up to whole seconds.
    """
    _check_number("function_timeout_s", function_timeout_s)
    _check_at_most("function_timeout_s", function_timeout_s, MAX_FUNCTION_TIMEOUT_S, "Lambda")
    _check_number("batching_window_s", batching_window_s, inclusive=True)
    _check_at_most("batching_window_s", batching_window_s, MAX_BATCHING_WINDOW_S, "FACTS §2")
    return math.ceil(VISIBILITY_FACTOR * function_timeout_s + batching_window_s)


def wcu_per_item(item_kb: float) -> int:
    """Write capacity units one write of an item costs: 1 per KB, rounded up (FACTS §3)."""
    _check_number("item_kb", item_kb)
    _check_at_most("item_kb", item_kb, MAX_ITEM_KB, "DynamoDB item limit, FACTS §3")
    return math.ceil(item_kb)


def _share(total: float, parts: int) -> float:
    """``total / parts``, rounded down so that ``parts * share <= total`` holds in floats."""
    share = total / parts
    while parts * share > total:
        share = math.nextafter(share, 0.0)
    return share


@dataclass(frozen=True)
class WriteBufferPlan:
    """Settings for a Lambda consumer that writes into a provisioned table."""

    wcu: int
    item_kb: float
    wcu_per_item: int
    function_timeout_s: float
    batching_window_s: float
    record_ms: float
    batch_size: int  # ESM BatchSize (may be lower than requested, see notes)
    max_concurrency: int  # ESM ScalingConfig.MaximumConcurrency
    budget_wcu_per_s: float  # write budget of each invocation; max_concurrency x budget <= wcu
    visibility_timeout_s: int
    items_per_s: float  # sustained throughput of the whole consumer
    notes: tuple[str, ...] = ()

    def drain_time_s(self, backlog: int) -> float:
        """Seconds to drain ``backlog`` messages at the sustained throughput."""
        _check_number("backlog", backlog, inclusive=True)
        return backlog / self.items_per_s


def plan_write_buffer(
    *,
    wcu: int,
    item_kb: float,
    function_timeout_s: float,
    batch_size: int = 10,
    record_ms: float = DEFAULT_RECORD_MS,
    batching_window_s: float = 0,
) -> WriteBufferPlan:
    """Derive consumer settings that keep the table's write rate within ``wcu``.

    One unpaced invocation writes ``wcu_per_item * 1000 / record_ms`` WCU/s.
    ``max_concurrency`` is the number of such invocations the table can take
    (rounded up, clamped to 2..1000, FACTS §2), and each invocation is paced to
    ``budget = wcu / max_concurrency``, so all of them together never exceed
    ``wcu`` (FACTS §3: burst capacity is not planned on). The batch size is
    lowered until a batch is written within 80% of the function timeout.
    """
    if isinstance(wcu, bool) or not isinstance(wcu, int) or wcu < 1:
        raise ValueError(f"wcu must be a whole number of at least 1, got {wcu!r}")
    units = wcu_per_item(item_kb)
    visibility = visibility_timeout(function_timeout_s, batching_window_s)
    _check_number("record_ms", record_ms)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number of at least 1, got {batch_size!r}")
    _check_at_most("batch_size", batch_size, MAX_BATCH_SIZE, "FACTS §2")
    if batch_size > MAX_BATCH_WITHOUT_WINDOW and batching_window_s < 1:
        raise ValueError(
            f"batch_size {batch_size} is more than {MAX_BATCH_WITHOUT_WINDOW}: it needs "
            f"batching_window_s of at least 1 (FACTS §2), got {batching_window_s!r}"
        )

    notes: list[str] = []
    unpaced_wcu_per_s = units * 1000 / record_ms
    wanted = math.ceil(wcu / unpaced_wcu_per_s)
    concurrency = min(MAX_CONCURRENCY, max(MIN_CONCURRENCY, wanted))
    if concurrency != wanted:
        notes.append(
            f"max concurrency clamped from {wanted} to {concurrency} (ESM range "
            f"{MIN_CONCURRENCY}..{MAX_CONCURRENCY}, FACTS §2)"
        )
    budget = _share(wcu, concurrency)

    writing_time_s = TIMEOUT_HEADROOM * function_timeout_s
    if record_ms / 1000 > writing_time_s:
        raise ValueError(
            f"record_ms {record_ms:g} is more than {TIMEOUT_HEADROOM:.0%} of the "
            f"{function_timeout_s:g} s function timeout; raise the timeout"
        )
    if units / budget > writing_time_s:
        raise ValueError(
            f"table too small: {wcu} WCU shared by the minimum of {concurrency} concurrent "
            f"invocations (FACTS §2) gives each {budget:g} WCU/s, so one {units}-WCU item "
            f"takes {units / budget:g} s, more than {TIMEOUT_HEADROOM:.0%} of the "
            f"{function_timeout_s:g} s function timeout; raise the WCU or the timeout"
        )
    seconds_per_item = max(record_ms / 1000, units / budget)
    fitting = math.floor(writing_time_s / seconds_per_item)
    if fitting < batch_size:
        notes.append(
            f"batch size lowered from {batch_size} to {fitting} so a batch is written within "
            f"{TIMEOUT_HEADROOM:.0%} of the {function_timeout_s:g} s timeout"
        )
        batch_size = fitting
    return WriteBufferPlan(
        wcu=wcu,
        item_kb=item_kb,
        wcu_per_item=units,
        function_timeout_s=function_timeout_s,
        batching_window_s=batching_window_s,
        record_ms=record_ms,
        batch_size=batch_size,
        max_concurrency=concurrency,
        budget_wcu_per_s=budget,
        visibility_timeout_s=visibility,
        items_per_s=concurrency / seconds_per_item,
        notes=tuple(notes),
    )


@dataclass(frozen=True)
class MonthlyCost:
    """USD per month (FACTS §5 prices); DynamoDB covers writes only."""

    sqs: float
    lambda_: float
    dynamodb_provisioned: float
    dynamodb_on_demand: float
    s3: float

    @property
    def total_provisioned(self) -> float:
        return self.sqs + self.lambda_ + self.dynamodb_provisioned + self.s3

    @property
    def total_on_demand(self) -> float:
        return self.sqs + self.lambda_ + self.dynamodb_on_demand + self.s3


def _sqs_requests_per_message(body_kb: float) -> float:
    """Billed requests per message for one batched call of 10 such messages (FACTS §1, §5)."""
    return math.ceil(SQS_BATCH_ENTRIES * body_kb / SQS_BILLING_CHUNK_KB) / SQS_BATCH_ENTRIES


def monthly_cost(
    plan: WriteBufferPlan,
    *,
    messages_per_day: float,
    offloaded_share: float = 0.0,
    memory_mb: int = 256,
    payload_expiry_days: float = 19,
    pointer_kb: float = 0.25,
) -> MonthlyCost:
    """Monthly cost of a write buffer at a steady ``messages_per_day``.

    SQS: a batched send and receive of 10 (billed per 64 KiB chunk, an
    offloaded message only carries its pointer) and a batched delete. Lambda
    arm64: one invocation per batch, ``record_ms`` per record. DynamoDB: the
    provisioned WCU all month, or one write request unit per KB on demand.
    S3: a PUT and a GET per offloaded message, stored until the lifecycle
    expiry (default 4-day source + 14-day DLQ retention + 1 day, FACTS §4).
    """
    _check_number("messages_per_day", messages_per_day, inclusive=True)
    _check_number("offloaded_share", offloaded_share, inclusive=True)
    _check_at_most("offloaded_share", offloaded_share, 1, "a share of all messages")
    _check_number("memory_mb", memory_mb)
    _check_number("payload_expiry_days", payload_expiry_days, inclusive=True)
    _check_number("pointer_kb", pointer_kb)
    p = PRICES_USD
    messages = messages_per_day * DAYS_PER_MONTH
    offloaded = messages * offloaded_share
    inline = messages - offloaded

    sqs_requests = (
        2 * inline * _sqs_requests_per_message(plan.item_kb)
        + 2 * offloaded * _sqs_requests_per_message(pointer_kb)
        + messages / SQS_BATCH_ENTRIES
    )
    invocations = messages / plan.batch_size
    gb_seconds = messages * plan.record_ms / 1000 * memory_mb / 1024
    stored_gb = messages_per_day * offloaded_share * payload_expiry_days * plan.item_kb / 1024**2
    return MonthlyCost(
        sqs=sqs_requests * p["sqs_standard_per_request"],
        lambda_=invocations * p["lambda_per_request"] + gb_seconds * p["lambda_arm64_per_gb_s"],
        dynamodb_provisioned=plan.wcu * HOURS_PER_MONTH * p["dynamodb_wcu_hour"],
        dynamodb_on_demand=messages * plan.wcu_per_item * p["dynamodb_on_demand_per_wru"],
        s3=offloaded * (p["s3_put"] + p["s3_get"]) + stored_gb * p["s3_gb_month"],
    )
