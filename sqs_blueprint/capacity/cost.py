"""What a pipeline costs at rest, whatever its traffic: the fixed monthly costs.

``plan`` adds these to the traffic costs of :func:`~sqs_blueprint.capacity.monthly_cost`
(docs/deploying.md, "Expected monthly cost", lists them per stack of prod).
List prices in USD, us-east-1 (``FIXED_PRICES_USD``, docs/aws-facts.md#prices),
without free tiers (they are per account, shared by everything in it):

- provisioned read capacity, all month (``rcu``);
- point-in-time recovery, per GB of table (``table_gb``);
- customer-managed KMS keys, and their requests: SQS reuses a data key for
  ``KMS_REUSE_S`` (300 s by default), so a queue's producer and consumer each
  ask KMS about once per period (``kms_queues``);
- alarms, per metric they watch (a metric-math alarm counts each metric), and
  dashboards;
- NAT gateways and the public IPv4 address each holds, by the hour;
- EC2 instances in service at rest (``instances`` at ``instance_usd_hour``);
- idle polling: an empty queue is still long-polled. A Lambda mapping is
  assumed to keep ``LAMBDA_IDLE_POLLERS`` pollers, each a 20 s receive
  (an estimate: Lambda does not publish its idle poller count); an EC2 worker
  runs one 20 s receive loop;
- provisioned pollers: ``min_pollers`` event poller units all month.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from types import MappingProxyType

from sqs_blueprint.capacity.common import HOURS_PER_MONTH, check_number
from sqs_blueprint.limits import PRICES_USD, SQS_MAX_WAIT_TIME_S

KMS_REUSE_S = 300
LAMBDA_IDLE_POLLERS = 5
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
# USD, us-east-1 (docs/aws-facts.md#prices gives each page).
FIXED_PRICES_USD: MappingProxyType[str, float] = MappingProxyType(
    {
        "dynamodb_rcu_hour": 0.00013,
        "dynamodb_pitr_gb_month": 0.20,
        "kms_key_month": 1.00,
        "kms_per_request": 0.03 / 10_000,
        "alarm_metric_month": 0.10,
        "dashboard_month": 3.00,
        "nat_gateway_hour": 0.045,
        "public_ipv4_hour": 0.005,
    }
)


@dataclass(frozen=True)
class AtRest:
    """What a pipeline holds whatever its traffic."""

    rcu: int = 0
    table_gb: float = 0.0
    kms_keys: int = 0
    kms_queues: int = 0
    alarm_metrics: int = 0
    dashboards: int = 0
    nat_gateways: int = 0
    instances: int = 0
    instance_usd_hour: float = 0.0
    lambda_mappings: int = 0
    min_pollers: int = 0


@dataclass(frozen=True)
class FixedCost:
    """USD per month, by item; ``total`` sums them."""

    read_capacity: float
    pitr: float
    kms_keys: float
    kms_requests: float
    alarms: float
    dashboards: float
    nat_gateways: float
    public_ipv4: float
    ec2: float
    idle_polling: float
    provisioned_pollers: float

    @property
    def total(self) -> float:
        return float(sum(asdict(self).values()))


def fixed_monthly_cost(at_rest: AtRest) -> FixedCost:
    """The fixed monthly cost of ``at_rest`` (module docstring)."""
    for name, value in asdict(at_rest).items():
        check_number(name, value, inclusive=True)
    p, f = PRICES_USD, FIXED_PRICES_USD
    hours = HOURS_PER_MONTH
    polls_per_month = SECONDS_PER_MONTH / SQS_MAX_WAIT_TIME_S
    pollers = at_rest.lambda_mappings * LAMBDA_IDLE_POLLERS + at_rest.instances
    kms_requests = at_rest.kms_queues * 2 * SECONDS_PER_MONTH / KMS_REUSE_S
    return FixedCost(
        read_capacity=at_rest.rcu * hours * f["dynamodb_rcu_hour"],
        pitr=at_rest.table_gb * f["dynamodb_pitr_gb_month"],
        kms_keys=at_rest.kms_keys * f["kms_key_month"],
        kms_requests=kms_requests * f["kms_per_request"],
        alarms=at_rest.alarm_metrics * f["alarm_metric_month"],
        dashboards=at_rest.dashboards * f["dashboard_month"],
        nat_gateways=at_rest.nat_gateways * hours * f["nat_gateway_hour"],
        public_ipv4=at_rest.nat_gateways * hours * f["public_ipv4_hour"],
        ec2=at_rest.instances * hours * at_rest.instance_usd_hour,
        idle_polling=pollers * polls_per_month * p["sqs_standard_per_request"],
        provisioned_pollers=at_rest.min_pollers * hours * p["lambda_sqs_epu_hour"],
    )
