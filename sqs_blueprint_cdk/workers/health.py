"""The workers' role with Session Manager only, their heartbeat, and unhealthy instances.

- Session Manager: the instance role gets the actions the SSM Agent needs for a
  session and its message channels (docs/aws-facts.md#ec2-workers), not
  ``AmazonSSMManagedInstanceCore``, which also allows ``ssm:GetParameter(s)``
  on every parameter of the account.
- Heartbeat: the worker publishes ``Heartbeat`` (namespace
  :data:`HEARTBEAT_NAMESPACE`, dimension ``QueueName``) once a minute while it
  runs (:mod:`sqs_blueprint.worker.heartbeat`); ``cloudwatch:PutMetricData`` has
  no resource-level permissions, so the grant is pinned to that namespace by
  the ``cloudwatch:namespace`` condition key.
- Unhealthy: when the worker's unit fails for good (systemd's start limit) or
  the boot script fails, the instance marks itself Unhealthy with
  ``autoscaling:SetInstanceHealth`` on its own group only, and Auto Scaling
  replaces it. EC2 health checks alone would keep an instance whose worker
  does not run.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from constructs import Construct

from sqs_blueprint.worker.heartbeat import DIMENSION, METRIC_NAME, NAMESPACE_ENV
from sqs_blueprint_cdk._validation import acknowledge, nag_text
from sqs_blueprint_cdk.queue_pair import QueueWithDlq

HEARTBEAT_NAMESPACE = "sqs-blueprint/Workers"
HEARTBEAT_ENV = {NAMESPACE_ENV: HEARTBEAT_NAMESPACE}
# The SSM Agent's actions for Session Manager (the AWS managed policy
# AWSCloud9SSMInstanceProfile holds the same five) and its ec2messages channel.
SESSION_MANAGER_ACTIONS = (
    "ssm:UpdateInstanceInformation",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
    "ec2messages:AcknowledgeMessage",
    "ec2messages:DeleteMessage",
    "ec2messages:FailMessage",
    "ec2messages:GetEndpoint",
    "ec2messages:GetMessages",
    "ec2messages:SendReply",
)


def instance_role(scope: Construct) -> iam.Role:
    """The instances' role: Session Manager and the heartbeat, nothing else yet."""
    role = iam.Role(
        scope,
        "Role",
        assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
        description=f"Instances of {scope.node.path}",
    )
    reason = (
        "Session Manager is the only way onto these instances (no SSH key, no inbound rule): "
        "the SSM Agent's session and message-channel actions (ssm:UpdateInstanceInformation, "
        "ssmmessages:*Channel, ec2messages:*) have no resource-level permissions. "
        "cloudwatch:PutMetricData has none either; its condition pins the worker's heartbeat "
        f"namespace ({HEARTBEAT_NAMESPACE})."
    )
    # In a policy of its own, so that checkov's finding on it is acknowledged there alone.
    session = iam.Policy(
        scope,
        "SessionManagerPolicy",
        statements=[iam.PolicyStatement(actions=list(SESSION_MANAGER_ACTIONS), resources=["*"])],
    )
    session.attach_to_role(role)
    cfn = session.node.default_child
    assert isinstance(cfn, iam.CfnPolicy)
    cfn.add_metadata("checkov", {"skip": [{"id": "CKV_AWS_111", "comment": reason}]})
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": HEARTBEAT_NAMESPACE}},
        )
    )
    for construct in (role, session):
        acknowledge(construct, "AwsSolutions::AwsSolutions-IAM5[Resource::*]", reason)
    return role


def heartbeat_metric(queue: QueueWithDlq) -> cloudwatch.Metric:
    """The workers' heartbeats, summed per period."""
    return cloudwatch.Metric(
        namespace=HEARTBEAT_NAMESPACE,
        metric_name=METRIC_NAME,
        dimensions_map={DIMENSION: queue.queue.queue_name},
        statistic=cloudwatch.Stats.SUM,
    )


def grant_set_health(
    scope: Construct, role: iam.IRole, group: autoscaling.AutoScalingGroup
) -> iam.Policy:
    """``autoscaling:SetInstanceHealth`` on this group only, in a policy of its own so the
    launch template does not wait for the group's name."""
    group_arn = Stack.of(scope).format_arn(
        service="autoscaling",
        resource="autoScalingGroup",
        resource_name=f"*:autoScalingGroupName/{group.auto_scaling_group_name}",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    policy = iam.Policy(
        scope,
        "HealthPolicy",
        statements=[
            iam.PolicyStatement(actions=["autoscaling:SetInstanceHealth"], resources=[group_arn])
        ],
    )
    policy.attach_to_role(role)
    acknowledge(
        policy,
        f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_text(scope, group_arn)}]",
        "An Auto Scaling group's ARN holds a generated id; the wildcard stands only for "
        "that id, and the name pins this one group.",
    )
    return policy
