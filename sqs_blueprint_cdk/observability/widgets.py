"""The dashboard's graphs that stand apart from the alarms they may annotate."""

from __future__ import annotations

from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch

from sqs_blueprint_cdk.queue_pair import QueueWithDlq

WIDTH = 8  # three graphs per 24-column dashboard row


def mapping_graph(metrics: dict[str, cloudwatch.Metric]) -> cloudwatch.GraphWidget:
    """The mapping's EventCount metrics, one line each, summed per period."""
    return graph(
        "Mapping events",
        [metric.with_(label=name) for name, metric in metrics.items()],
    )


def worker_graphs(
    queue: QueueWithDlq,
    group: autoscaling.IAutoScalingGroup,
    backlog_target: float | None,
) -> list[cloudwatch.IWidget]:
    """Instances in service, and visible messages per instance in service.

    The same ratio the workers' target tracking policy follows, with the same
    guard against a zero divisor; averaged per period, as a graph should be.
    """
    in_service = cloudwatch.Metric(
        namespace="AWS/AutoScaling",
        metric_name="GroupInServiceInstances",
        dimensions_map={"AutoScalingGroupName": group.auto_scaling_group_name},
        statistic=cloudwatch.Stats.AVERAGE,
        label="In service",
    )
    visible = queue.queue.metric_approximate_number_of_messages_visible(
        statistic=cloudwatch.Stats.AVERAGE
    )
    backlog = cloudwatch.MathExpression(
        expression="visible / IF(inservice > 0, inservice, 1)",
        using_metrics={"visible": visible, "inservice": in_service},
        label="Backlog per instance",
    )
    target = (backlog_target, "Scaling target") if backlog_target is not None else None
    return [
        graph("Workers in service", [in_service]),
        graph("Backlog per instance (messages)", [backlog], annotation=target),
    ]


def graph(
    title: str,
    metrics: list[cloudwatch.IMetric],
    *,
    annotation: tuple[float, str] | None = None,
) -> cloudwatch.GraphWidget:
    annotations = (
        [cloudwatch.HorizontalAnnotation(value=annotation[0], label=annotation[1])]
        if annotation
        else None
    )
    return cloudwatch.GraphWidget(
        title=title, left=metrics, left_annotations=annotations, width=WIDTH, height=6
    )
