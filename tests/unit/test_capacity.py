"""The capacity planner: hand-checked examples, properties and bad inputs."""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sqs_blueprint.capacity import (
    monthly_cost,
    plan_write_buffer,
    share,
    visibility_timeout,
    wcu_per_item,
)
from sqs_blueprint.cli import main
from sqs_blueprint.errors import UsageError


def test_visibility_is_six_times_the_timeout_plus_the_window() -> None:
    # Lambda's rule: at least 6 x the function timeout, plus the batching window.
    assert visibility_timeout(30) == 180
    assert visibility_timeout(30, 20) == 200
    assert visibility_timeout(2.5) == 15
    assert visibility_timeout(900, 300) == 5_700


def test_one_wcu_per_started_kilobyte() -> None:
    # DynamoDB: one WCU per write of up to 1 KB, the size rounded up.
    assert wcu_per_item(0.1) == 1
    assert wcu_per_item(1) == 1
    assert wcu_per_item(1.01) == 2
    assert wcu_per_item(400) == 400


def test_plan_shares_the_table_between_invocations() -> None:
    # 1 KB items at 10 ms each: one unpaced invocation writes 100 WCU/s,
    # so a 1,000 WCU table takes 10 of them at 100 WCU/s each.
    plan = plan_write_buffer(wcu=1000, item_kb=1, function_timeout_s=30)
    assert plan.max_concurrency == 10
    assert plan.budget_wcu_per_s == 100
    assert plan.batch_size == 10
    assert plan.visibility_timeout_s == 180
    assert plan.items_per_s == 1000
    assert plan.drain_time_s(100_000) == 100
    assert plan.notes == ()


def test_plan_rounds_concurrency_up_and_paces_below_the_unpaced_rate() -> None:
    # 2 WCU items at 10 ms: 200 WCU/s unpaced; 1,000 / 200 = 5; 900 / 200 = 4.5 -> 5.
    plan = plan_write_buffer(wcu=900, item_kb=1.5, function_timeout_s=30)
    assert (plan.wcu_per_item, plan.max_concurrency, plan.budget_wcu_per_s) == (2, 5, 180)
    assert plan.items_per_s == 450  # the whole table: 900 WCU/s / 2 WCU per item


def test_small_table_is_shared_by_the_minimum_concurrency_of_two() -> None:
    plan = plan_write_buffer(wcu=1, item_kb=1, function_timeout_s=30)
    assert plan.max_concurrency == 2
    assert plan.budget_wcu_per_s == 0.5
    assert plan.batch_size == 10  # 10 items x 2 s = 20 s <= 80% of 30 s
    assert "clamped from 1 to 2" in plan.notes[0]


def test_batch_is_lowered_to_fit_the_timeout() -> None:
    # Budget 2.5 WCU/s, 4 WCU per item: 1.6 s per item; 24 s of writing -> 15 items.
    plan = plan_write_buffer(
        wcu=5, item_kb=3.5, function_timeout_s=30, batch_size=100, batching_window_s=5
    )
    assert plan.batch_size == 15
    assert plan.visibility_timeout_s == 185
    assert "lowered from 100 to 15" in plan.notes[-1]


def test_huge_table_is_capped_at_one_thousand_invocations() -> None:
    plan = plan_write_buffer(wcu=1_000_000, item_kb=1, function_timeout_s=30)
    assert plan.max_concurrency == 1000
    assert plan.budget_wcu_per_s == 1000
    assert plan.items_per_s == 100_000  # 1,000 invocations x 100 items/s unpaced


def test_monthly_cost_by_hand() -> None:
    plan = plan_write_buffer(wcu=100, item_kb=1, function_timeout_s=30)
    cost = monthly_cost(plan, messages_per_day=1_000_000, offloaded_share=0.5, memory_mb=1024)
    # 1,000,000 a day x 730 / 24 days = 30,416,666.7 messages a month.
    # SQS: a send and a receive of 10 x 1 KB (or of 10 pointers) are one 64 KiB
    # chunk each, a delete of 10 one request: 3 requests per 10 messages =
    # 9,125,000 requests x 0.40 USD per million = 3.65 USD.
    assert cost.sqs == pytest.approx(3.65)
    # Lambda: 3,041,666.7 invocations x 0.20 per million = 0.6083 USD, plus
    # 30,416,666.7 x 10 ms x 1 GB = 304,166.7 GB-s x 0.0000133334 = 4.0556 USD.
    assert cost.lambda_ == pytest.approx(4.6639, abs=1e-4)
    # 100 WCU x 730 hours x 0.00065 USD.
    assert cost.dynamodb_provisioned == pytest.approx(47.45)
    # On demand: 30,416,666.7 writes of 1 KB x 0.625 USD per million.
    assert cost.dynamodb_on_demand == pytest.approx(19.0104, abs=1e-4)
    # S3: 15,208,333.3 offloaded x (PUT 0.005 + GET 0.0004) per 1,000 = 82.125 USD;
    # 500,000 a day kept 19 days x 1 KB = 9.06 GB x 0.023 = 0.2084 USD.
    assert cost.s3 == pytest.approx(82.3334, abs=1e-4)
    assert cost.total_on_demand == pytest.approx(3.65 + 4.6639 + 19.0104 + 82.3334, abs=1e-3)
    assert cost.total_provisioned == pytest.approx(3.65 + 4.6639 + 47.45 + 82.3334, abs=1e-3)


