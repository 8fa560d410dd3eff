"""Capacity planning for SQS pipelines: pure math.

Three plans: a Lambda consumer writing into a provisioned DynamoDB table
(:func:`plan_write_buffer`), its mapping's scaling mode (:func:`plan_scaling`)
and an ordered FIFO pipeline (:func:`plan_fifo`).
Standard library only, so CDK patterns can call it at synth time. Limits and
prices come from :mod:`sqs_blueprint.limits`. Every function validates its
inputs and raises :class:`~sqs_blueprint.errors.UsageError` with the value
given, the rule and the fix.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from sqs_blueprint import limits
from sqs_blueprint.errors import UsageError
from sqs_blueprint.limits import PRICES_USD

# Share of the function timeout a batch may spend writing; the rest is left for
# start-up, payload fetches and retries of unprocessed items.
TIMEOUT_HEADROOM = 0.8
DEFAULT_RECORD_MS = 10.0  # unpaced time one record takes (parse + its share of a batch write)
HOURS_PER_MONTH = 730
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
KIB = 1024
BILLING_CHUNK_KB = limits.SQS_BILLING_CHUNK_BYTES / KIB
MAX_MESSAGE_KB = limits.SQS_MAX_MESSAGE_BYTES / KIB


def _check_number(
    name: str, value: float, *, minimum: float = 0.0, inclusive: bool = False
) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UsageError(f"{name} must be a finite number, got {value!r}")
    if value < minimum or (value == minimum and not inclusive):
        rule = "at least" if inclusive else "greater than"
        raise UsageError(f"{name} must be {rule} {minimum:g}, got {value!r}")


def _check_at_most(name: str, value: float, maximum: float, source: str) -> None:
    if value > maximum:
        raise UsageError(f"{name} must be at most {maximum:g} ({source}), got {value!r}")


def visibility_timeout(function_timeout_s: float, batching_window_s: float = 0) -> int:
    """Visibility timeout for a queue consumed by a Lambda function.

    ``6 x function timeout + batching window``, rounded up to whole seconds
    (``limits.LAMBDA_SQS_CONFIGURE_URL``).
    """
    _check_number("function_timeout_s", function_timeout_s)
    _check_at_most("function_timeout_s", function_timeout_s, limits.LAMBDA_MAX_TIMEOUT_S, "Lambda")
    _check_number("batching_window_s", batching_window_s, inclusive=True)
    _check_at_most(
        "batching_window_s", batching_window_s, limits.LAMBDA_MAX_BATCHING_WINDOW_S, "Lambda"
    )
    return math.ceil(limits.LAMBDA_VISIBILITY_FACTOR * function_timeout_s + batching_window_s)


def wcu_per_item(item_kb: float) -> int:
    """Write capacity units one write of an item costs: 1 per KB, rounded up (DynamoDB)."""
    _check_number("item_kb", item_kb)
    _check_at_most("item_kb", item_kb, limits.DYNAMODB_MAX_ITEM_KB, "DynamoDB item limit")
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
    (rounded up, clamped to the mapping's 2..1000), and each invocation is paced to
    ``budget = wcu / max_concurrency``, so all of them together never exceed
    ``wcu`` (DynamoDB's burst capacity is best effort: not planned on). The batch size is
    lowered until a batch is written within 80% of the function timeout.
    """
    if isinstance(wcu, bool) or not isinstance(wcu, int) or wcu < 1:
        raise UsageError(f"wcu must be a whole number of at least 1, got {wcu!r}")
    units = wcu_per_item(item_kb)
    visibility = visibility_timeout(function_timeout_s, batching_window_s)
    _check_number("record_ms", record_ms)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise UsageError(f"batch_size must be a whole number of at least 1, got {batch_size!r}")
    _check_at_most("batch_size", batch_size, limits.LAMBDA_MAX_BATCH_SIZE, "Lambda")
    unwindowed = limits.LAMBDA_MAX_BATCH_WITHOUT_WINDOW
    if batch_size > unwindowed and batching_window_s < 1:
        raise UsageError(
            f"batch_size {batch_size} is more than {unwindowed}: it needs "
            f"batching_window_s of at least 1 (Lambda), got {batching_window_s!r}"
        )

    notes: list[str] = []
    unpaced_wcu_per_s = units * 1000 / record_ms
    wanted = math.ceil(wcu / unpaced_wcu_per_s)
    lowest, highest = limits.LAMBDA_MIN_CONCURRENCY, limits.LAMBDA_MAX_CONCURRENCY
    concurrency = min(highest, max(lowest, wanted))
    if concurrency != wanted:
        notes.append(
            f"max concurrency clamped from {wanted} to {concurrency} (ESM range "
            f"{lowest}..{highest})"
        )
    budget = _share(wcu, concurrency)

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


