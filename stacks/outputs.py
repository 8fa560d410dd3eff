"""What every pipeline stack adds the same way: queue outputs, alarms, dashboard."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack

from stacks.config import AlarmsConfig
from stacks.patterns import PipelineObservability, QueueWithDlq


def export_queue_pair(scope: Stack, prefix: str, pair: QueueWithDlq) -> None:
    """Output the URL and ARN of a queue pair, named ``<prefix>QueueUrl`` and so on."""
    for name, value in (
        ("QueueUrl", pair.queue.queue_url),
        ("QueueArn", pair.queue.queue_arn),
        ("DeadLetterQueueUrl", pair.dead_letter_queue.queue_url),
        ("DeadLetterQueueArn", pair.dead_letter_queue.queue_arn),
    ):
        CfnOutput(scope, f"{prefix}{name}", value=value)


def observe(
    stack: Stack, queue: QueueWithDlq, alarms: AlarmsConfig, **watched: Any
) -> PipelineObservability:
    """Alarms and a dashboard named after ``stack``, with their outputs.

    ``watched`` names what else to watch: ``consumer_function``, ``table``, ...
    """
    observability = PipelineObservability(
        stack,
        "Observability",
        queue=queue,
        age_share=alarms.age_share,
        failed_invoke_share=alarms.failed_invoke_share,
        alarm_email=alarms.alarm_email,
        dashboard_name=stack.stack_name,
        **watched,
    )
    CfnOutput(stack, "AlarmTopicArn", value=observability.topic.topic_arn)
    CfnOutput(stack, "DashboardName", value=observability.dashboard.dashboard_name)
    return observability