def test_large_inline_messages_cost_a_request_per_64_kib() -> None:
    plan = plan_write_buffer(wcu=1000, item_kb=128, function_timeout_s=60)
    cost = monthly_cost(plan, messages_per_day=24)
    # 730 messages a month. A batch of 10 x 128 KB is 1,280 KB = 20 chunks of 64 KiB:
    # 2 requests per message to send and 2 to receive, 0.1 to delete = 4.1 x 730 =
    # 2,993 requests x 0.40 USD per million.
    assert cost.sqs == pytest.approx(2_993 * 0.40 / 1e6)


@given(item_kb=st.floats(0.01, 400), more=st.floats(0, 100))
def test_bigger_messages_never_cost_less(item_kb: float, more: float) -> None:
    small = plan_write_buffer(wcu=100_000, item_kb=item_kb, function_timeout_s=60)
    big = plan_write_buffer(wcu=100_000, item_kb=min(400, item_kb + more), function_timeout_s=60)
    assert (
        monthly_cost(big, messages_per_day=1000).sqs
        >= monthly_cost(small, messages_per_day=1000).sqs
    )


def must_plan(wcu: int, item_kb: float, timeout: float, record_ms: float) -> bool:
    """A sufficient condition for a plan, from the rule in plan_write_buffer's docstring:
    an unpaced invocation writes ``ceil(item_kb) * 1000 / record_ms`` WCU/s; the
    concurrency (rounded up, at least 2) leaves each at least half the smaller of that
    and the table's WCU, less the 0.001 of rounding; a plan exists when one record, and
    one item at that budget, fit in 80% of the timeout."""
    units = math.ceil(item_kb)
    worst_budget = min(wcu, units * 1000 / record_ms) / 2 - 0.001
    return (
        record_ms / 1000 <= 0.8 * timeout
        and worst_budget > 0
        and units / worst_budget <= 0.8 * timeout
    )


@given(wcu=st.integers(1, 100_000), extra=st.integers(0, 100_000), item_kb=st.floats(0.1, 20))
def test_a_bigger_table_never_drains_slower(wcu: int, extra: int, item_kb: float) -> None:
    def rate(table: int) -> float:
        try:
            plan = plan_write_buffer(
                wcu=table, item_kb=item_kb, function_timeout_s=30, record_ms=5.0
            )
        except ValueError:
            assert not must_plan(table, item_kb, 30, 5.0)  # refused only when it must be
            return 0.0
        return plan.items_per_s

    assert rate(wcu + extra) >= rate(wcu)


