"""The shape of a stage's settings: one frozen dataclass per block of cdk.json.

Defaults live here; parsing and merging are in :mod:`stacks.config.load`, the
checks across settings in :mod:`stacks.config.checks`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_

from sqs_blueprint.errors import UsageError
from sqs_blueprint.limits import SQS_MAX_MESSAGE_BYTES
from stacks.construct_args import BufferProps, QueueProps

# An ``alarms_to`` that sends alarms nowhere (dev and local only).
NO_ALARMS = "none"


class ConfigError(UsageError):
    """The cdk.json context cannot be turned into a stage configuration."""


@dataclass(frozen=True)
class QueueConfig:
    """A queue and its dead-letter queue (docs/aws-facts.md#sqs-limits gives the limits)."""

    max_receive_count: int = 5
    retention_days: int = 4
    dlq_retention_days: int = 14
    customer_managed_key: bool = False
    # The source queue's MaximumMessageSize: 1,024..1,048,576 bytes.
    max_message_bytes: int = SQS_MAX_MESSAGE_BYTES
    # A multi-tenant standard queue: producers set each tenant as its MessageGroupId
    # (a fair queue, docs/aws-facts.md#2025-features); adds the fair-queue metrics
    # and the quiet-tenant alarm. Refused on a FIFO queue.
    tenants: bool = False

    def props(self) -> QueueProps:
        """These settings as keyword arguments of ``QueueWithDlq``."""
        return QueueProps(
            max_receive_count=self.max_receive_count,
            max_message_bytes=self.max_message_bytes,
            retention_period=Duration.days(self.retention_days),
            dlq_retention_period=Duration.days(self.dlq_retention_days),
            customer_managed_key=self.customer_managed_key,
        )


@dataclass(frozen=True)
class TableConfig:
    """A provisioned table and the Lambda consumer that writes into it
    (docs/aws-facts.md#lambda-event-source-mapping, #dynamodb)."""

    write_capacity: int = 10
    read_capacity: int = 5
    item_kb: float = 1.0
    # The largest item the consumer accepts; unset, the largest whole KB of which a full
    # batch fits in one invocation's write budget (sqs_blueprint_cdk/write_budget.py).
    max_item_kb: float | None = None
    function_timeout_s: int = 30
    batch_size: int = 10
    batching_window_s: int = 0
    key_fields: tuple[str, ...] = ()
    # Provisioned pollers instead of maximum concurrency when either is set.
    minimum_pollers: int | None = None
    maximum_pollers: int | None = None
    # Lambda filter patterns on the message body (SqsLambdaConsumer ``filters``).
    filters: tuple[Mapping[str, Any], ...] = ()

    def props(self) -> BufferProps:
        """These settings as keyword arguments of ``DynamoWriteBuffer``."""
        window = self.batching_window_s
        pollers = (self.minimum_pollers, self.maximum_pollers)
        return BufferProps(
            provisioned_pollers=lambda_.ProvisionedPollerConfig(
                minimum_pollers=self.minimum_pollers, maximum_pollers=self.maximum_pollers
            )
            if pollers != (None, None)
            else None,
            filters=self.filters,
            write_capacity=self.write_capacity,
            read_capacity=self.read_capacity,
            item_kb=self.item_kb,
            max_item_kb=self.max_item_kb,
            function_timeout=Duration.seconds(self.function_timeout_s),
            batch_size=self.batch_size,
            max_batching_window=Duration.seconds(window) if window else None,
            key_fields=self.key_fields,
        )


@dataclass(frozen=True)
class AlarmsConfig:
    """A pipeline's alarms: who hears of them. When the backlog is too old follows from
    the pipeline's ``acceptable_latency_s`` (README, "Alarms").

    ``to`` left unset takes the stage's ``alarms_to``; once loaded it is a tuple
    of e-mail addresses, an SNS topic ARN, or ``"none"``.
    """

    to: tuple[str, ...] | str | None = None
    failed_invoke_share: float = 0.05  # of the events a Lambda mapping polled
    quiet_group_age_s: int = 300  # a quiet tenant's oldest message, with queue.tenants

    @property
    def emails(self) -> tuple[str, ...]:
        return self.to if isinstance(self.to, tuple) else ()

    @property
    def topic_arn(self) -> str | None:
        return self.to if isinstance(self.to, str) and self.to != NO_ALARMS else None


@dataclass(frozen=True)
class WriteBufferConfig:
    """The standard queue in front of a provisioned DynamoDB table."""

    queue: QueueConfig = field(default_factory=QueueConfig)
    table: TableConfig = field(default_factory=TableConfig)
    # The oldest message's age that means the pipeline is failing its users: the
    # OldestMessageAge alarm's threshold (README, "Alarms").
    acceptable_latency_s: int = 10 * 60
    alarms: AlarmsConfig = field(default_factory=AlarmsConfig)
    # AWS services producing into the queue (stacks/config/inputs.py).
    inputs: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class OrderedConfig:
    """The FIFO pipeline: per-group order, versioned upserts."""

    queue: QueueConfig = field(default_factory=QueueConfig)
    table: TableConfig = field(default_factory=lambda: TableConfig(key_fields=("account",)))
    high_throughput: bool = False
    version_field: str = "version"
    # The oldest message's age that means the pipeline is failing its users: the
    # OldestMessageAge alarm's threshold (README, "Alarms").
    acceptable_latency_s: int = 10 * 60
    alarms: AlarmsConfig = field(default_factory=AlarmsConfig)
    # AWS services producing into the queue (stacks/config/inputs.py).
    inputs: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class RequestResponseConfig:
    """The request queue, its responder, and the prefix of the clients' response queues.

    ``response_queue_prefix`` left unset becomes ``<stack name>-reply-``.
    """

    queue: QueueConfig = field(default_factory=QueueConfig)
    response_queue_prefix: str | None = None
    function_timeout_s: int = 10
    batch_size: int = 10
    max_concurrency: int = 10
    # The oldest message's age that means the pipeline is failing its users: the
    # OldestMessageAge alarm's threshold (README, "Alarms").
    acceptable_latency_s: int = 60
    alarms: AlarmsConfig = field(default_factory=AlarmsConfig)


@dataclass(frozen=True)
class WorkersConfig:
    """EC2 workers draining a standard queue into a provisioned table.

    The defaults agree with each other: 10 WCU shared by at most 2 instances is
    5 one-KB writes a second per instance, so ``seconds_per_message`` is 0.2,
    and a 120 s acceptable latency gives a target of 600 visible messages per
    instance. ``nat_gateways``: see stacks/workers_stack.py.
    """

    queue: QueueConfig = field(default_factory=QueueConfig)
    write_capacity: int = 10
    read_capacity: int = 5
    key_fields: tuple[str, ...] = ()
    instance_type: str = "t4g.small"
    min_capacity: int = 1
    max_capacity: int = 2
    concurrency: int = 4
    max_processing_time_s: int = 60
    acceptable_latency_s: int = 120
    seconds_per_message: float = 0.2
    instance_warmup_s: int = 180
    nat_gateways: int = 1
    # "latest", an AMI id, or "ssm:/name" (sqs_blueprint_cdk/workers/image.py).
    ami: str = "latest"
    alarms: AlarmsConfig = field(default_factory=AlarmsConfig)


@dataclass(frozen=True)
class OwnTableConfig:
    """The provisioned table of a user's own pipeline; the handler learns its name from
    ``TABLE_NAME``, the fields it keys items by from ``KEY_FIELDS`` and its share of the
    write capacity from ``WCU_PER_SECOND``."""

    write_capacity: int = 5
    read_capacity: int = 1
    key_fields: tuple[str, ...] = ()
    # The handler idiom (WriteBuffer.upserter().put_many) calls BatchWriteItem alone;
    # name any other DynamoDB action the handler calls, e.g. ["dynamodb:GetItem"].
    extra_actions: tuple[str, ...] = ()


@dataclass(frozen=True)
class PipelineConfig:
    """A user's own pipeline: ``lambdas/<name>/handler.py`` consuming its own queue pair.

    The consumer settings are those of ``SqsLambdaConsumer`` (validated there);
    ``max_concurrency`` bounds the function, and with a table the write capacity
    is shared by that many invocations.
    """

    queue: QueueConfig = field(default_factory=QueueConfig)
    fifo: bool = False
    function_timeout_s: int = 30
    batch_size: int = 10
    batching_window_s: int = 0
    max_concurrency: int = 2
    table: OwnTableConfig | None = None
    # The oldest message's age that means the pipeline is failing its users: the
    # OldestMessageAge alarm's threshold (README, "Alarms").
    acceptable_latency_s: int = 10 * 60
    alarms: AlarmsConfig = field(default_factory=AlarmsConfig)
    # AWS services producing into the queue (stacks/config/inputs.py).
    inputs: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class StageConfig:
    """Everything one deployment stage needs."""

    name: str
    account: str | None = None
    region: str | None = None
    alarms_to: tuple[str, ...] | str | None = None
    protect_data: bool = True
    # How every function and worker of the stage exports spans: "off", "adot" or "otlp"
    # (sqs_blueprint_cdk/tracing.py, docs/configuration.md).
    tracing: str = "off"
    write_buffer: WriteBufferConfig = field(default_factory=WriteBufferConfig)
    ordered: OrderedConfig = field(default_factory=OrderedConfig)
    request_response: RequestResponseConfig = field(default_factory=RequestResponseConfig)
    workers: WorkersConfig = field(default_factory=WorkersConfig)
    # Users' own pipelines by name (stacks/pipeline_stack.py).
    pipelines: Mapping[str, PipelineConfig] = field(default_factory=dict)
