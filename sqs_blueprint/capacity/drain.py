"""How long a backlog takes to drain through a write buffer, with the mapping's ramp-up.

A standard-mode mapping starts at 5 concurrent invocations and adds up to 300 a
minute; provisioned mode starts at its minimum pollers x 10 invokes and adds up
to 1,000 a minute (docs/aws-facts.md#lambda-event-source-mapping). The ramp is
taken as continuous and at its documented maximum, so the drain time is a lower
bound. Each invocation writes at its planned pace, so the rate is the running
invocations x the per-invocation rate, up to the first ceiling: the mapping's
concurrency (MaximumConcurrency, or maximum pollers x 10), which the plan sets
so that the table's WCU binds, and one partition's 1,000 WCU a second for the
share of writes that go to one key (docs/aws-facts.md#dynamodb).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqs_blueprint import limits
from sqs_blueprint.capacity.common import check_at_most, check_number
from sqs_blueprint.capacity.plan import WriteBufferPlan
from sqs_blueprint.errors import UsageError

STANDARD, PROVISIONED = "standard", "provisioned"
MODES = (STANDARD, PROVISIONED)


@dataclass(frozen=True)
class DrainPhase:
    """One stretch of the drain, and what limits the rate in it."""

    start_s: float
    end_s: float
    messages: float
    binds: str


@dataclass(frozen=True)
class DrainPlan:
    """A backlog drained from time 0, when it all arrives at once."""

    backlog: int
    mode: str
    start_concurrency: int
    ramp_per_minute: int
    concurrency_cap: int
    ceiling_per_s: float  # messages a second once the ramp is over
    drain_time_s: float
    binding_changes_at_s: float | None  # None when one constraint binds throughout
    phases: tuple[DrainPhase, ...]


def _ceiling(plan: WriteBufferPlan, cap: int, hot_key_share: float) -> tuple[float, str]:
    """Messages a second once the ramp is over, and what binds then."""
    per_invocation = plan.items_per_s / plan.max_concurrency
    rate = cap * per_invocation
    paced = plan.wcu_per_item / plan.budget_wcu_per_s >= plan.record_ms / 1000
    if paced and cap == plan.max_concurrency:
        binds = (
            f"the table's {plan.wcu:,} WCU ({cap:,} invocations paced to "
            f"{plan.budget_wcu_per_s:g} WCU/s each)"
        )
    else:
        binds = f"the mapping's concurrency: {cap} invocations of {plan.record_ms:g} ms a record"
    partition = limits.DYNAMODB_PARTITION_MAX_WCU_PER_S
    if hot_key_share > 0 and partition / (plan.wcu_per_item * hot_key_share) < rate:
        rate = partition / (plan.wcu_per_item * hot_key_share)
        binds = (
            f"one partition's {partition:,} WCU/s, taking {hot_key_share:.0%} of the writes "
            "(one key)"
        )
    return rate, binds


def _start_and_ramp(plan: WriteBufferPlan, mode: str, min_pollers: int) -> tuple[int, int, int]:
    """Concurrent invocations at first, added a minute, and at most."""
    if mode == STANDARD:
        cap = min(plan.max_concurrency, limits.LAMBDA_STANDARD_MAX_INVOKES)
        return limits.LAMBDA_STANDARD_START_CONCURRENCY, limits.LAMBDA_STANDARD_RAMP_PER_MINUTE, cap
    lowest, highest = limits.LAMBDA_MIN_POLLERS_RANGE
    if isinstance(min_pollers, bool) or not isinstance(min_pollers, int):
        raise UsageError(f"min_pollers must be a whole number, got {min_pollers!r}")
    check_number("min_pollers", min_pollers, minimum=lowest, inclusive=True)
    check_at_most("min_pollers", min_pollers, highest, "Lambda provisioned mode")
    cap = plan.max_concurrency // limits.LAMBDA_POLLER_INVOKES * limits.LAMBDA_POLLER_INVOKES
    if cap < lowest * limits.LAMBDA_POLLER_INVOKES:
        raise UsageError(
            f"provisioned mode needs at least {lowest} pollers x {limits.LAMBDA_POLLER_INVOKES} "
            f"invokes within the write budget's {plan.max_concurrency} concurrent invocations; "
            "use --scaling-mode standard or raise the WCU"
        )
    start = min(min_pollers * limits.LAMBDA_POLLER_INVOKES, cap)
    return start, limits.LAMBDA_PROVISIONED_RAMP_PER_MINUTE, cap


def plan_drain(
    plan: WriteBufferPlan,
    backlog: int,
    *,
    mode: str = STANDARD,
    min_pollers: int = limits.LAMBDA_DEFAULT_MIN_POLLERS,
    hot_key_share: float = 0.0,
) -> DrainPlan:
    """Drain ``backlog`` messages arriving at once: the time, and what binds when.

    The rate at time t is ``q x min(cap, start + ramp x t)``, capped by the
    ceiling (:func:`_ceiling`), q being one invocation's planned rate. While
    the ramp binds, the messages drained by t are ``q x (start x t + ramp x t² / 2)``.
    """
    if isinstance(backlog, bool) or not isinstance(backlog, int):
        raise UsageError(f"backlog must be a whole number, got {backlog!r}")
    check_number("backlog", backlog, inclusive=True)
    if mode not in MODES:
        raise UsageError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    check_number("hot_key_share", hot_key_share, inclusive=True)
    check_at_most("hot_key_share", hot_key_share, 1, "a share of all writes")
    start, per_minute, cap = _start_and_ramp(plan, mode, min_pollers)
    q = plan.items_per_s / plan.max_concurrency
    ceiling, binds = _ceiling(plan, cap, hot_key_share)
    slope = per_minute / 60  # invocations added a second
    switch = max(0.0, (ceiling / q - start) / slope)
    ramped = q * (start * switch + slope * switch**2 / 2)
    ramp = f"the mapping's ramp-up ({start} at first, +{per_minute:,} a minute)"
    phases: list[DrainPhase] = []
    if backlog <= ramped:
        end = (math.sqrt(start**2 + 2 * slope * backlog / q) - start) / slope
        if end > 0:
            phases.append(DrainPhase(0.0, end, float(backlog), ramp))
    else:
        if switch > 0:
            phases.append(DrainPhase(0.0, switch, ramped, ramp))
        end = switch + (backlog - ramped) / ceiling
        phases.append(DrainPhase(switch, end, backlog - ramped, binds))
    return DrainPlan(
        backlog=backlog,
        mode=mode,
        start_concurrency=start,
        ramp_per_minute=per_minute,
        concurrency_cap=cap,
        ceiling_per_s=ceiling,
        drain_time_s=end if phases else 0.0,
        binding_changes_at_s=switch if len(phases) == 2 else None,
        phases=tuple(phases),
    )
