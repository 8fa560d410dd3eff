"""Target tracking on the backlog per in-service instance."""

from __future__ import annotations

import math

from aws_cdk import Duration
from aws_cdk import aws_autoscaling as autoscaling
from constructs import Construct


def backlog_target(acceptable_latency: Duration, seconds_per_message: float) -> float:
    """Messages one instance may have waiting: how many it clears within the latency."""
    return acceptable_latency.to_seconds() / seconds_per_message


def backlog_scaling_policy(
    scope: Construct,
    *,
    group_name: str,
    queue_name: str,
    target: float,
    instance_warmup: Duration,
) -> autoscaling.CfnScalingPolicy:
    """The CloudFormation-level policy: the L2 refuses metric math (docs/aws-facts.md#tooling)."""
    config = autoscaling.CfnScalingPolicy
    return autoscaling.CfnScalingPolicy(
        scope,
        "BacklogPerInstance",
        auto_scaling_group_name=group_name,
        policy_type="TargetTrackingScaling",
        estimated_instance_warmup=math.ceil(instance_warmup.to_seconds()),
        target_tracking_configuration=config.TargetTrackingConfigurationProperty(
            target_value=round(target, 3),
            customized_metric_specification=config.CustomizedMetricSpecificationProperty(
                metrics=_backlog_metrics(queue_name, group_name)
            ),
        ),
    )


def _backlog_metrics(
    queue_name: str, group_name: str
) -> list[autoscaling.CfnScalingPolicy.TargetTrackingMetricDataQueryProperty]:
    """Visible messages / in-service instances; the divisor is never zero
    (docs/aws-facts.md#tooling)."""
    query = autoscaling.CfnScalingPolicy.TargetTrackingMetricDataQueryProperty
    stat = autoscaling.CfnScalingPolicy.TargetTrackingMetricStatProperty
    metric = autoscaling.CfnScalingPolicy.MetricProperty
    dimension = autoscaling.CfnScalingPolicy.MetricDimensionProperty
    return [
        query(
            id="visible",
            metric_stat=stat(
                metric=metric(
                    namespace="AWS/SQS",
                    metric_name="ApproximateNumberOfMessagesVisible",
                    dimensions=[dimension(name="QueueName", value=queue_name)],
                ),
                stat="Sum",
            ),
            return_data=False,
        ),
        query(
            id="inservice",
            metric_stat=stat(
                metric=metric(
                    namespace="AWS/AutoScaling",
                    metric_name="GroupInServiceInstances",
                    dimensions=[dimension(name="AutoScalingGroupName", value=group_name)],
                ),
                stat="Average",
            ),
            return_data=False,
        ),
        query(
            id="backlog",
            expression="visible / IF(inservice > 0, inservice, 1)",
            label="Visible messages per in-service instance",
            return_data=True,
        ),
    ]
