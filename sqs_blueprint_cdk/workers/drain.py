"""Scale-in waits for the drain: the lifecycle hook and what the watcher may call.

The watcher itself is ``assets/sqs-blueprint-drain-on-scale-in``; why a hook
rather than the systemd stop alone is in the package's docstring.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_iam as iam
from constructs import Construct

from sqs_blueprint_cdk._validation import acknowledge, nag_text
from sqs_blueprint_cdk.workers.user_data import LIFECYCLE_HOOK_NAME


def add_drain_hook(
    group: autoscaling.AutoScalingGroup, heartbeat: Duration
) -> autoscaling.LifecycleHook:
    """Hold a terminating instance up to ``heartbeat``; carry on if nobody completes it."""
    return group.add_lifecycle_hook(
        "Drain",
        lifecycle_hook_name=LIFECYCLE_HOOK_NAME,
        lifecycle_transition=autoscaling.LifecycleTransition.INSTANCE_TERMINATING,
        heartbeat_timeout=heartbeat,
        default_result=autoscaling.DefaultResult.CONTINUE,
    )


def grant_lifecycle(
    scope: Construct, role: iam.IRole, group: autoscaling.AutoScalingGroup
) -> iam.Policy:
    """What the drain watcher needs: find its group, complete its own lifecycle action.

    A separate policy, so the launch template does not wait for the group's name.
    """
    stack = Stack.of(scope)
    group_arn = stack.format_arn(
        service="autoscaling",
        resource="autoScalingGroup",
        resource_name=f"*:autoScalingGroupName/{group.auto_scaling_group_name}",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    policy = iam.Policy(
        scope,
        "LifecyclePolicy",
        statements=[
            iam.PolicyStatement(
                actions=["autoscaling:DescribeAutoScalingInstances"], resources=["*"]
            ),
            iam.PolicyStatement(
                actions=["autoscaling:CompleteLifecycleAction"], resources=[group_arn]
            ),
        ],
    )
    policy.attach_to_role(role)
    acknowledge(
        policy,
        "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
        "autoscaling:DescribeAutoScalingInstances has no resource-level permissions; the "
        "drain watcher uses it to learn its own group's name.",
    )
    acknowledge(
        policy,
        f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_text(scope, group_arn)}]",
        "An Auto Scaling group's ARN holds a generated id; the wildcard stands only for "
        "that id, and the name pins this one group.",
    )
    return policy
