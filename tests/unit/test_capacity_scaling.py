"""plan_scaling: maximum concurrency or provisioned pollers, worked by hand."""

from __future__ import annotations

import json
import re

import pytest

from sqs_blueprint.capacity import HOURS_PER_MONTH, plan_scaling, plan_write_buffer
from sqs_blueprint.cli import main
from sqs_blueprint.errors import UsageError
from sqs_blueprint.limits import PRICES_USD

EPU_MONTH = PRICES_USD["lambda_sqs_epu_hour"] * HOURS_PER_MONTH  # 0.00925 x 730 = 6.7525


def test_a_slow_ramp_gets_provisioned_pollers() -> None:
    plan = plan_write_buffer(wcu=10_000, item_kb=1, function_timeout_s=30)
    assert plan.max_concurrency == 100 and plan.items_per_s == 10_000
    scaling = plan_scaling(plan, target_per_s=10_000, latency_s=10)
    # Standard: 5 at first, +300 a minute: (100 - 5) / 300 x 60 = 19 s > 10 s.
    assert scaling.standard_ramp_s == pytest.approx(19)
    assert scaling.mode == "provisioned pollers"
    # 100 invocations / 10 per poller = 10 pollers; 10 MB/s / 1 MB/s = 10 too;
    # the write budget's 100 invocations allow at most 10 pollers.
    assert (scaling.minimum_pollers, scaling.maximum_pollers) == (10, 10)
    assert scaling.provisioned_usd_per_month == pytest.approx(10 * 6.7525)
    assert scaling.standard_usd_per_month == 0


def test_a_ramp_within_the_latency_keeps_maximum_concurrency() -> None:
    plan = plan_write_buffer(wcu=10_000, item_kb=1, function_timeout_s=30)
    scaling = plan_scaling(plan, target_per_s=10_000, latency_s=30)
    assert scaling.mode == "maximum concurrency"
    # Still priced, for comparison.
    assert scaling.provisioned_usd_per_month == pytest.approx(10 * EPU_MONTH)


def test_a_lower_target_needs_fewer_invocations_and_pollers() -> None:
    plan = plan_write_buffer(wcu=100_000, item_kb=1, function_timeout_s=30)
    assert plan.max_concurrency == 1000
    scaling = plan_scaling(plan, target_per_s=30_000, latency_s=5)
    # 30,000 / 100 per invocation = 300; (300 - 5) / 300 x 60 = 59 s.
    assert scaling.invocations == 300 and scaling.standard_ramp_s == pytest.approx(59)
    assert scaling.mode == "provisioned pollers"
    # 300 / 10 = 30 invokes-wise, 30,000 KB/s = 29.3 MB/s -> 30 pollers; at most 100.
    assert (scaling.minimum_pollers, scaling.maximum_pollers) == (30, 100)


def test_large_items_need_pollers_for_bytes() -> None:
    # 4-KB items: 4 WCU each, an unpaced invocation writes 400 WCU/s, so 400,000
    # WCU are shared by 1,000 invocations of 100 items/s each.
    plan = plan_write_buffer(wcu=400_000, item_kb=4, function_timeout_s=30)
    assert plan.max_concurrency == 1000
    scaling = plan_scaling(plan, target_per_s=10_000, latency_s=1)
    # Invokes: 10,000 / 100 = 100 invocations -> 10 pollers; bytes: 10,000 x 4 KB
    # = 39.06 MB/s at 1 MB/s a poller -> 40 pollers, the binding rule.
    assert scaling.invocations == 100
    assert (scaling.minimum_pollers, scaling.maximum_pollers) == (40, 100)


def test_a_small_table_is_never_offered_pollers() -> None:
    plan = plan_write_buffer(wcu=1000, item_kb=1, function_timeout_s=30)
    assert plan.max_concurrency == 10
    scaling = plan_scaling(plan, target_per_s=1000, latency_s=0.1)
    assert scaling.mode == "maximum concurrency"
    assert (scaling.minimum_pollers, scaling.maximum_pollers) == (0, 0)
    assert scaling.provisioned_usd_per_month == 0
    assert scaling.reasons[0] == (
        "provisioned pollers not offered: 10 concurrent invocations share the write budget, "
        "fewer than 2 pollers x 10"
    )


def test_a_target_beyond_the_table_says_the_table_binds() -> None:
    plan = plan_write_buffer(wcu=10_000, item_kb=1, function_timeout_s=30)
    scaling = plan_scaling(plan, target_per_s=20_000, latency_s=60)
    assert scaling.invocations == 100  # capped at the write budget's concurrency
    assert scaling.reasons[0] == (
        "the table binds: 10000 WCU carry 10000 items/s, less than the 20000 targeted in "
        "either mode; raise the WCU"
    )


@pytest.mark.parametrize(
    ("target", "latency", "message"),
    [
        (0, 10, "target_per_s must be greater than 0, got 0"),
        (10, -1, "latency_s must be greater than 0, got -1"),
    ],
)
def test_bad_input(target: float, latency: float, message: str) -> None:
    plan = plan_write_buffer(wcu=100, item_kb=1, function_timeout_s=30)
    with pytest.raises(UsageError) as error:
        plan_scaling(plan, target_per_s=target, latency_s=latency)
    assert str(error.value) == message


BASE = ["plan", "--wcu", "10000", "--item-kb", "1", "--function-timeout", "30"]


def test_cli_prices_both_modes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, "--target-rate", "10000", "--latency", "10", "--json"]) == 0
    scaling = json.loads(capsys.readouterr().out)["scaling"]
    assert scaling["mode"] == "provisioned pollers"
    assert scaling["standard_usd_per_month"] == 0
    assert scaling["provisioned_usd_per_month"] == pytest.approx(67.525)


def test_cli_table_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, "--target-rate", "10000", "--latency", "10"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^scaling mode +provisioned pollers$", out, re.MULTILINE)
    assert (
        "note: standard mode reaches 100 invocations in 19 s (5 at first, +300 a minute); "
        "more than the 10 s allowed"
    ) in out


def test_cli_needs_both_scaling_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*BASE, "--target-rate", "10"])
    assert exit_.value.code == 2
    assert "--target-rate and --latency go together (scaling mode)" in capsys.readouterr().err
