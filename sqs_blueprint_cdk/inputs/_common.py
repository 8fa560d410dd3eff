"""What every input shares: its own dead-letter queue and its delivery alarms.

An input's DLQ holds what the producing service could not deliver (SNS's
subscription redrive policy, an EventBridge target's dead-letter queue). It follows
the queues' DLQ rules: 14 days' retention, the source queue's encryption, TLS only,
and an alarm as soon as it holds a message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from sqs_blueprint.limits import SQS_MAX_MESSAGE_BYTES
from sqs_blueprint_cdk._validation import acknowledge
from sqs_blueprint_cdk.queue_pair import QueueWithDlq

# docs/aws-facts.md#producer-inputs
SNS_DEFAULT_MAX_MESSAGE_BYTES = 262_144
SNS_MAX_MESSAGE_BYTES = 1_048_576
EVENTS_MAX_RETRY_ATTEMPTS = 185
EVENTS_MIN_EVENT_AGE_S, EVENTS_MAX_EVENT_AGE_S = 60, 86_400
PERIOD = Duration.minutes(1)


def input_dlq(
    scope: Construct, *, queue: QueueWithDlq, fifo: bool, retention_period: Duration
) -> sqs.Queue:
    """A dead-letter queue for what a service could not deliver into ``queue``.

    Named after the source queue's construct, so a FIFO one gets the ``.fifo``
    suffix it needs without a dependency on the source queue's name."""
    digest = hashlib.sha256(scope.node.path.encode()).hexdigest()[:8]
    name = f"{Stack.of(scope).stack_name[:50]}-in-{digest}"
    dlq = sqs.Queue(
        scope,
        "DeadLetterQueue",
        queue_name=f"{name}-dlq.fifo" if fifo else f"{name}-dlq",
        fifo=True if fifo else None,
        retention_period=retention_period,
        max_message_size_bytes=SQS_MAX_MESSAGE_BYTES,
        encryption=sqs.QueueEncryption.KMS
        if queue.encryption_key
        else sqs.QueueEncryption.SQS_MANAGED,
        encryption_master_key=queue.encryption_key,
        enforce_ssl=True,
    )
    acknowledge(
        dlq,
        "AwsSolutions-SQS3",
        f"This queue is the dead-letter queue of the {scope.node.id} input (the SNS "
        "subscription's redrive policy or the EventBridge target's DLQ), not of a queue.",
    )
    return dlq


def input_alarms(
    scope: Construct,
    *,
    metrics: Mapping[str, cloudwatch.IMetric],
    descriptions: Mapping[str, str],
    alarm_topic: sns.ITopic | None,
) -> dict[str, cloudwatch.Alarm]:
    """One alarm per metric, above zero over a minute; actions to ``alarm_topic``."""
    alarms: dict[str, cloudwatch.Alarm] = {}
    for name, metric in metrics.items():
        alarm = cloudwatch.Alarm(
            scope,
            f"{name}Alarm",
            metric=metric,
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=descriptions[name],
        )
        if alarm_topic is not None:
            action = cloudwatch_actions.SnsAction(alarm_topic)
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)
        alarms[name] = alarm
    return alarms


def input_widget(title: str, metrics: Mapping[str, cloudwatch.IMetric]) -> cloudwatch.IWidget:
    """One graph of an input's delivery metrics, for the pipeline's dashboard."""
    return cloudwatch.GraphWidget(title=title, left=list(metrics.values()), width=12, height=6)


def dlq_depth(dlq: sqs.IQueue) -> cloudwatch.IMetric:
    return dlq.metric_approximate_number_of_messages_visible(
        statistic=cloudwatch.Stats.MAXIMUM, period=PERIOD, label="input DLQ"
    )