def _chunks_per_message(body_kb: float, per_call: int) -> float:
    """Billed requests per message when ``per_call`` such messages share one call.

    Every 64 KiB chunk of a call's payload is billed as one request
    (``limits.SQS_PRICING_URL``).
    """
    return math.ceil(per_call * body_kb / BILLING_CHUNK_KB) / per_call


def _sqs_requests_per_message(body_kb: float) -> float:
    """Billed requests per message for one batched call of 10 such messages (64 KiB chunks)."""
    return _chunks_per_message(body_kb, limits.SQS_BATCH_MAX_ENTRIES)


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


# ------------------------------------------------------------------ scaling mode


@dataclass(frozen=True)
class ScalingPlan:
    """Maximum concurrency or provisioned pollers for a write buffer, priced.

    ``invocations`` is what ``target_per_s`` needs (capped at the plan's
    concurrency, the table's limit). Standard mode starts at 5 concurrent
    invokes and adds 300 a minute; provisioned mode keeps ``minimum_pollers``
    ready (10 invokes and 1 MB/s each) and adds 1,000 a minute, and bills every
    poller (``limits.LAMBDA_SQS_SCALING_URL``, ``PRICES_USD``). Its maximum keeps
    pollers x 10 within the write budget's concurrency; below 2 such pollers
    the mode is not offered (``minimum_pollers`` is 0).
    """

    mode: str  # "maximum concurrency" or "provisioned pollers"
    target_per_s: float
    latency_s: float
    invocations: int
    standard_ramp_s: float  # until standard mode runs ``invocations`` at once
    minimum_pollers: int
    maximum_pollers: int
    standard_usd_per_month: float  # no charge beyond requests and duration
    provisioned_usd_per_month: float  # minimum pollers all month, EPU-hours
    reasons: tuple[str, ...]


def plan_scaling(plan: WriteBufferPlan, *, target_per_s: float, latency_s: float) -> ScalingPlan:
    """Recommend the mapping's scaling mode for a burst to ``target_per_s`` within ``latency_s``.

    Provisioned pollers when standard mode needs longer than ``latency_s`` to
    reach the invocations the target needs and the write budget leaves room for
    2 pollers or more; maximum concurrency otherwise (it costs nothing extra).
    """
    _check_number("target_per_s", target_per_s)
    _check_number("latency_s", latency_s)
    per_poller = limits.LAMBDA_POLLER_INVOKES
    reasons = []
    per_invocation = plan.items_per_s / plan.max_concurrency
    invocations = min(plan.max_concurrency, math.ceil(target_per_s / per_invocation))
    if target_per_s > plan.items_per_s:
        reasons.append(
            f"the table binds: {plan.wcu} WCU carry {plan.items_per_s:g} items/s, less than "
            f"the {target_per_s:g} targeted in either mode; raise the WCU"
        )
    start = limits.LAMBDA_STANDARD_START_CONCURRENCY
    ramp_s = max(0, invocations - start) / limits.LAMBDA_STANDARD_RAMP_PER_MINUTE * 60
    low_pollers, high_pollers = _pollers(plan, invocations, target_per_s)
    possible = high_pollers >= limits.LAMBDA_MIN_POLLERS_RANGE[0]
    price = PRICES_USD["lambda_sqs_epu_hour"] * HOURS_PER_MONTH
    if possible:
        reasons.append(
            f"provisioned: {low_pollers} pollers ready at once ({low_pollers * per_poller} "
            f"invokes, {low_pollers * limits.LAMBDA_POLLER_MB_PER_S:g} MB/s), at most "
            f"{high_pollers} (x {per_poller} invokes within the write budget's "
            f"{plan.max_concurrency}), {low_pollers} x {HOURS_PER_MONTH} EPU-hours a month"
        )
    else:
        reasons.append(
            f"provisioned pollers not offered: {plan.max_concurrency} concurrent invocations "
            f"share the write budget, fewer than 2 pollers x {per_poller}"
        )
    provisioned = possible and ramp_s > latency_s
    reasons.append(
        f"standard mode reaches {invocations} invocations in {ramp_s:g} s "
        f"({start} at first, +{limits.LAMBDA_STANDARD_RAMP_PER_MINUTE} a minute); "
        + (
            f"more than the {latency_s:g} s allowed"
            if ramp_s > latency_s
            else f"within the {latency_s:g} s allowed"
        )
    )
    return ScalingPlan(
        mode="provisioned pollers" if provisioned else "maximum concurrency",
        target_per_s=target_per_s,
        latency_s=latency_s,
        invocations=invocations,
        standard_ramp_s=ramp_s,
        minimum_pollers=low_pollers if possible else 0,
        maximum_pollers=high_pollers if possible else 0,
        standard_usd_per_month=0.0,
        provisioned_usd_per_month=low_pollers * price if possible else 0.0,
        reasons=tuple(reasons),
    )


