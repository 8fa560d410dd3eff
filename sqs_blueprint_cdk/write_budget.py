"""What one write-buffer invocation may write, and the largest item a full batch may hold.

An invocation paces its writes to its share of the table's WCU (``WCU_PER_SECOND``)
and stops at its write deadline (``WRITE_DEADLINE_S``, 80% of the function timeout);
a new environment's pacer first waits one window (:class:`sqs_blueprint.pacing.WindowPacer`).
So one invocation writes at most ``share x (deadline - 1 s)`` WCU, its budget. A batch
whose items cost more cannot finish: its last records return unwritten on every
receive, and each receive counts towards the DLQ. The rule checked at synth:

    batch size x WCU of the largest item <= share x (deadline - 1 s)

The largest item is ``max_item_kb``; unset, it is the largest whole KB for which the
rule holds (the handler refuses larger items, ``MAX_ITEM_KB``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from sqs_blueprint import capacity, limits
from sqs_blueprint_cdk._validation import Problems

# The write deadline's share of the function timeout (docs/aws-facts.md#dynamodb backoff).
DEADLINE_SHARE = 0.8
# The pacer's first window, spent waiting by a new execution environment.
FIRST_WINDOW_S = 1.0

Replan = Callable[[int], capacity.WriteBufferPlan | None]


def invocation_budget_wcu(plan: capacity.WriteBufferPlan, function_timeout_s: float) -> float:
    """The most WCU one invocation writes: its share for its deadline less the first window."""
    return plan.budget_wcu_per_s * (DEADLINE_SHARE * function_timeout_s - FIRST_WINDOW_S)


def largest_item_kb(
    problems: Problems,
    plan: capacity.WriteBufferPlan,
    *,
    function_timeout_s: float,
    max_item_kb: float | None,
    replan: Replan,
) -> float:
    """``max_item_kb``, or the largest whole KB a full batch fits with; a problem is noted
    when a full batch of the largest items does not fit in one invocation's budget."""
    budget = invocation_budget_wcu(plan, function_timeout_s)
    fitting = min(limits.DYNAMODB_MAX_ITEM_KB, math.floor(budget / plan.batch_size))
    if max_item_kb is None:
        largest, setting = max(float(fitting), plan.item_kb), "item_kb"
    else:
        largest, setting = max_item_kb, "max_item_kb"
        problems.check(
            0 < max_item_kb <= limits.DYNAMODB_MAX_ITEM_KB,
            "max_item_kb",
            max_item_kb,
            f"the largest item is more than 0 and at most {limits.DYNAMODB_MAX_ITEM_KB} KB "
            "(DynamoDB's item limit)",
            "give the size of the largest item the pipeline accepts, e.g. 4",
        )
        if not 0 < max_item_kb <= limits.DYNAMODB_MAX_ITEM_KB:
            return max_item_kb
    units = capacity.wcu_per_item(largest)
    worst = plan.batch_size * units
    deadline = DEADLINE_SHARE * function_timeout_s
    problems.check(
        worst <= budget,
        setting,
        largest,
        f"a full batch of {plan.batch_size} items of {largest:g} KB costs {worst:,} WCU, but "
        f"one invocation writes at most {budget:,.0f} ({plan.budget_wcu_per_s:g} WCU/s for its "
        f"{deadline:g} s write deadline less the pacer's first {FIRST_WINDOW_S:g} s), so its "
        "last records would return unwritten on every receive until the DLQ",
        _fixes(plan, units, function_timeout_s, replan, fitting),
    )
    return largest


def _fixes(
    plan: capacity.WriteBufferPlan, units: int, timeout_s: float, replan: Replan, fitting: int
) -> str:
    """Each single change that makes the batch fit: batch size, timeout, WCU, item size."""
    worst = plan.batch_size * units
    fixes = []
    batch = math.floor(invocation_budget_wcu(plan, timeout_s) / units)
    if batch >= 1:
        fixes.append(f"batch_size <= {batch}")
    timeout = math.ceil((worst / plan.budget_wcu_per_s + FIRST_WINDOW_S) / DEADLINE_SHARE)
    if timeout <= limits.LAMBDA_MAX_TIMEOUT_S:
        fixes.append(f"function_timeout >= {timeout} s")
    wcu = _enough_wcu(plan, units, timeout_s, replan)
    if wcu is not None:
        fixes.append(f"write_capacity >= {wcu}")
    if fitting >= 1:
        fixes.append(f"max_item_kb <= {fitting} (larger records then fail alone)")
    return "use " + ", or ".join(fixes) if fixes else "split the records into smaller items"


def _enough_wcu(
    plan: capacity.WriteBufferPlan, units: int, timeout_s: float, replan: Replan
) -> int | None:
    """The least table WCU whose plan fits a full batch of ``units``-WCU items, if any: a
    share never exceeds what one unpaced invocation writes, so past twice the share
    needed more WCU only adds invocations."""
    needed = plan.batch_size * units / (DEADLINE_SHARE * timeout_s - FIRST_WINDOW_S)
    if needed > plan.wcu_per_item * 1000 / plan.record_ms:
        return None
    for wcu in range(plan.wcu + 1, 2 * math.ceil(needed) + 2):
        other = replan(wcu)
        if other and other.batch_size * units <= invocation_budget_wcu(other, timeout_s):
            return wcu
    return None
