"""Capacity planning for SQS pipelines: pure math.

Three plans: a Lambda consumer writing into a provisioned DynamoDB table
(:func:`plan_write_buffer` and :func:`monthly_cost`, in :mod:`.plan`), its
mapping's scaling mode (:func:`plan_scaling`, :mod:`.scaling`), the drain of a
backlog through its ramp-up (:func:`plan_drain`, :mod:`.drain`) and an ordered
FIFO pipeline (:func:`plan_fifo`, :mod:`.fifo`); :mod:`.common` holds what they
share. Standard library only, so CDK patterns can call it at synth time. Limits
and prices come from :mod:`sqs_blueprint.limits`. Every function validates its
inputs and raises :class:`~sqs_blueprint.errors.UsageError` with the value
given, the rule and the fix.
"""

from __future__ import annotations

from sqs_blueprint.capacity.common import (
    BILLING_CHUNK_KB,
    DAYS_PER_MONTH,
    DEFAULT_RECORD_MS,
    HOURS_PER_MONTH,
    KIB,
    MAX_MESSAGE_KB,
    SECONDS_PER_MONTH,
    TIMEOUT_HEADROOM,
    share,
    visibility_timeout,
    wcu_per_item,
)
from sqs_blueprint.capacity.drain import DrainPhase, DrainPlan, plan_drain
from sqs_blueprint.capacity.fifo import (
    DEFAULT_MEMORY_MB,
    DEFAULT_SEND_LATENCY_MS,
    FifoCost,
    FifoPlan,
    plan_fifo,
)
from sqs_blueprint.capacity.plan import (
    MonthlyCost,
    WriteBufferPlan,
    monthly_cost,
    plan_write_buffer,
)
from sqs_blueprint.capacity.scaling import ScalingPlan, plan_scaling

__all__ = [
    "BILLING_CHUNK_KB",
    "DAYS_PER_MONTH",
    "DEFAULT_MEMORY_MB",
    "DEFAULT_RECORD_MS",
    "DEFAULT_SEND_LATENCY_MS",
    "HOURS_PER_MONTH",
    "KIB",
    "MAX_MESSAGE_KB",
    "SECONDS_PER_MONTH",
    "TIMEOUT_HEADROOM",
    "DrainPhase",
    "DrainPlan",
    "FifoCost",
    "FifoPlan",
    "MonthlyCost",
    "ScalingPlan",
    "WriteBufferPlan",
    "monthly_cost",
    "plan_drain",
    "plan_fifo",
    "plan_scaling",
    "plan_write_buffer",
    "share",
    "visibility_timeout",
    "wcu_per_item",
]