@given(
    wcu=st.integers(1, 200_000),
    item_kb=st.floats(0.01, 400),
    timeout=st.integers(1, 900),
    window=st.integers(0, 300),
    record_ms=st.floats(0.1, 500),
)
def test_plan_properties(
    wcu: int, item_kb: float, timeout: int, window: int, record_ms: float
) -> None:
    try:
        plan = plan_write_buffer(
            wcu=wcu,
            item_kb=item_kb,
            function_timeout_s=timeout,
            record_ms=record_ms,
            batching_window_s=window,
        )
    except ValueError as exc:
        assert "table too small" in str(exc) or "record_ms" in str(exc)
        assert not must_plan(wcu, item_kb, timeout, record_ms)  # refused only when it must be
        return
    assert plan.max_concurrency * plan.budget_wcu_per_s <= wcu
    assert 2 <= plan.max_concurrency <= 1000
    assert plan.visibility_timeout_s >= 6 * timeout + window
    assert 1 <= plan.batch_size <= 10
    written_s = plan.batch_size * max(record_ms / 1000, plan.wcu_per_item / plan.budget_wcu_per_s)
    assert written_s <= 0.8 * timeout * (1 + 1e-9)
    assert plan.items_per_s * plan.wcu_per_item <= wcu * (1 + 1e-9)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"wcu": 0}, "wcu must be a whole number of at least 1, got 0"),
        ({"wcu": 2.5}, "wcu must be a whole number of at least 1, got 2.5"),
        ({"wcu": True}, "wcu must be a whole number"),
        ({"item_kb": 0}, "item_kb must be greater than 0, got 0"),
        ({"item_kb": 401}, "item_kb must be at most 400 (DynamoDB item limit)"),
        ({"item_kb": float("nan")}, "item_kb must be a finite number, got nan"),
        ({"function_timeout_s": -1}, "function_timeout_s must be greater than 0, got -1"),
        ({"function_timeout_s": 901}, "function_timeout_s must be at most 900 (Lambda)"),
        ({"batching_window_s": -1}, "batching_window_s must be at least 0, got -1"),
        ({"batching_window_s": 301}, "batching_window_s must be at most 300 (Lambda)"),
        ({"batch_size": 0}, "batch_size must be a whole number of at least 1, got 0"),
        ({"batch_size": 10_001, "batching_window_s": 1}, "batch_size must be at most 10000"),
        ({"batch_size": 11}, "batch_size 11 is more than 10: it needs batching_window_s"),
        ({"record_ms": 0}, "record_ms must be greater than 0, got 0"),
        ({"record_ms": 25_000}, "record_ms 25000 is more than 80% of the 30 s function timeout"),
        ({"wcu": 1, "item_kb": 30}, "table too small: 1 WCU shared by the minimum of 2"),
    ],
)
def test_bad_plan_inputs(kwargs: dict[str, float], message: str) -> None:
    args: dict[str, float] = {"wcu": 100, "item_kb": 1, "function_timeout_s": 30, **kwargs}
    with pytest.raises(UsageError) as err:
        plan_write_buffer(**args)  # type: ignore[arg-type]
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"messages_per_day": -1}, "messages_per_day must be at least 0, got -1"),
        ({"offloaded_share": 1.5}, "offloaded_share must be at most 1"),
        ({"offloaded_share": -0.1}, "offloaded_share must be at least 0"),
        ({"memory_mb": 0}, "memory_mb must be greater than 0"),
    ],
)
def test_bad_cost_inputs(kwargs: dict[str, float], message: str) -> None:
    plan = plan_write_buffer(wcu=100, item_kb=1, function_timeout_s=30)
    args: dict[str, float] = {"messages_per_day": 1000, **kwargs}
    with pytest.raises(UsageError, match=message):
        monthly_cost(plan, **args)  # type: ignore[arg-type]


def test_bad_backlog() -> None:
    plan = plan_write_buffer(wcu=100, item_kb=1, function_timeout_s=30)
    with pytest.raises(UsageError, match="backlog must be at least 0, got -5"):
        plan.drain_time_s(-5)


def test_cli_plan_json(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["plan", "--wcu", "1000", "--item-kb", "1", "--function-timeout", "30"]
    argv += ["--backlog", "50000", "--messages-per-day", "100000", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["max_concurrency"] == 10
    assert out["visibility_timeout_s"] == 180
    assert out["drain_time_s"] == pytest.approx(50.25)  # 1 s of ramp from 5 to 10
    assert out["monthly_cost_usd"]["dynamodb_provisioned"] == pytest.approx(474.5)
    assert set(out["monthly_cost_usd"]) >= {"sqs", "lambda", "s3", "total_on_demand"}


def test_cli_plan_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--wcu", "1", "--item-kb", "1", "--function-timeout", "30"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^max_concurrency +2$", out, re.MULTILINE)
    assert "note: max concurrency clamped from 1 to 2" in out


def test_cli_plan_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["plan", "--wcu", "1", "--item-kb", "30", "--function-timeout", "30"]
    assert main(argv) == 2
    assert "sqs-blueprint plan: table too small" in capsys.readouterr().err


def test_a_budget_split_rounds_down_to_three_decimals() -> None:
    assert share(10, 2) == 5
    assert share(200, 3) == 66.666  # not 66.6667, which x 3 is more than 200
    plan = plan_write_buffer(wcu=200, item_kb=1, function_timeout_s=30, record_ms=15)
    assert (plan.max_concurrency, f"{plan.budget_wcu_per_s:g}") == (3, "66.666")


@given(total=st.integers(1, 10**7), parts=st.integers(1, 1000))
def test_a_split_never_exceeds_its_total_as_computed_or_as_written(total: int, parts: int) -> None:
    value = share(total, parts)
    assert parts * value <= total
    assert parts * Decimal(repr(value)) <= total
    assert total / parts - value < 0.001
