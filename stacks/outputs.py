"""What every pipeline stack adds the same way: queue outputs, alarms, dashboard."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_sns as sns

from sqs_blueprint_cdk import PipelineObservability, QueueWithDlq, SqsLambdaConsumer
from stacks.config import AlarmsConfig


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
    stack: Stack,
    queue: QueueWithDlq,
    alarms: AlarmsConfig,
    max_age: Duration,
    **watched: Any,
) -> PipelineObservability:
    """Alarms and a dashboard named after ``stack``, with their outputs.

    The alarms go where ``alarms.to`` says: e-mail subscriptions to the topic
    the construct creates, an existing topic (its ARN), or that topic alone
    (``"none"``). ``max_age`` is the oldest message's age that alarms: the
    pipeline's latency target (README, "Alarms"). ``watched`` names what else
    to watch: ``consumer_function``, ``table``, ...
    """
    topic = (
        sns.Topic.from_topic_arn(stack, "AlarmDestination", alarms.topic_arn)
        if alarms.topic_arn
        else None
    )
    observability = PipelineObservability(
        stack,
        "Observability",
        queue=queue,
        topic=topic,
        max_age=max_age,
        alarm_emails=alarms.emails,
        failed_invoke_share=alarms.failed_invoke_share,
        quiet_group_age=Duration.seconds(alarms.quiet_group_age_s),
        dashboard_name=stack.stack_name,
        **watched,
    )
    CfnOutput(stack, "AlarmTopicArn", value=observability.topic.topic_arn)
    CfnOutput(stack, "DashboardName", value=observability.dashboard.dashboard_name)
    return observability


def observe_consumer(
    stack: Stack,
    queue: QueueWithDlq,
    alarms: AlarmsConfig,
    max_age: Duration,
    consumer: SqsLambdaConsumer,
    table: dynamodb.ITable | None = None,
    **watched: Any,
) -> PipelineObservability:
    """A Lambda consumer's outputs (``TableName`` if it writes one, ``FunctionName``),
    then :func:`observe` watching the function, its mapping, the table and ``watched``."""
    if table is not None:
        CfnOutput(stack, "TableName", value=table.table_name)
    CfnOutput(stack, "FunctionName", value=consumer.function.function_name)
    return observe(
        stack,
        queue,
        alarms,
        max_age,
        consumer_function=consumer.function,
        event_source_mapping=consumer.event_source_mapping,
        table=table,
        **watched,
    )
