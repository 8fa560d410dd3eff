"""SNS fan-out into a pipeline: a topic, and this pipeline's subscription to it.

The subscription delivers raw messages (the consumer sees the body the publisher
sent, not an SNS envelope), may filter on message attributes or on the body, and
redrives what SNS cannot deliver to its own dead-letter queue. The queue's policy
lets SNS send only when the sender is that topic (``aws:SourceArn``). The topic's
``MaximumMessageSize`` (256 KiB unless raised, 1 MiB at most) may not exceed the
queue's own maximum, or SNS would accept messages the queue refuses; larger bodies
go through S3 pointers (a pointer published once reaches every subscriber intact).
docs/aws-facts.md#producer-inputs gives the rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from sqs_blueprint_cdk._validation import Problems
from sqs_blueprint_cdk.inputs._common import (
    PERIOD,
    SNS_DEFAULT_MAX_MESSAGE_BYTES,
    SNS_MAX_MESSAGE_BYTES,
    dlq_depth,
    input_alarms,
    input_dlq,
    input_widget,
)
from sqs_blueprint_cdk.queue_pair import QueueWithDlq

FilterScope = Literal["attributes", "body"]
_SCOPES: dict[str, str] = {"attributes": "MessageAttributes", "body": "MessageBody"}


class TopicInput(Construct):
    """``.topic`` (new unless given), ``.subscription`` (``.cfn_subscription`` its L1),
    ``.dead_letter_queue``, ``.alarms`` and ``.widgets`` for the pipeline's dashboard."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        queue: QueueWithDlq,
        topic: sns.ITopic | None = None,
        fifo: bool = False,
        max_message_bytes: int = SNS_DEFAULT_MAX_MESSAGE_BYTES,
        filter_policy: Mapping[str, Any] | None = None,
        filter_scope: FilterScope = "attributes",
        known_fields: Sequence[str] | None = None,
        dlq_retention_period: Duration = Duration.days(14),
        alarm_topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, id_)
        fifo = bool(topic.fifo) if topic is not None else fifo
        problems = Problems(f"TopicInput '{self.node.path}'")
        _check(problems.check, queue, fifo, max_message_bytes, filter_scope)
        _check_filter(problems.check, filter_policy, filter_scope, known_fields)
        problems.raise_if_any()

        self.max_message_bytes = max_message_bytes
        self.topic = topic or self._new_topic(fifo, max_message_bytes)
        self.dead_letter_queue = input_dlq(
            self, queue=queue, fifo=fifo, retention_period=dlq_retention_period
        )
        self.subscription = self.topic.add_subscription(
            subscriptions.SqsSubscription(
                queue.queue, raw_message_delivery=True, dead_letter_queue=self.dead_letter_queue
            )
        )
        cfn = self.subscription.node.default_child
        assert isinstance(cfn, sns.CfnSubscription)
        self.cfn_subscription = cfn
        if filter_policy:
            cfn.filter_policy = dict(filter_policy)
            cfn.filter_policy_scope = _SCOPES[filter_scope]
        self._observe(alarm_topic)

    def _new_topic(self, fifo: bool, max_message_bytes: int) -> sns.Topic:
        topic = sns.Topic(
            self,
            "Topic",
            fifo=fifo or None,
            enforce_ssl=True,
            master_key=kms.Key(
                self,
                "Key",
                enable_key_rotation=True,
                description=f"Encrypts the messages of {self.node.path}",
            ),
        )
        if max_message_bytes != SNS_DEFAULT_MAX_MESSAGE_BYTES:
            cfn_topic = topic.node.default_child
            assert isinstance(cfn_topic, sns.CfnTopic)
            cfn_topic.maximum_message_size = max_message_bytes
        return topic

    def _observe(self, alarm_topic: sns.ITopic | None) -> None:
        def sns_metric(name: str, label: str) -> cloudwatch.IMetric:
            return self.topic.metric(name, statistic="Sum", period=PERIOD, label=label)

        self.metrics: dict[str, cloudwatch.IMetric] = {
            "NotificationsFailed": sns_metric("NumberOfNotificationsFailed", "failed"),
            "RedrivenToDlq": sns_metric("NumberOfNotificationsRedrivenToDlq", "redriven to DLQ"),
            "InputDlqDepth": dlq_depth(self.dead_letter_queue),
        }
        self.alarms = input_alarms(
            self,
            metrics=self.metrics,
            descriptions={
                "NotificationsFailed": "SNS failed to deliver notifications of this topic; "
                "see the subscriptions' delivery status and the input DLQ.",
                "RedrivenToDlq": "SNS moved notifications to the subscription's dead-letter "
                "queue: the queue refused them (policy, key or size). Fix, then redrive.",
                "InputDlqDepth": "The subscription's dead-letter queue holds messages SNS "
                "could not deliver to the pipeline.",
            },
            alarm_topic=alarm_topic,
        )
        self.widgets = [input_widget(f"SNS input {self.node.id}", self.metrics)]


def _check(check: Any, queue: QueueWithDlq, fifo: bool, max_bytes: int, filter_scope: str) -> None:
    check(
        fifo == queue.fifo,
        "fifo",
        fifo,
        f"a {'FIFO' if fifo else 'standard'} topic cannot deliver to a "
        f"{'FIFO' if queue.fifo else 'standard'} queue",
        "subscribe FIFO queues to FIFO topics and standard queues to standard topics",
    )
    in_range = isinstance(max_bytes, int) and 1_024 <= max_bytes <= SNS_MAX_MESSAGE_BYTES
    check(
        in_range,
        "max_message_bytes",
        max_bytes,
        f"an SNS topic's MaximumMessageSize is 1,024..{SNS_MAX_MESSAGE_BYTES:,} bytes",
        f"use at most {SNS_MAX_MESSAGE_BYTES:,}; send larger bodies as S3 pointers",
    )
    check(
        not in_range or max_bytes <= queue.max_message_bytes,
        "max_message_bytes",
        max_bytes,
        f"above the queue's MaximumMessageSize ({queue.max_message_bytes:,}), so SNS would "
        "accept messages the queue refuses",
        f"lower it to {queue.max_message_bytes:,} or raise the queue's max_message_bytes",
    )
    check(
        filter_scope in _SCOPES,
        "filter_scope",
        filter_scope,
        "a filter applies to the message 'attributes' or to the message 'body'",
        "use 'attributes' or 'body'",
    )


def _check_filter(
    check: Any,
    policy: Mapping[str, Any] | None,
    scope: str,
    known_fields: Sequence[str] | None,
) -> None:
    if policy is None:
        return
    check(
        isinstance(policy, Mapping) and bool(policy),
        "filter_policy",
        policy,
        "a filter policy is a non-empty JSON object",
        "name the attributes (or body fields) to match, or leave filter_policy out",
    )
    if scope != "body" or known_fields is None or not isinstance(policy, Mapping):
        return
    for name in policy:
        if name.startswith("$"):
            continue  # $or and friends
        check(
            name in known_fields,
            f"filter_policy.{name}",
            name,
            f"the pipeline's records are only known to carry {sorted(known_fields)}",
            "filter on one of those fields, or filter on message attributes instead",
        )
