"""Alarms, an alarm topic and a dashboard for one pipeline.

Alarms, each publishing its ALARM and OK transitions to ``.topic``:
- DLQ depth: ApproximateNumberOfMessagesVisible, Maximum, >= 1. Never
  NumberOfMessagesSent: SQS does not count messages moved to a DLQ by a
  redrive policy as sent, so an alarm on it never fires for dead letters;
- age of the oldest message in the source queue above ``age_share`` of its
  retention: the consumer is behind and messages will soon expire;
- the consumer function's Errors > 0 and Throttles > 0;
- the table's WriteThrottleEvents > 0 (the write buffer's plan should make it
  impossible: one is a bug or a capacity change worth knowing about);
- with ``event_source_mapping``: failed invokes above ``failed_invoke_share``
  (default 5%) of the events the mapping polled, by metric math over the
  mapping's EventCount metrics (FailedInvokeEventCount / PolledEventCount,
  dimension EventSourceMappingUUID, ``limits.LAMBDA_ESM_METRICS_URL``).

Missing data is "not breaching" everywhere: Lambda and DynamoDB emit these
counters only when there is something to count, and SQS stops publishing for a
queue that is empty and idle; a queue holding messages keeps publishing.

The topic the construct creates is encrypted with a customer managed KMS key
(rotated yearly): CloudWatch cannot publish to a topic encrypted with the AWS
managed ``alias/aws/sns`` key, whose policy cannot be changed to let it. The
key and topic policies let CloudWatch alarms of this account and region use
them, and the topic refuses requests without TLS.

The dashboard graphs what the alarms watch, plus in-flight messages, the
consumer's duration, the mapping's polled, invoked, failed-invoke, filtered-out and
deleted events and, for EC2 workers (``auto_scaling_group``), the
instances in service and the backlog per instance that the group scales on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import ArnFormat, Aws, Duration, Stack, Token
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks.patterns._validation import Problems
from stacks.patterns.queue_pair import QueueWithDlq

# CloudWatch limits: standard-resolution alarms evaluate whole minutes, and
# periods x evaluation periods may cover at most one day.
_MAX_EVALUATION_S = 86_400
_DASHBOARD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_WIDTH = 8  # three graphs per 24-column dashboard row
DEFAULT_FAILED_INVOKE_SHARE = 0.05
# The mapping's EventCount metrics on the dashboard, by label (limits.LAMBDA_ESM_METRICS_URL).
MAPPING_METRICS = {
    "Polled": "PolledEventCount",
    "Invoked": "InvokedEventCount",
    "Failed invoke": "FailedInvokeEventCount",
    "Filtered out": "FilteredOutEventCount",
    "Deleted": "DeletedEventCount",
}


class PipelineObservability(Construct):
    """Alarms (``.alarms``, by name), their topic (``.topic``) and ``.dashboard``.

    ``consumer_function`` and ``table`` are optional: their alarms and graphs
    are added only when given. ``auto_scaling_group`` (EC2 workers) adds graphs
    of its instances in service and of the backlog per instance, with
    ``backlog_target`` (the scaling target) drawn on the latter; the group needs
    its GroupInServiceInstances metric enabled (Ec2QueueWorkers does that).
    Pass ``topic`` to send the alarms to an existing standard topic instead of
    creating one; its policies must then let CloudWatch publish (done here when
    the topic and its key belong to this app). ``alarm_emails`` subscribes each
    address to the topic (SNS mails a confirmation link to each; nothing is
    delivered until it is followed).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        queue: QueueWithDlq,
        consumer_function: lambda_.IFunction | None = None,
        table: dynamodb.ITable | None = None,
        auto_scaling_group: autoscaling.IAutoScalingGroup | None = None,
        backlog_target: float | None = None,
        topic: sns.ITopic | None = None,
        age_share: float = 0.5,
        alarm_emails: Sequence[str] = (),
        period: Duration = Duration.minutes(5),
        evaluation_periods: int = 1,
        dashboard_name: str | None = None,
        event_source_mapping: lambda_.IEventSourceMapping | None = None,
        failed_invoke_share: float = DEFAULT_FAILED_INVOKE_SHARE,
    ) -> None:
        super().__init__(scope, id_)
        problems = Problems(f"PipelineObservability '{self.node.path}'")
        _validate(
            problems,
            topic=topic,
            age_share=age_share,
            alarm_emails=alarm_emails,
            period=period,
            evaluation_periods=evaluation_periods,
            dashboard_name=dashboard_name,
            auto_scaling_group=auto_scaling_group,
            backlog_target=backlog_target,
        )
        _validate_mapping_alarm(problems, failed_invoke_share)
        problems.raise_if_any()
        self.queue = queue
        self.period = period
        self.evaluation_periods = evaluation_periods

        self.key: kms.Key | None = None
        if topic is None:
            self.key = kms.Key(
                self,
                "TopicKey",
                enable_key_rotation=True,
                description=f"Encrypts the alarm notifications of {self.node.path}",
            )
            topic = sns.Topic(
                self,
                "Topic",
                display_name="sqs-blueprint alarms",
                master_key=self.key,
                enforce_ssl=True,
            )
        self.topic: sns.ITopic = topic
        _let_alarms_publish(self.topic)
        for address in alarm_emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(address))

        self.age_threshold_s = round(age_share * queue.retention_period.to_seconds())
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        dlq, source = queue.dead_letter_queue, queue.queue
        self._alarm(
            "DlqDepth",
            # Not NumberOfMessagesSent: dead-lettered messages are not "sent" (module doc).
            dlq.metric_approximate_number_of_messages_visible(statistic=cloudwatch.Stats.MAXIMUM),
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            description=(
                f"Messages are waiting in the dead-letter queue of {queue.node.path}. Inspect "
                "them with 'sqs-blueprint dlq inspect', fix the cause, then "
                "'sqs-blueprint dlq redrive'."
            ),
        )
        self._alarm(
            "OldestMessageAge",
            source.metric_approximate_age_of_oldest_message(statistic=cloudwatch.Stats.MAXIMUM),
            threshold=self.age_threshold_s,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            description=(
                f"The oldest message in {queue.node.path} is older than {age_share:.0%} of the "
                f"queue's retention ({self.age_threshold_s} s): the consumer is falling behind "
                "and messages will expire unprocessed."
            ),
        )
        if consumer_function is not None:
            self._alarm(
                "ConsumerErrors",
                consumer_function.metric_errors(statistic=cloudwatch.Stats.SUM),
                threshold=0,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                description=(
                    f"The consumer of {queue.node.path} failed whole invocations; failed "
                    "messages return to the queue and reach the DLQ after maxReceiveCount."
                ),
            )
            self._alarm(
                "ConsumerThrottles",
                consumer_function.metric_throttles(statistic=cloudwatch.Stats.SUM),
                threshold=0,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                description=(
                    f"The consumer of {queue.node.path} was throttled; throttled receives count "
                    "towards maxReceiveCount. Bound it with the mapping's maximum concurrency, "
                    "not reserved concurrency."
                ),
            )
        if table is not None:
            self._alarm(
                "WriteThrottles",
                table.metric("WriteThrottleEvents", statistic=cloudwatch.Stats.SUM),
                threshold=0,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                description=(
                    f"Writes to the table fed by {queue.node.path} were throttled: the consumer's "
                    "write budget exceeds the table's capacity."
                ),
            )

        self.mapping_metrics: dict[str, cloudwatch.Metric] = {}
        if event_source_mapping is not None:
            self._mapping_alarm(event_source_mapping, failed_invoke_share)

        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=dashboard_name, default_interval=Duration.hours(3)
        )
        self._add_widgets(queue, consumer_function, table, auto_scaling_group, backlog_target)

    def _alarm(
        self,
        name: str,
        metric: cloudwatch.Metric | cloudwatch.MathExpression,
        *,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator,
        description: str,
    ) -> None:
        alarm = metric.with_(period=self.period).create_alarm(
            self,
            f"{name}Alarm",
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=self.evaluation_periods,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        action = cloudwatch_actions.SnsAction(self.topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        self.alarms[name] = alarm

    def _mapping_alarm(self, mapping: lambda_.IEventSourceMapping, share: float) -> None:
        """Failed invokes / polled events above ``share``, over the mapping's own metrics."""
        self.mapping_metrics = {
            label: cloudwatch.Metric(
                namespace="AWS/Lambda",
                metric_name=name,
                dimensions_map={"EventSourceMappingUUID": mapping.event_source_mapping_id},
                statistic=cloudwatch.Stats.SUM,
            )
            for label, name in MAPPING_METRICS.items()
        }
        ratio = cloudwatch.MathExpression(
            expression="IF(polled > 0, failed / polled, 0)",
            using_metrics={
                "failed": self.mapping_metrics["Failed invoke"],
                "polled": self.mapping_metrics["Polled"],
            },
            label="Failed invoke share",
        )
        self._alarm(
            "MappingFailedInvokes",
            ratio,
            threshold=share,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            description=(
                f"More than {share:.0%} of the events the mapping of {self.queue.node.path} "
                "polled failed to invoke or were reported failed; they return to the queue "
                "and reach the DLQ after maxReceiveCount. See the consumer's logs."
            ),
        )

    def _add_widgets(
        self,
        queue: QueueWithDlq,
        function: lambda_.IFunction | None,
        table: dynamodb.ITable | None,
        group: autoscaling.IAutoScalingGroup | None,
        backlog_target: float | None,
    ) -> None:
        source, dlq = queue.queue, queue.dead_letter_queue
        maximum = cloudwatch.Stats.MAXIMUM
        graphs: list[cloudwatch.IWidget] = [
            _graph(
                "Queue depth and in flight",
                [
                    source.metric_approximate_number_of_messages_visible(
                        statistic=maximum, label="Visible"
                    ),
                    source.metric_approximate_number_of_messages_not_visible(
                        statistic=maximum, label="In flight"
                    ),
                ],
            ),
            _graph(
                "Age of oldest message (s)",
                [source.metric_approximate_age_of_oldest_message(statistic=maximum, label="Age")],
                annotation=(self.age_threshold_s, "Alarm"),
            ),
            _graph(
                "Dead-letter queue depth",
                [dlq.metric_approximate_number_of_messages_visible(statistic=maximum, label="DLQ")],
                annotation=(1, "Alarm"),
            ),
        ]
        if function is not None:
            graphs += [
                _graph(
                    "Consumer errors and throttles",
                    [
                        function.metric_errors(statistic=cloudwatch.Stats.SUM, label="Errors"),
                        function.metric_throttles(
                            statistic=cloudwatch.Stats.SUM, label="Throttles"
                        ),
                    ],
                ),
                _graph(
                    "Consumer duration (ms)",
                    [
                        function.metric_duration(statistic=cloudwatch.Stats.AVERAGE, label="Avg"),
                        function.metric_duration(statistic=cloudwatch.Stats.p(99), label="p99"),
                    ],
                ),
            ]
        if self.mapping_metrics:
            graphs.append(_mapping_graph(self.mapping_metrics))
        if table is not None:
            consumed = table.metric("ConsumedWriteCapacityUnits", statistic=cloudwatch.Stats.SUM)
            graphs.append(
                _graph(
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
            )
        if group is not None:
            graphs += _worker_graphs(queue, group, backlog_target)
        # The widget names alarms by ARN; built from their names (Ref) rather than
        # Fn::GetAtt Arn, which the local cloud (moto) cannot resolve.
        stack = Stack.of(self)
        statuses = [
            cloudwatch.Alarm.from_alarm_arn(
                self,
                f"{name}Ref",
                stack.format_arn(
                    service="cloudwatch",
                    resource="alarm",
                    resource_name=alarm.alarm_name,
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                ),
            )
            for name, alarm in self.alarms.items()
        ]
        graphs.append(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=statuses, width=_WIDTH, height=6)
        )
        for start in range(0, len(graphs), 3):
            self.dashboard.add_widgets(*graphs[start : start + 3])


def _mapping_graph(metrics: dict[str, cloudwatch.Metric]) -> cloudwatch.GraphWidget:
    """The mapping's EventCount metrics, one line each, summed per period."""
    return _graph(
        "Mapping events",
        [metric.with_(label=name) for name, metric in metrics.items()],
    )


def _worker_graphs(
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
        _graph("Workers in service", [in_service]),
        _graph("Backlog per instance (messages)", [backlog], annotation=target),
    ]


def _graph(
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
        title=title, left=metrics, left_annotations=annotations, width=_WIDTH, height=6
    )


def _let_alarms_publish(topic: sns.ITopic) -> None:
    """Let CloudWatch alarms of this account and region publish to ``topic``.

    A topic policy (``enforce_ssl`` creates one) replaces SNS's default policy,
    and a KMS-encrypted topic also needs CloudWatch to use its key. Both are
    no-ops for imported topics and keys, whose policies live elsewhere.
    """
    service = iam.ServicePrincipal("cloudwatch.amazonaws.com")
    conditions = {
        "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
        "ArnLike": {
            "aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*"
        },
    }
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchAlarmsToPublish",
            principals=[service],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions=conditions,
        )
    )
    if topic.master_key is not None:
        topic.master_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToUseTheKey",
                principals=[service],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions=conditions,
            )
        )


