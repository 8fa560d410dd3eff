"""``plan``'s fixed costs: what the pipeline costs at rest (capacity/cost.py), as flags."""

from __future__ import annotations

import argparse
from dataclasses import asdict, fields

from sqs_blueprint.capacity.cost import AtRest, fixed_monthly_cost
from sqs_blueprint.capacity.drain import PROVISIONED

_HELP = {
    "rcu": "provisioned read capacity units of the table",
    "table_gb": "table size in GB (point-in-time recovery is priced per GB)",
    "kms_keys": "customer-managed KMS keys (queue pair, alarm topic, ...)",
    "kms_queues": "queues encrypted with a customer-managed key (KMS requests)",
    "alarm_metrics": "metrics the alarms watch (a metric-math alarm counts each)",
    "dashboards": "CloudWatch dashboards",
    "nat_gateways": "NAT gateways (each with a public IPv4 address)",
    "instances": "EC2 instances in service at rest",
    "instance_usd_hour": "on-demand price of one instance, USD per hour",
    "lambda_mappings": "Lambda event-source mappings polling while idle",
}
# Fields whose flag plan itself defines: --min-pollers (provisioned mode's minimum
# pollers) also sets the ramp of --backlog, so it is billed at rest only in that mode.
_SHARED = ("min_pollers",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per :class:`AtRest` field, all optional (0 by default)."""
    group = parser.add_argument_group("fixed costs at rest (added with --messages-per-day)")
    for item in fields(AtRest):
        if item.name in _SHARED:
            continue
        kind = float if item.type in ("float", float) else int
        group.add_argument(
            f"--{item.name.replace('_', '-')}", type=kind, default=None, help=_HELP[item.name]
        )


def with_fixed_costs(args: argparse.Namespace, costs: dict[str, float]) -> dict[str, float]:
    """``costs`` (the traffic costs) plus each non-zero fixed cost and the totals with them."""
    given = {f.name: getattr(args, f.name) for f in fields(AtRest) if f.name not in _SHARED}
    if args.scaling_mode == PROVISIONED:
        given["min_pollers"] = args.min_pollers
    at_rest = AtRest(**{k: v for k, v in given.items() if v is not None})
    fixed = fixed_monthly_cost(at_rest)
    out = dict(costs)
    out |= {f"fixed {name}": value for name, value in asdict(fixed).items() if value}
    out["fixed total"] = fixed.total
    out["total_provisioned with fixed"] = costs["total_provisioned"] + fixed.total
    out["total_on_demand with fixed"] = costs["total_on_demand"] + fixed.total - fixed.read_capacity
    return out
