"""Draining a backlog through the mapping's ramp-up: plan_drain and `plan --backlog`."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sqs_blueprint.capacity import plan_drain, plan_write_buffer
from sqs_blueprint.cli import main
from sqs_blueprint.errors import UsageError

# The documented ramps (docs/aws-facts.md#lambda-event-source-mapping), written out here.
STANDARD_START, STANDARD_PER_MINUTE = 5, 300
PROVISIONED_PER_MINUTE, INVOKES_PER_POLLER = 1_000, 10
PARTITION_WCU = 1_000


def _simulate(rate_at: Callable[[float], float], backlog: int, dt: float = 0.25) -> float:
    """Seconds until ``backlog`` is drained, stepping time by ``dt`` (midpoint rule)."""
    left, t = float(backlog), 0.0
    while True:
        step = rate_at(t + dt / 2) * dt
        if step >= left:
            return t + left / rate_at(t + dt / 2)
        left -= step
        t += dt


@settings(max_examples=60, deadline=None)
@given(
    wcu=st.integers(1, 50_000),
    item_kb=st.floats(0.1, 8),
    record_ms=st.floats(1, 200),
    drained_share=st.floats(0.001, 1),
    provisioned=st.booleans(),
    min_pollers=st.integers(2, 200),
    hot_key_share=st.sampled_from([0.0, 0.01, 0.2, 1.0]),
)
def test_drain_time_matches_a_step_by_step_simulation(
    wcu: int,
    item_kb: float,
    record_ms: float,
    drained_share: float,
    provisioned: bool,
    min_pollers: int,
    hot_key_share: float,
) -> None:
    plan = plan_write_buffer(wcu=wcu, item_kb=item_kb, function_timeout_s=60, record_ms=record_ms)
    per_invocation = plan.items_per_s / plan.max_concurrency
    units = math.ceil(item_kb)
    if provisioned:
        cap = plan.max_concurrency // INVOKES_PER_POLLER * INVOKES_PER_POLLER
        assume(cap >= 2 * INVOKES_PER_POLLER)
        start, per_minute = min(min_pollers * INVOKES_PER_POLLER, cap), PROVISIONED_PER_MINUTE
    else:
        cap, start, per_minute = plan.max_concurrency, STANDARD_START, STANDARD_PER_MINUTE
    hot = PARTITION_WCU / (units * hot_key_share) if hot_key_share else math.inf
    backlog = max(1, int(drained_share * plan.items_per_s * 2_000))  # at most ~2,000 s

    def rate_at(t: float) -> float:
        running = min(cap, start + per_minute / 60 * t)
        return min(running * per_invocation, hot)

    expected = _simulate(rate_at, backlog)
    drained = plan_drain(
        plan,
        backlog,
        mode="provisioned" if provisioned else "standard",
        min_pollers=min_pollers,
        hot_key_share=hot_key_share,
    )
    assert drained.drain_time_s == pytest.approx(expected, rel=1e-3, abs=0.05)
    assert sum(phase.messages for phase in drained.phases) == pytest.approx(backlog)


def test_ten_million_messages_into_ten_thousand_wcu() -> None:
    # 100 invocations paced to 100 WCU/s, 100 items/s each; 5 at first, +5 a second:
    # 19 s of ramp drain 100 x (5 x 19 + 5 x 19² / 2) = 99,750 messages, the rest at 10,000/s.
    plan = plan_write_buffer(wcu=10_000, item_kb=1, function_timeout_s=30)
    drained = plan_drain(plan, 10_000_000)
    assert drained.binding_changes_at_s == pytest.approx(19)
    assert [p.messages for p in drained.phases] == pytest.approx([99_750, 9_900_250])
    assert drained.drain_time_s == pytest.approx(19 + 9_900_250 / 10_000)
    assert drained.phases[0].binds.startswith("the mapping's ramp-up (5 at first, +300 a minute)")
    assert drained.phases[1].binds.startswith("the table's 10,000 WCU (100 invocations paced")


def test_what_binds_after_the_ramp() -> None:
    # 200,000 WCU would take 2,000 unpaced invocations: MaximumConcurrency stops at 1,000.
    big = plan_write_buffer(wcu=200_000, item_kb=1, function_timeout_s=30)
    assert plan_drain(big, 10**8).phases[-1].binds.startswith("the mapping's concurrency: 1000")
    # Half the writes to one key: one partition's 1,000 WCU carry 2,000 items/s.
    table = plan_write_buffer(wcu=10_000, item_kb=1, function_timeout_s=30)
    hot = plan_drain(table, 10**6, hot_key_share=0.5)
    assert hot.ceiling_per_s == 2_000
    assert hot.phases[-1].binds.startswith("one partition's 1,000 WCU/s")
    # Provisioned: 2 pollers (20 invokes) at first, +1,000 a minute, to 100.
    fast = plan_drain(table, 10**7, mode="provisioned", min_pollers=2)
    assert fast.binding_changes_at_s == pytest.approx((100 - 20) / (1000 / 60))


def test_a_backlog_drained_within_the_ramp_has_one_phase() -> None:
    plan = plan_write_buffer(wcu=10_000, item_kb=1, function_timeout_s=30)
    drained = plan_drain(plan, 750)  # 100 x (5t + 2.5t²) = 750: t = 1.
    assert drained.drain_time_s == pytest.approx(1.0)
    assert drained.binding_changes_at_s is None and len(drained.phases) == 1
    assert plan_drain(plan, 0).drain_time_s == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"backlog": -1}, "backlog must be at least 0, got -1"),
        ({"backlog": 1.5}, "backlog must be a whole number, got 1.5"),
        ({"mode": "fast"}, "mode must be one of standard, provisioned, got 'fast'"),
        ({"hot_key_share": 2}, "hot_key_share must be at most 1"),
        ({"mode": "provisioned", "min_pollers": 1}, "min_pollers must be at least 2, got 1"),
        ({"mode": "provisioned", "min_pollers": 201}, "min_pollers must be at most 200"),
    ],
)
def test_bad_drain_inputs(kwargs: dict[str, object], message: str) -> None:
    plan = plan_write_buffer(wcu=10_000, item_kb=1, function_timeout_s=30)
    args: dict[str, object] = {"backlog": 10, **kwargs}
    with pytest.raises(UsageError, match=message):
        plan_drain(plan, **args)  # type: ignore[arg-type]


def test_provisioned_mode_needs_room_for_two_pollers() -> None:
    plan = plan_write_buffer(wcu=100, item_kb=1, function_timeout_s=30)  # concurrency 2
    with pytest.raises(UsageError, match="provisioned mode needs at least 2 pollers x 10"):
        plan_drain(plan, 10, mode="provisioned")


def test_cli_backlog(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["plan", "--wcu", "10000", "--item-kb", "1", "--function-timeout", "30"]
    assert main([*argv, "--backlog", "10000000", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["drain_time_s"] == pytest.approx(1009.025)
    assert out["drain"]["binding_changes_at_s"] == pytest.approx(19)
    assert main([*argv, "--backlog", "10000000"]) == 0
    text = capsys.readouterr().out
    assert "drain_time_s                1,009.02" in text
    assert "note: drain from 0.0 s to 19.0 s: 99,750 messages, bound by the mapping's" in text
    assert (
        "note: drain from 19.0 s to 16 min 49 s: 9,900,250 messages, bound by the table's" in text
    )
