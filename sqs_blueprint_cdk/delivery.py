"""How a Lambda consumer is delivered: a version per deploy behind an alias.

- Every deploy that changes the function's code or configuration publishes a
  new version (``Function.current_version``), and the alias ``live`` points at
  it. The event-source mapping invokes the alias, so a gradual deploy (for
  example CodeDeploy's canary or linear shifting on the alias) and a rollback
  (point ``live`` back at the previous version) need no change to the mapping.
  Old versions are kept (their code counts towards the account's Lambda
  storage quota; delete ones no longer needed with ``aws lambda
  delete-function --qualifier``).
- With tracing on (:mod:`sqs_blueprint_cdk.tracing`), active tracing (X-Ray)
  records a segment for the sampled invocations (by default the first each
  second and 5% of the rest) and the role may send segments. X-Ray's free tier
  covers 100,000 traces recorded a month (docs/aws-facts.md#prices).
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from sqs_blueprint_cdk._validation import acknowledge

LIVE_ALIAS = "live"


def live_alias(
    scope: Construct, function: lambda_.Function, role: iam.IRole, *, traced: bool
) -> lambda_.Alias:
    """The alias ``live`` on this deploy's version of ``function``; when ``traced``, the
    tracing grant's wildcard acknowledged on ``role``."""
    if traced and isinstance(role, Construct):
        acknowledge(
            role,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "Active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords have no "
            "resource-level permissions (Lambda adds them for Tracing.ACTIVE).",
        )
    return lambda_.Alias(scope, "Live", alias_name=LIVE_ALIAS, version=function.current_version)
