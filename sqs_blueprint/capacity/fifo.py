"""An ordered FIFO pipeline: send-side and consume-side ceilings, producers, cost."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from sqs_blueprint import limits
from sqs_blueprint.capacity.common import (
    KIB,
    MAX_MESSAGE_KB,
    SECONDS_PER_MONTH,
    check_at_most,
    check_number,
    check_whole,
    chunks_per_message,
)
from sqs_blueprint.errors import UsageError
from sqs_blueprint.limits import PRICES_USD

DEFAULT_SEND_LATENCY_MS = 20.0  # one SendMessageBatch round trip from inside the region
DEFAULT_MEMORY_MB = 256
_MAX_MESSAGE = f"{MAX_MESSAGE_KB / KIB:g} MiB"  # "1 MiB"
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")


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


def _check_fifo_inputs(
    messages_per_s: float,
    message_kb: float,
    groups: int,
    record_ms: float,
    batch_size: int,
    region: str,
    max_concurrency: int,
) -> None:
    check_number("messages_per_s", messages_per_s)
    check_number("message_kb", message_kb)
    check_at_most(
        "message_kb", message_kb, MAX_MESSAGE_KB, f"the SQS message size limit, {_MAX_MESSAGE}"
    )
    check_whole("groups", groups, 1, math.inf, "no limit")
    check_number("record_ms", record_ms)
    fifo_batch = limits.LAMBDA_FIFO_MAX_BATCH_SIZE
    check_whole("batch_size", batch_size, 1, fifo_batch, "a FIFO event source mapping's maximum")
    lowest, highest = limits.LAMBDA_MIN_CONCURRENCY, limits.LAMBDA_MAX_CONCURRENCY
    check_whole(
        "max_concurrency", max_concurrency, lowest, highest, "the mapping's MaximumConcurrency"
    )
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        raise UsageError(f"region must be an AWS region name such as us-east-1, got {region!r}")


def _fifo_cost(
    messages_per_s: float, message_kb: float, record_ms: float, batch_size: int, memory_mb: int
) -> FifoCost:
    """Sends of 10 and receives of ``batch_size`` billed per 64 KiB chunk; deletes in batches."""
    p = PRICES_USD
    messages = messages_per_s * SECONDS_PER_MONTH
    per_send = chunks_per_message(message_kb, _messages_per_send(message_kb))
    per_receive = chunks_per_message(message_kb, batch_size)
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
    batch_size: int = limits.LAMBDA_FIFO_MAX_BATCH_SIZE,
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
    check_number("send_latency_ms", send_latency_ms)
    check_number("memory_mb", memory_mb)
    calls = limits.fifo_calls_per_s(high_throughput=high_throughput, region=region)
    per_send = _messages_per_send(message_kb)
    send = _send_ceiling(calls, per_send, groups, high_throughput, region)
    concurrency = min(groups, max_concurrency)
    consume = _consume_ceiling(
        messages_per_s, calls, groups, max_concurrency, record_ms, batch_size
    )
    _refuse_above(messages_per_s, send=send, consume=consume)
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


def _refuse_above(
    target: float, *, send: tuple[float, str, str], consume: tuple[float, str, str]
) -> None:
    """A target above either side's ceiling is refused with the limit that binds."""
    for side, (ceiling, why, fix) in (("send", send), ("consume", consume)):
        if target > ceiling:
            raise UsageError(
                f"target {target:,.6g} msg/s is more than the {side}-side ceiling of "
                f"{ceiling:,.6g} msg/s ({why}); {fix}"
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
        "messages_per_send": f"SendMessageBatch takes at most {limits.SQS_BATCH_MAX_ENTRIES} "
        f"entries and {_MAX_MESSAGE} in total",
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
