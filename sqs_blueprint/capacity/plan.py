"""The write buffer's plan: a Lambda consumer writing into a provisioned table, and its cost."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqs_blueprint import limits
from sqs_blueprint.capacity.common import (
    DAYS_PER_MONTH,
    DEFAULT_RECORD_MS,
    HOURS_PER_MONTH,
    TIMEOUT_HEADROOM,
    check_at_most,
    check_number,
    chunks_per_message,
    share,
    visibility_timeout,
    wcu_per_item,
)
from sqs_blueprint.errors import UsageError
from sqs_blueprint.limits import PRICES_USD


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
        check_number("backlog", backlog, inclusive=True)
        return backlog / self.items_per_s


def plan_write_buffer(
    *,
    wcu: int,
    item_kb: float,
    function_timeout_s: float,
    batch_size: int = limits.LAMBDA_MAX_BATCH_WITHOUT_WINDOW,
    record_ms: float = DEFAULT_RECORD_MS,
    batching_window_s: float = 0,
) -> WriteBufferPlan:
    """Derive consumer settings that keep the table's write rate within ``wcu``.

    One unpaced invocation writes ``wcu_per_item * 1000 / record_ms`` WCU/s.
    ``max_concurrency`` is the number of such invocations the table can take
    (rounded up, clamped to the mapping's 2..1000), and each invocation is paced to
    ``budget = wcu / max_concurrency``, so all of them together never exceed
    ``wcu`` (DynamoDB's burst capacity is best effort: not planned on). The batch size is
    lowered until a batch is written within 80% of the function timeout.
    """
    if isinstance(wcu, bool) or not isinstance(wcu, int) or wcu < 1:
        raise UsageError(f"wcu must be a whole number of at least 1, got {wcu!r}")
    units = wcu_per_item(item_kb)
    visibility = visibility_timeout(function_timeout_s, batching_window_s)
    check_number("record_ms", record_ms)
    _check_batch(batch_size, batching_window_s)

    notes: list[str] = []
    concurrency = _concurrency(wcu, units * 1000 / record_ms, notes)
    budget = share(wcu, concurrency)

    writing_time_s = TIMEOUT_HEADROOM * function_timeout_s
    if record_ms / 1000 > writing_time_s:
        raise UsageError(
            f"record_ms {record_ms:g} is more than {TIMEOUT_HEADROOM:.0%} of the "
            f"{function_timeout_s:g} s function timeout; raise the timeout"
        )
    if units / budget > writing_time_s:
        raise UsageError(
            f"table too small: {wcu} WCU shared by the minimum of {concurrency} concurrent "
            f"invocations gives each {budget:g} WCU/s, so one {units}-WCU item "
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


def _check_batch(batch_size: int, batching_window_s: float) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise UsageError(f"batch_size must be a whole number of at least 1, got {batch_size!r}")
    check_at_most("batch_size", batch_size, limits.LAMBDA_MAX_BATCH_SIZE, "Lambda")
    unwindowed = limits.LAMBDA_MAX_BATCH_WITHOUT_WINDOW
    if batch_size > unwindowed and batching_window_s < 1:
        raise UsageError(
            f"batch_size {batch_size} is more than {unwindowed}: it needs "
            f"batching_window_s of at least 1 (Lambda), got {batching_window_s!r}"
        )


def _concurrency(wcu: int, unpaced_wcu_per_s: float, notes: list[str]) -> int:
    """Unpaced invocations the table takes, rounded up, clamped to the mapping's range."""
    wanted = math.ceil(wcu / unpaced_wcu_per_s)
    lowest, highest = limits.LAMBDA_MIN_CONCURRENCY, limits.LAMBDA_MAX_CONCURRENCY
    concurrency = min(highest, max(lowest, wanted))
    if concurrency != wanted:
        notes.append(
            f"max concurrency clamped from {wanted} to {concurrency} (ESM range "
            f"{lowest}..{highest})"
        )
    return concurrency


@dataclass(frozen=True)
class MonthlyCost:
    """USD per month (``limits.PRICES_USD``); DynamoDB covers writes only."""

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
    """Billed requests per message for one batched call of 10 such messages (64 KiB chunks)."""
    return chunks_per_message(body_kb, limits.SQS_BATCH_MAX_ENTRIES)


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
    expiry (default 4-day source + 14-day DLQ retention + 1 day,
    docs/aws-facts.md#extended-client-wire-format).
    """
    check_number("messages_per_day", messages_per_day, inclusive=True)
    check_number("offloaded_share", offloaded_share, inclusive=True)
    check_at_most("offloaded_share", offloaded_share, 1, "a share of all messages")
    check_number("memory_mb", memory_mb)
    check_number("payload_expiry_days", payload_expiry_days, inclusive=True)
    check_number("pointer_kb", pointer_kb)
    p = PRICES_USD
    messages = messages_per_day * DAYS_PER_MONTH
    offloaded = messages * offloaded_share
    inline = messages - offloaded

    sqs_requests = (
        2 * inline * _sqs_requests_per_message(plan.item_kb)
        + 2 * offloaded * _sqs_requests_per_message(pointer_kb)
        + messages / limits.SQS_BATCH_MAX_ENTRIES
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