def _pollers(plan: WriteBufferPlan, invocations: int, target_per_s: float) -> tuple[int, int]:
    """Minimum pollers for the target (invokes and MB/s), maximum within the write budget."""
    lowest, highest_minimum = limits.LAMBDA_MIN_POLLERS_RANGE
    high = min(
        plan.max_concurrency // limits.LAMBDA_POLLER_INVOKES, limits.LAMBDA_MAX_POLLERS_RANGE[1]
    )
    mb_per_s = target_per_s * plan.item_kb / KIB
    low = max(
        lowest,
        math.ceil(invocations / limits.LAMBDA_POLLER_INVOKES),
        math.ceil(mb_per_s / limits.LAMBDA_POLLER_MB_PER_S),
    )
    return min(low, high, highest_minimum), high


# ------------------------------------------------------------------ FIFO pipelines

DEFAULT_SEND_LATENCY_MS = 20.0  # one SendMessageBatch round trip from inside the region
DEFAULT_MEMORY_MB = 256
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


@dataclass(frozen=True)
class FifoCost:
    """USD per month at a steady rate (``limits.PRICES_USD``, us-east-1)."""

    sqs_requests: float  # billed requests: sends, receives and deletes, 64 KiB chunks
    sqs: float
    lambda_: float  # arm64: one invocation per batch, record time x memory

    @property
    def total(self) -> float:
        return self.sqs + self.lambda_


@dataclass(frozen=True)
class FifoPlan:
    """What an ordered FIFO pipeline can carry, and what it takes to carry ``messages_per_s``.

    ``reasons`` says, for each ceiling and requirement, the rule it comes from.
    """

    messages_per_s: float
    message_kb: float
    groups: int
    record_ms: float
    batch_size: int
    high_throughput: bool
    region: str
    api_calls_per_s: int  # per API action: SendMessageBatch, ReceiveMessage, DeleteMessageBatch
    messages_per_send: int  # entries per SendMessageBatch (10, fewer for large messages)
    send_ceiling_per_s: float
    group_ceiling_per_s: float  # one group: one batch in flight, records one after another
    concurrency: int  # concurrent invocations the mapping can reach: min(groups, maximum)
    consume_ceiling_per_s: float
    ceiling_per_s: float
    binding: str  # "send" or "consume": the lower ceiling
    headroom: float  # ceiling / target
    min_messages_per_send: int  # smallest send batch that keeps sends within the quota
    send_calls_per_s: float  # at messages_per_send
    producers: int  # concurrent senders at send_latency_ms per call (Little's law)
    busy_invocations: float  # target x record time: groups and concurrency needed
    monthly_cost_usd: FifoCost
    reasons: dict[str, str]


