"""The write buffer mapping's scaling mode: maximum concurrency or provisioned pollers."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqs_blueprint import limits
from sqs_blueprint.capacity.common import HOURS_PER_MONTH, KIB, check_number
from sqs_blueprint.capacity.plan import WriteBufferPlan
from sqs_blueprint.limits import PRICES_USD


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
    check_number("target_per_s", target_per_s)
    check_number("latency_s", latency_s)
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
    fewest = limits.LAMBDA_MIN_POLLERS_RANGE[0]
    possible = high_pollers >= fewest
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
            f"share the write budget, fewer than {fewest} pollers x {per_poller}"
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
