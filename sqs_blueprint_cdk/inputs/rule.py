"""EventBridge into a pipeline: a rule on a bus with the pipeline's queue as target.

The target retries for ``max_event_age`` / ``retry_attempts`` and then puts the
event in its own dead-letter queue (EventBridge takes only a standard queue there);
the queue's policy lets EventBridge send only for this rule (``aws:SourceArn``).
``message`` transforms the event (by default the whole event is the body). A FIFO
queue needs ``message_group_id``: a rule's SQS target takes one fixed group per
target, not one read from the event (docs/aws-facts.md#producer-inputs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sns as sns
from constructs import Construct

from sqs_blueprint_cdk._validation import Problems
from sqs_blueprint_cdk.inputs._common import (
    EVENTS_MAX_EVENT_AGE_S,
    EVENTS_MAX_RETRY_ATTEMPTS,
    EVENTS_MIN_EVENT_AGE_S,
    PERIOD,
    dlq_depth,
    input_alarms,
    input_dlq,
    input_widget,
)
from sqs_blueprint_cdk.queue_pair import QueueWithDlq

_PATTERN_KEYS = {
    "version": "version",
    "id": "id",
    "detail-type": "detail_type",
    "source": "source",
    "account": "account",
    "time": "time",
    "region": "region",
    "resources": "resources",
    "detail": "detail",
}


class RuleInput(Construct):
    """``.rule``, ``.event_bus``, ``.dead_letter_queue``, ``.alarms`` and ``.widgets``."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        queue: QueueWithDlq,
        pattern: Mapping[str, Any],
        event_bus: events.IEventBus | None = None,
        message: events.RuleTargetInput | None = None,
        message_group_id: str | None = None,
        retry_attempts: int = EVENTS_MAX_RETRY_ATTEMPTS,
        max_event_age: Duration = Duration.hours(24),
        dlq_retention_period: Duration = Duration.days(14),
        alarm_topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, id_)
        problems = Problems(f"RuleInput '{self.node.path}'")
        _check(problems.check, queue, pattern, message_group_id, retry_attempts, max_event_age)
        problems.raise_if_any()

        self.event_bus = event_bus or events.EventBus.from_event_bus_name(
            self, "DefaultBus", "default"
        )
        self.dead_letter_queue = input_dlq(
            self, queue=queue, fifo=False, retention_period=dlq_retention_period
        )
        self.rule = events.Rule(
            self,
            "Rule",
            event_bus=event_bus,
            event_pattern=events.EventPattern(
                **{_PATTERN_KEYS[key]: value for key, value in pattern.items()}
            ),
            description=f"Delivers matching events to {queue.node.path}",
        )
        self.rule.add_target(
            targets.SqsQueue(
                queue.queue,
                message=message,
                message_group_id=message_group_id,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=retry_attempts,
                max_event_age=max_event_age,
            )
        )
        self._observe(event_bus is not None, alarm_topic)

    def _observe(self, custom_bus: bool, alarm_topic: sns.ITopic | None) -> None:
        dimensions = {"RuleName": self.rule.rule_name}
        if custom_bus:
            dimensions["EventBusName"] = self.event_bus.event_bus_name

        def events_metric(name: str, label: str) -> cloudwatch.IMetric:
            return cloudwatch.Metric(
                namespace="AWS/Events",
                metric_name=name,
                dimensions_map=dimensions,
                statistic="Sum",
                period=PERIOD,
                label=label,
            )

        self.metrics: dict[str, cloudwatch.IMetric] = {
            "FailedInvocations": events_metric("FailedInvocations", "failed"),
            "DeadLetterInvocations": events_metric("DeadLetterInvocations", "to DLQ"),
            "InputDlqDepth": dlq_depth(self.dead_letter_queue),
        }
        self.alarms = input_alarms(
            self,
            metrics=self.metrics,
            descriptions={
                "FailedInvocations": "EventBridge failed to deliver events of this rule to "
                "the pipeline's queue (policy, key or throttling); they are retried.",
                "DeadLetterInvocations": "EventBridge gave up on events of this rule and put "
                "them in the target's dead-letter queue.",
                "InputDlqDepth": "The rule target's dead-letter queue holds events "
                "EventBridge could not deliver to the pipeline.",
            },
            alarm_topic=alarm_topic,
        )
        self.widgets = [input_widget(f"EventBridge input {self.node.id}", self.metrics)]


def _check(
    check: Any,
    queue: QueueWithDlq,
    pattern: Mapping[str, Any],
    group: str | None,
    retry_attempts: int,
    max_event_age: Duration,
) -> None:
    ok_pattern = isinstance(pattern, Mapping) and bool(pattern)
    check(
        ok_pattern,
        "pattern",
        pattern,
        "an event pattern is a non-empty JSON object",
        'match at least one field, e.g. {"source": ["orders"]}',
    )
    unknown = sorted(set(pattern) - set(_PATTERN_KEYS)) if ok_pattern else []
    check(
        not unknown,
        "pattern",
        unknown,
        f"an event pattern matches the event's top-level fields {sorted(_PATTERN_KEYS)}",
        "put fields of the event's payload under 'detail'",
    )
    check(
        (group is not None) == queue.fifo,
        "message_group_id",
        group,
        "a FIFO queue target needs a message group and a standard queue takes none",
        "set message_group_id for a FIFO queue only",
    )
    check(
        0 <= retry_attempts <= EVENTS_MAX_RETRY_ATTEMPTS,
        "retry_attempts",
        retry_attempts,
        f"EventBridge retries 0..{EVENTS_MAX_RETRY_ATTEMPTS} times",
        f"use a value in 0..{EVENTS_MAX_RETRY_ATTEMPTS}",
    )
    age_s = max_event_age.to_seconds()
    check(
        EVENTS_MIN_EVENT_AGE_S <= age_s <= EVENTS_MAX_EVENT_AGE_S,
        "max_event_age",
        f"{age_s:g}s",
        f"EventBridge keeps retrying an event {EVENTS_MIN_EVENT_AGE_S}..{EVENTS_MAX_EVENT_AGE_S} s",
        "use between one minute and 24 hours",
    )
