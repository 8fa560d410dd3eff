"""The workers' health alarm and the rule for the oldest-message age threshold.

Heartbeats: each worker publishes one a minute (``Ec2QueueWorkers.heartbeat``),
so over a period the group should send ``in service x period / 60`` of them.
The alarm watches the share that arrived, missing heartbeats counting as none;
a group with no instance in service counts as healthy (there is no worker to
miss). Missing data is breaching for this alarm alone: it means no heartbeat
at all where instances are in service.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch

from sqs_blueprint_cdk._validation import Problems


def heartbeat_share(
    heartbeat: cloudwatch.IMetric, group: autoscaling.IAutoScalingGroup
) -> cloudwatch.MathExpression:
    """Heartbeats received over those expected of the instances in service (1 when none)."""
    in_service = cloudwatch.Metric(
        namespace="AWS/AutoScaling",
        metric_name="GroupInServiceInstances",
        dimensions_map={"AutoScalingGroupName": group.auto_scaling_group_name},
        statistic=cloudwatch.Stats.AVERAGE,
    )
    return cloudwatch.MathExpression(
        expression="IF(inservice > 0, FILL(beats, 0) / (inservice * PERIOD(inservice) / 60), 1)",
        using_metrics={"beats": heartbeat, "inservice": in_service},
        label="Heartbeats / expected",
    )


def validate_max_age(
    problems: Problems,
    max_age: Duration | None,
    retention: Duration,
    worker_heartbeat: cloudwatch.IMetric | None,
    auto_scaling_group: autoscaling.IAutoScalingGroup | None,
) -> None:
    """An age threshold within the queue's retention; a heartbeat needs its group."""
    if max_age is not None:
        seconds, most = max_age.to_seconds(), retention.to_seconds()
        problems.check(
            60 <= seconds < most,
            "max_age",
            f"{seconds:g} s",
            f"must be at least 60 s (SQS publishes one-minute metrics) and below the queue's "
            f"retention ({most:g} s), or messages expire before the alarm fires",
            "derive it from the pipeline's latency target (acceptable_latency_s in cdk.json)",
        )
    problems.check(
        worker_heartbeat is None or auto_scaling_group is not None,
        "worker_heartbeat",
        "set",
        "the heartbeat alarm compares heartbeats with the instances in service",
        "pass the workers' auto_scaling_group too, or leave worker_heartbeat unset",
    )