def _whole(name: str, value: int, minimum: int, maximum: float, rule: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UsageError(f"{name} must be a whole number of at least {minimum}, got {value!r}")
    _check_at_most(name, value, maximum, rule)


def _check_fifo_inputs(
    messages_per_s: float,
    message_kb: float,
    groups: int,
    record_ms: float,
    batch_size: int,
    region: str,
    max_concurrency: int,
) -> None:
    _check_number("messages_per_s", messages_per_s)
    _check_number("message_kb", message_kb)
    _check_at_most("message_kb", message_kb, MAX_MESSAGE_KB, "the SQS message size limit, 1 MiB")
    _whole("groups", groups, 1, math.inf, "no limit")
    _check_number("record_ms", record_ms)
    fifo_batch = limits.LAMBDA_FIFO_MAX_BATCH_SIZE
    _whole("batch_size", batch_size, 1, fifo_batch, "a FIFO event source mapping's maximum")
    lowest, highest = limits.LAMBDA_MIN_CONCURRENCY, limits.LAMBDA_MAX_CONCURRENCY
    _whole("max_concurrency", max_concurrency, lowest, highest, "the mapping's MaximumConcurrency")
    if not isinstance(region, str) or not _REGION.match(region):
        raise UsageError(f"region must be an AWS region name such as us-east-1, got {region!r}")


def _fifo_cost(
    messages_per_s: float, message_kb: float, record_ms: float, batch_size: int, memory_mb: int
) -> FifoCost:
    """Sends of 10 and receives of ``batch_size`` billed per 64 KiB chunk; deletes in batches."""
    p = PRICES_USD
    messages = messages_per_s * SECONDS_PER_MONTH
    per_send = _chunks_per_message(message_kb, _messages_per_send(message_kb))
    per_receive = _chunks_per_message(message_kb, batch_size)
    requests = messages * (per_send + per_receive + 1 / batch_size)
    gb_seconds = messages * record_ms / 1000 * memory_mb / 1024
    return FifoCost(
        sqs_requests=requests,
        sqs=requests * p["sqs_fifo_per_request"],
        lambda_=messages / batch_size * p["lambda_per_request"]
        + gb_seconds * p["lambda_arm64_per_gb_s"],
    )


def _messages_per_send(message_kb: float) -> int:
    """Entries per SendMessageBatch: 10, fewer when 10 would pass the 1 MiB batch total."""
    return max(1, min(limits.SQS_BATCH_MAX_ENTRIES, math.floor(MAX_MESSAGE_KB / message_kb)))


def plan_fifo(
    *,
    messages_per_s: float,
    groups: int,
    record_ms: float,
    message_kb: float = 1.0,
    batch_size: int = 10,
    high_throughput: bool = False,
    region: str = "us-east-1",
    max_concurrency: int = limits.LAMBDA_MAX_CONCURRENCY,
    send_latency_ms: float = DEFAULT_SEND_LATENCY_MS,
    memory_mb: int = DEFAULT_MEMORY_MB,
) -> FifoPlan:
    """Can a FIFO queue and its Lambda mapping carry ``messages_per_s`` in order?

    Send side: ``api_calls_per_s`` (300 per action; in high-throughput mode the
    region's quota, and at most 300 per partition, so per group) times the
    messages each SendMessageBatch carries. Consume side: a group has at most
    one batch in flight and its records run one after another, so a batch of
    ``b`` records takes ``b x record_ms``: a group moves ``1 / record_ms``
    messages per second whatever the batch size. The mapping runs at most
    ``min(groups, max_concurrency)`` invocations, and ReceiveMessage and
    DeleteMessageBatch share the same per-action quota. Messages are assumed
    spread evenly over ``groups``. A target above either ceiling is refused
    with the limit that binds.
    """
    _check_fifo_inputs(
        messages_per_s, message_kb, groups, record_ms, batch_size, region, max_concurrency
    )
    _check_number("send_latency_ms", send_latency_ms)
    _check_number("memory_mb", memory_mb)
    calls = limits.fifo_calls_per_s(high_throughput=high_throughput, region=region)
    per_send = _messages_per_send(message_kb)
    send = _send_ceiling(calls, per_send, groups, high_throughput, region)
    concurrency = min(groups, max_concurrency)
    consume = _consume_ceiling(
        messages_per_s, calls, groups, max_concurrency, record_ms, batch_size
    )
    for side, (ceiling, why, fix) in (("send", send), ("consume", consume)):
        if messages_per_s > ceiling:
            raise UsageError(
                f"target {messages_per_s:,.6g} msg/s is more than the {side}-side ceiling of "
                f"{ceiling:,.6g} msg/s ({why}); {fix}"
            )
    ceiling = min(send[0], consume[0])
    send_calls = messages_per_s / per_send
    return FifoPlan(
        messages_per_s=messages_per_s,
        message_kb=message_kb,
        groups=groups,
        record_ms=record_ms,
        batch_size=batch_size,
        high_throughput=high_throughput,
        region=region,
        api_calls_per_s=calls,
        messages_per_send=per_send,
        send_ceiling_per_s=send[0],
        group_ceiling_per_s=1000 / record_ms,
        concurrency=concurrency,
        consume_ceiling_per_s=consume[0],
        ceiling_per_s=ceiling,
        binding="send" if send[0] <= consume[0] else "consume",
        headroom=ceiling / messages_per_s,
        min_messages_per_send=math.ceil(messages_per_s / calls),
        send_calls_per_s=send_calls,
        producers=max(1, math.ceil(send_calls * send_latency_ms / 1000)),
        busy_invocations=messages_per_s * record_ms / 1000,
        monthly_cost_usd=_fifo_cost(messages_per_s, message_kb, record_ms, batch_size, memory_mb),
        reasons=_fifo_reasons(
            region, high_throughput, groups, max_concurrency, record_ms, send_latency_ms
        )
        | {"send_ceiling_per_s": send[1], "consume_ceiling_per_s": consume[1]},
    )


def _fifo_reasons(
    region: str,
    high_throughput: bool,
    groups: int,
    max_concurrency: int,
    record_ms: float,
    send_latency_ms: float,
) -> dict[str, str]:
    """The rule behind each figure of a :class:`FifoPlan` but its two ceilings."""
    mode = f"high throughput in {region}" if high_throughput else "without high throughput"
    return {
        "api_calls_per_s": f"FIFO quota per API action, {mode} ({limits.SQS_MESSAGE_QUOTAS_URL})",
        "messages_per_send": "SendMessageBatch takes at most 10 entries and 1 MiB in total",
        "group_ceiling_per_s": "one batch of a group in flight, its records in order: "
        f"b records take b x {record_ms:g} ms, so 1 / {record_ms:g} ms whatever the batch",
        "concurrency": f"a FIFO mapping runs at most one invocation per group: min({groups}, "
        f"max_concurrency {max_concurrency}) ({limits.LAMBDA_SQS_SCALING_URL})",
        "ceiling_per_s": "the lower of the send-side and consume-side ceilings",
        "binding": "the side whose ceiling is lower",
        "headroom": "ceiling / target",
        "min_messages_per_send": "target / send calls per second, rounded up",
        "send_calls_per_s": "target / messages per send",
        "producers": f"send calls/s x {send_latency_ms:g} ms per call (Little's law)",
        "busy_invocations": f"target x {record_ms:g} ms: groups and invocations kept busy",
        "monthly_cost_usd": f"FIFO requests at {PRICES_USD['sqs_fifo_per_request'] * 1e6:.2f} "
        "USD per million (64 KiB chunks): sends, receives, deletes; Lambda arm64",
    }


def _send_ceiling(
    calls: int, per_send: int, groups: int, high_throughput: bool, region: str
) -> tuple[float, str, str]:
    """Messages/s the producers can put into the queue: (ceiling, reason, how to raise it)."""
    ceiling = calls * per_send
    why = f"{calls:,} send calls/s x {per_send} messages per call"
    if not high_throughput:
        fix = "enable high throughput (DeduplicationScope=messageGroup, perMessageGroupId)"
        return ceiling, why, fix
    partition = limits.SQS_FIFO_PARTITION_CALLS_PER_S
    if groups * partition * per_send < ceiling:
        why = f"{groups} groups x {partition} calls/s per partition x {per_send} messages per call"
        return groups * partition * per_send, why, "spread the load over more message groups"
    return ceiling, why, f"{calls:,} calls/s is the {region} quota: ask AWS for an increase"


def _consume_ceiling(
    target: float, calls: int, groups: int, max_concurrency: int, record_ms: float, batch: int
) -> tuple[float, str, str]:
    """Messages/s the mapping can take off the queue in order: (ceiling, reason, fix)."""
    concurrency = min(groups, max_concurrency)
    ceiling = concurrency * 1000 / record_ms
    if calls * batch < ceiling:
        why = f"{calls:,} receive calls/s x batches of {batch}"
        return calls * batch, why, "raise the batch size or enable high throughput"
    why = f"{concurrency} concurrent groups x 1 / {record_ms:g} ms per record"
    needed = math.ceil(target * record_ms / 1000)
    if max_concurrency < groups:
        return ceiling, why, f"raise max_concurrency to at least {needed}"
    return ceiling, why, f"spread the load over at least {needed} message groups"
