"""The fixed monthly costs at rest, and `plan` adding them to the traffic costs."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from sqs_blueprint.capacity.cost import AtRest, fixed_monthly_cost
from sqs_blueprint.cli import main
from sqs_blueprint.errors import UsageError

DEPLOYING = Path(__file__).resolve().parents[2] / "docs" / "deploying.md"


@pytest.mark.parametrize(
    ("at_rest", "item", "usd"),
    [
        (AtRest(rcu=5), "read_capacity", 5 * 730 * 0.00013),
        (AtRest(table_gb=10), "pitr", 2.0),
        (AtRest(kms_keys=3), "kms_keys", 3.0),
        # producer and consumer each ask KMS once per 300 s: 2 x 2,628,000 s / 300.
        (AtRest(kms_queues=1), "kms_requests", 17_520 * 0.03 / 10_000),
        (AtRest(alarm_metrics=7), "alarms", 0.70),
        (AtRest(dashboards=2), "dashboards", 6.0),
        (AtRest(nat_gateways=2), "nat_gateways", 2 * 730 * 0.045),
        (AtRest(nat_gateways=2), "public_ipv4", 2 * 730 * 0.005),
        (AtRest(instances=1, instance_usd_hour=0.0168), "ec2", 12.264),
        # 5 pollers, one 20 s receive each: 5 x 131,400 receives at 0.40 USD a million.
        (AtRest(lambda_mappings=1), "idle_polling", 657_000 * 0.40 / 1e6),
        (AtRest(instances=1), "idle_polling", 131_400 * 0.40 / 1e6),
        (AtRest(min_pollers=2), "provisioned_pollers", 2 * 730 * 0.00925),
    ],
)
def test_each_fixed_item(at_rest: AtRest, item: str, usd: float) -> None:
    cost = fixed_monthly_cost(at_rest)
    assert getattr(cost, item) == pytest.approx(usd)


def test_the_total_sums_the_items() -> None:
    assert fixed_monthly_cost(AtRest()).total == 0
    both = fixed_monthly_cost(AtRest(rcu=5, kms_keys=2, dashboards=1))
    assert both.total == pytest.approx(5 * 730 * 0.00013 + 2.0 + 3.0)


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(UsageError, match="nat_gateways must be at least 0, got -1"):
        fixed_monthly_cost(AtRest(nat_gateways=-1))


def _documented_commands() -> list[list[str]]:
    text = DEPLOYING.read_text()
    section = text[text.index("## Expected monthly cost") : text.index("## Rolling back")]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    return [shlex.split(line.split("#")[0])[1:] for line in block.splitlines() if line.strip()]


def test_plan_and_deploying_md_agree(capsys: pytest.CaptureFixture[str]) -> None:
    text = DEPLOYING.read_text()
    rows = {
        m.group(1): float(m.group(2))
        for m in re.finditer(r"^\| (write buffer|ordered|workers) .*\| ([\d.]+) +\|$", text, re.M)
    }
    totals = []
    for argv in _documented_commands():
        assert main([*argv, "--json"]) == 0
        costs = json.loads(capsys.readouterr().out)["monthly_cost_usd"]
        totals.append(round(costs["total_provisioned with fixed"], 2))
    assert totals == [rows["write buffer"], rows["ordered"], rows["workers"]]
