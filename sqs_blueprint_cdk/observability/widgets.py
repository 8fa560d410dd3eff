"""The dashboard's graphs that stand apart from the alarms they may annotate."""

from __future__ import annotations

from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_

from sqs_blueprint_cdk.queue_pair import QueueWithDlq

WIDTH = 8  # three graphs per 24-column dashboard row
# The mapping's EventCount metrics on the dashboard, by label (limits.LAMBDA_ESM_METRICS_URL).
MAPPING_METRICS = {
    "Polled": "PolledEventCount",
    "Invoked": "InvokedEventCount",
    "Failed invoke": "FailedInvokeEventCount",
    "Filtered out": "FilteredOutEventCount",
    "Deleted": "DeletedEventCount",
}


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


def consumer_graphs(function: lambda_.IFunction) -> list[cloudwatch.IWidget]:
    return [
        graph(
            "Consumer errors and throttles",
            [
                function.metric_errors(statistic=cloudwatch.Stats.SUM, label="Errors"),
                function.metric_throttles(statistic=cloudwatch.Stats.SUM, label="Throttles"),
            ],
        ),
        graph(
            "Consumer duration (ms)",
            [
                function.metric_duration(statistic=cloudwatch.Stats.AVERAGE, label="Avg"),
                function.metric_duration(statistic=cloudwatch.Stats.p(99), label="p99"),
            ],
        ),
    ]


def write_capacity_graph(table: dynamodb.ITable) -> cloudwatch.IWidget:
    consumed = table.metric("ConsumedWriteCapacityUnits", statistic=cloudwatch.Stats.SUM)
    return graph(
        "Write capacity (WCU/s)",
        [
            # A Sum over the period, divided by its length in seconds.
            cloudwatch.MathExpression(
                expression="consumed / PERIOD(consumed)",
                using_metrics={"consumed": consumed},
                label="Consumed",
            ),
            table.metric(
                "ProvisionedWriteCapacityUnits",
                statistic=cloudwatch.Stats.AVERAGE,
                label="Provisioned",
            ),
        ],
    )