def _validate_mapping_alarm(problems: Problems, failed_invoke_share: float) -> None:
    problems.check(
        0 < failed_invoke_share < 1,
        "failed_invoke_share",
        failed_invoke_share,
        "must be between 0 and 1 (exclusive): the alarm fires when failed invokes pass this "
        "share of the events the mapping polled",
        f"use e.g. {DEFAULT_FAILED_INVOKE_SHARE} to hear when 1 event in "
        f"{round(1 / DEFAULT_FAILED_INVOKE_SHARE)} fails",
    )


def _validate(
    problems: Problems,
    *,
    topic: sns.ITopic | None,
    age_share: float,
    alarm_emails: Sequence[str],
    period: Duration,
    evaluation_periods: int,
    dashboard_name: str | None,
    auto_scaling_group: autoscaling.IAutoScalingGroup | None,
    backlog_target: float | None,
) -> None:
    check = problems.check
    check(
        0 < age_share < 1,
        "age_share",
        age_share,
        "must be between 0 and 1 (exclusive): the alarm fires when the oldest message is older "
        "than this share of the queue's retention",
        "use e.g. 0.5 to hear about a backlog halfway to expiry",
    )
    seconds = period.to_seconds()
    check(
        seconds >= 60 and seconds % 60 == 0,
        "period",
        f"{seconds:g} s",
        "must be a whole number of minutes: SQS, Lambda and DynamoDB publish one-minute metrics",
        "use Duration.minutes(1) or more",
    )
    check(
        evaluation_periods >= 1 and evaluation_periods * seconds <= _MAX_EVALUATION_S,
        "evaluation_periods",
        evaluation_periods,
        f"must be at least 1, and evaluation_periods x period ({seconds:g} s) at most "
        f"{_MAX_EVALUATION_S} s (one day, a CloudWatch limit)",
        "choose fewer or shorter periods",
    )
    if topic is not None:
        check(
            not topic.fifo,
            "topic",
            topic.node.path,
            "CloudWatch alarms publish only to standard SNS topics, not FIFO topics",
            "pass a standard topic, or leave topic unset to create one",
        )
    for address in alarm_emails:
        check(
            bool(_EMAIL.match(address)),
            "alarm_emails",
            address,
            "must be one email address",
            "give addresses such as ops@example.com, one per list item",
        )
    if backlog_target is not None:
        check(
            auto_scaling_group is not None,
            "backlog_target",
            backlog_target,
            "is drawn on the backlog-per-instance graph, which needs auto_scaling_group",
            "pass the workers' auto_scaling_group too, or leave backlog_target unset",
        )
        check(
            backlog_target > 0,
            "backlog_target",
            backlog_target,
            "must be more than 0 (visible messages per instance in service)",
            "pass the scaling target, e.g. Ec2QueueWorkers.target_backlog_per_instance",
        )
    if dashboard_name is not None and not Token.is_unresolved(dashboard_name):
        check(
            bool(_DASHBOARD_NAME.match(dashboard_name)),
            "dashboard_name",
            dashboard_name,
            "CloudWatch dashboard names are 1..255 letters, digits, '-' or '_'",
            "drop other characters, or leave dashboard_name unset",
        )
