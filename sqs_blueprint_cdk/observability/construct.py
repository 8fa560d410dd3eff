"""PipelineObservability: a pipeline's alarms, their topic and its dashboard."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from sqs_blueprint_cdk._validation import Problems
from sqs_blueprint_cdk.observability.checks import (
    DEFAULT_FAILED_INVOKE_SHARE,
    validate,
    validate_mapping_alarm,
)
from sqs_blueprint_cdk.observability.tenants import (
    DEFAULT_QUIET_GROUP_AGE,
    quiet_group_age,
    tenant_graphs,
    validate_tenants,
)
from sqs_blueprint_cdk.observability.topic import let_alarms_publish
from sqs_blueprint_cdk.observability.widgets import (
    MAPPING_METRICS,
    WIDTH,
    consumer_graphs,
    graph,
    mapping_graph,
    worker_graphs,
    write_capacity_graph,
)
from sqs_blueprint_cdk.observability.workers import heartbeat_share, validate_max_age
from sqs_blueprint_cdk.queue_pair import QueueWithDlq


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
    delivered until it is followed). ``max_age`` sets the oldest-message alarm's
    threshold (else ``age_share`` of the retention); ``worker_heartbeat`` with
    ``auto_scaling_group`` alarms on missing worker heartbeats (workers.py).
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
        tenants: bool = False,
        quiet_group_age: Duration = DEFAULT_QUIET_GROUP_AGE,
        max_age: Duration | None = None,
        worker_heartbeat: cloudwatch.IMetric | None = None,
    ) -> None:
        super().__init__(scope, id_)
        problems = Problems(f"PipelineObservability '{self.node.path}'")
        validate(
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
        validate_mapping_alarm(problems, failed_invoke_share)
        validate_max_age(
            problems, max_age, queue.retention_period, worker_heartbeat, auto_scaling_group
        )
        validate_tenants(
            problems,
            queue=queue.queue,
            tenants=tenants,
            age=quiet_group_age,
            retention=queue.retention_period,
        )
        problems.raise_if_any()
        self.queue = queue
        self.period = period
        self.evaluation_periods = evaluation_periods

        self.topic = self._make_topic(topic, alarm_emails)

        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self._queue_alarms(queue, age_share, max_age)
        self._watched_alarms(queue, consumer_function, table)
        self.mapping_metrics: dict[str, cloudwatch.Metric] = {}
        if event_source_mapping is not None:
            self._mapping_alarm(event_source_mapping, failed_invoke_share)
        self.quiet_group_age_s = quiet_group_age.to_seconds()
        if tenants:
            self._tenant_alarm()
        if worker_heartbeat is not None and auto_scaling_group is not None:
            self._heartbeat_alarm(worker_heartbeat, auto_scaling_group)

        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=dashboard_name, default_interval=Duration.hours(3)
        )
        self._add_widgets(
            queue, consumer_function, table, auto_scaling_group, backlog_target, tenants
        )

    def _make_topic(self, topic: sns.ITopic | None, alarm_emails: Sequence[str]) -> sns.ITopic:
        """``topic`` or a new encrypted one, that CloudWatch may publish to and mails reach."""
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
        let_alarms_publish(topic)
        for address in alarm_emails:
            topic.add_subscription(subscriptions.EmailSubscription(address))
        return topic

    def _queue_alarms(
        self, queue: QueueWithDlq, age_share: float, max_age: Duration | None
    ) -> None:
        """Dead letters waiting; the source queue's oldest message past ``max_age``,
        or else past ``age_share`` of its retention."""
        retention_s = queue.retention_period.to_seconds()
        self.age_threshold_s = round(
            max_age.to_seconds() if max_age is not None else age_share * retention_s
        )
        over = (
            f"the pipeline's latency target ({self.age_threshold_s} s)"
            if max_age is not None
            else f"{age_share:.0%} of the queue's retention ({self.age_threshold_s} s)"
        )
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
                f"The oldest message in {queue.node.path} is older than {over}: the consumer "
                "is stopped or falling behind (a disabled mapping, failing or missing "
                "workers, too little capacity)."
            ),
        )

    def _watched_alarms(
        self,
        queue: QueueWithDlq,
        consumer_function: lambda_.IFunction | None,
        table: dynamodb.ITable | None,
    ) -> None:
        """Errors and throttles of the consumer function and of the table, when given."""
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

    def _tenant_alarm(self) -> None:
        """A quiet tenant's oldest message older than ``quiet_group_age`` (tenants.py)."""
        self._alarm(
            "QuietGroupAge",
            quiet_group_age(self.queue.queue),
            threshold=self.quiet_group_age_s,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            description=(
                f"A quiet tenant's oldest message in {self.queue.node.path} is older than "
                f"{self.quiet_group_age_s:g} s: the consumer is behind for every tenant, not "
                "only a noisy one (see the noisy-groups graph). Add consumer capacity or find "
                "what slows it down."
            ),
        )

    def _heartbeat_alarm(
        self, heartbeat: cloudwatch.IMetric, group: autoscaling.IAutoScalingGroup
    ) -> None:
        """Fewer heartbeats than half of one a minute per instance in service, twice."""
        self._alarm(
            "WorkerHeartbeat",
            heartbeat_share(heartbeat, group),
            threshold=0.5,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=2,
            missing=cloudwatch.TreatMissingData.BREACHING,
            description=(
                f"The workers of {self.queue.node.path} sent fewer than half the heartbeats "
                "expected of the instances in service: a worker is not running (a failed boot, "
                "a crash loop). Its instance marks itself Unhealthy and is replaced; see the "
                "worker log group for the cause."
            ),
        )

    def _alarm(
        self,
        name: str,
        metric: cloudwatch.Metric | cloudwatch.MathExpression,
        *,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator,
        description: str,
        evaluation_periods: int | None = None,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) -> None:
        alarm = metric.with_(period=self.period).create_alarm(
            self,
            f"{name}Alarm",
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=evaluation_periods or self.evaluation_periods,
            treat_missing_data=missing,
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
        tenants: bool,
    ) -> None:
        graphs = self._queue_graphs(queue)
        if tenants:
            graphs += tenant_graphs(queue.queue, self.quiet_group_age_s)
        if function is not None:
            graphs += consumer_graphs(function)
        if self.mapping_metrics:
            graphs.append(mapping_graph(self.mapping_metrics))
        if table is not None:
            graphs.append(write_capacity_graph(table))
        if group is not None:
            graphs += worker_graphs(queue, group, backlog_target)
        graphs.append(self._alarm_status())
        for start in range(0, len(graphs), 3):
            self.dashboard.add_widgets(*graphs[start : start + 3])

    def _queue_graphs(self, queue: QueueWithDlq) -> list[cloudwatch.IWidget]:
        source, dlq = queue.queue, queue.dead_letter_queue
        maximum = cloudwatch.Stats.MAXIMUM
        return [
            graph(
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
            graph(
                "Age of oldest message (s)",
                [source.metric_approximate_age_of_oldest_message(statistic=maximum, label="Age")],
                annotation=(self.age_threshold_s, "Alarm"),
            ),
            graph(
                "Dead-letter queue depth",
                [dlq.metric_approximate_number_of_messages_visible(statistic=maximum, label="DLQ")],
                annotation=(1, "Alarm"),
            ),
        ]

    def _alarm_status(self) -> cloudwatch.IWidget:
        """Every alarm's state. The widget names alarms by ARN; built from their names
        (Ref) rather than Fn::GetAtt Arn, which the local cloud (moto) cannot resolve."""
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
        return cloudwatch.AlarmStatusWidget(title="Alarms", alarms=statuses, width=WIDTH, height=6)
