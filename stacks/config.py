"""Settings from the ``sqs-blueprint`` block of cdk.json, as frozen dataclasses.

The block holds ``shared`` settings and one entry per stage under ``stages``;
a stage's settings are merged over the shared ones, key by key. ``-c stage=NAME``
picks the stage (``dev`` when not given). Unknown stages and unknown keys are
refused with the path of the key and the keys that are allowed, so a typo never
silently falls back to a default. No environment lookups, no AWS calls.

Every stage says where it deploys and where its alarms go (docs/deploying.md):

- ``account`` and ``region``: ``dev`` and ``local`` may leave them out and
  follow the CLI's credentials; every other stage must name both, and the
  shipped placeholder account ``111111111111`` is refused;
- ``alarms_to``: e-mail addresses (a list), an SNS topic ARN, or ``"none"``,
  which only ``dev`` and ``local`` may use; a pipeline may override it under
  ``<pipeline>.alarms.to``;
- ``protect_data`` (default on; off in ``dev`` and ``local``): see
  stacks/data_protection.py.

``-c account=...``, ``-c region=...`` and ``-c alarms_to=...`` (comma-separated
addresses, a topic ARN or ``none``) override the chosen stage's values, for a
pipeline that keeps them out of the repository.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_

from sqs_blueprint.errors import UsageError
from sqs_blueprint.limits import SQS_MAX_MESSAGE_BYTES
from stacks.construct_args import BufferProps, QueueProps
from stacks.patterns.bundling import LAMBDAS_DIR

CONTEXT_KEY = "sqs-blueprint"
DEFAULT_STAGE = "dev"
# Stages that may follow the CLI's account and region and may send alarms nowhere.
CLI_STAGES = ("dev", "local")
PLACEHOLDER_ACCOUNT = "111111111111"
OVERRIDES = ("account", "region", "alarms_to")
NO_ALARMS = "none"
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")
# RFC 2606 / RFC 6761: mail to these domains is never delivered.
_RESERVED_DOMAINS = re.compile(r"(^|\.)(example\.(com|net|org)|example|invalid|test|localhost)$")
# A user pipeline's name becomes a folder under lambdas/ and part of a CloudFormation
# stack name, which takes letters, digits and hyphens only.
_PIPELINE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
# The shipped stacks' name suffixes (app.py) and handler folders.
SHIPPED_PIPELINES = ("write-buffer", "ordered", "request-response", "workers", "responder")


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
            function_timeout=Duration.seconds(self.function_timeout_s),
            batch_size=self.batch_size,
            max_batching_window=Duration.seconds(window) if window else None,
            key_fields=self.key_fields,
        )


@dataclass(frozen=True)
class AlarmsConfig:
    """A pipeline's alarms: who hears of them and when the backlog is too old.

    ``to`` left unset takes the stage's ``alarms_to``; once loaded it is a tuple
    of e-mail addresses, an SNS topic ARN, or ``"none"``.
    """

    to: tuple[str, ...] | str | None = None
    age_share: float = 0.5  # of the source queue's retention
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
    alarms: AlarmsConfig = field(default_factory=AlarmsConfig)


@dataclass(frozen=True)
class OrderedConfig:
    """The FIFO pipeline: per-group order, versioned upserts."""

    queue: QueueConfig = field(default_factory=QueueConfig)
    table: TableConfig = field(default_factory=lambda: TableConfig(key_fields=("account",)))
    high_throughput: bool = False
    version_field: str = "version"
    alarms: AlarmsConfig = field(default_factory=AlarmsConfig)


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
    alarms: AlarmsConfig = field(default_factory=AlarmsConfig)


@dataclass(frozen=True)
class OwnTableConfig:
    """The provisioned table of a user's own pipeline; the handler learns its name from
    ``TABLE_NAME``, the fields it keys items by from ``KEY_FIELDS`` and its share of the
    write capacity from ``WCU_PER_SECOND``."""

    write_capacity: int = 5
    read_capacity: int = 1
    key_fields: tuple[str, ...] = ()


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
    alarms: AlarmsConfig = field(default_factory=AlarmsConfig)


@dataclass(frozen=True)
class StageConfig:
    """Everything one deployment stage needs."""

    name: str
    account: str | None = None
    region: str | None = None
    alarms_to: tuple[str, ...] | str | None = None
    protect_data: bool = True
    write_buffer: WriteBufferConfig = field(default_factory=WriteBufferConfig)
    ordered: OrderedConfig = field(default_factory=OrderedConfig)
    request_response: RequestResponseConfig = field(default_factory=RequestResponseConfig)
    workers: WorkersConfig = field(default_factory=WorkersConfig)
    # Users' own pipelines by name (stacks/pipeline_stack.py).
    pipelines: Mapping[str, PipelineConfig] = field(default_factory=dict)


T = TypeVar("T")


def load_stage(
    context_block: Any, stage: str | None = None, overrides: Mapping[str, Any] | None = None
) -> StageConfig:
    """Parse the ``sqs-blueprint`` context block and return the chosen stage.

    ``overrides`` (``account``, ``region``, ``alarms_to``) replace the stage's values.
    """
    where = CONTEXT_KEY
    if not isinstance(context_block, Mapping):
        raise ConfigError(f"context '{where}' must be an object with a 'stages' key")
    unknown = sorted(set(context_block) - {"shared", "stages"})
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown} in '{where}'; allowed: ['shared', 'stages']")
    stages = context_block.get("stages")
    if not isinstance(stages, Mapping) or not stages:
        raise ConfigError(f"'{where}.stages' must map stage names to settings")
    name = stage or DEFAULT_STAGE
    if name not in stages:
        raise ConfigError(
            f"unknown stage '{name}'; cdk.json defines {sorted(stages)}. "
            f"Choose one with -c stage=NAME or add '{name}' under '{where}.stages'."
        )
    errors: list[str] = []
    shared = context_block.get("shared") or {}
    if not isinstance(shared, Mapping):
        raise ConfigError(f"'{where}.shared' must be an object")
    chosen = stages[name] or {}
    if not isinstance(chosen, Mapping):
        raise ConfigError(f"'{where}.stages.{name}' must be an object")
    settings = _merge(shared, chosen)
    settings.update({k: v for k, v in (overrides or {}).items() if k in OVERRIDES})
    if "name" in settings:
        errors.append(f"'{where}.stages.{name}.name' is not a setting (the stage key is its name)")
    settings["name"] = name
    config = _build(StageConfig, settings, f"{where}.stages.{name}", errors)
    if not errors:
        config = _check_target(config, f"{where}.stages.{name}", errors)
        config = _check_pipelines(config, f"{where}.stages.{name}", errors)
        _check_tenants(config, f"{where}.stages.{name}", errors)
    if errors:
        raise ConfigError("invalid stage configuration:\n" + "\n".join(f"  - {e}" for e in errors))
    return config


def _check_target(config: StageConfig, path: str, errors: list[str]) -> StageConfig:
    """Refuse a stage that deploys to an unnamed place or alarms nobody; fill ``alarms.to``."""
    name = config.name
    pinned = name not in CLI_STAGES
    how = "or pass -c account=123456789012 -c region=eu-west-1"
    if pinned and (config.account is None or config.region is None):
        errors.append(
            f"stage '{name}' must name the account and region it deploys to: set "
            f"'{path}.account' (12 digits) and '{path}.region' (e.g. eu-west-1) in cdk.json, {how}"
        )
    if config.account == PLACEHOLDER_ACCOUNT:
        errors.append(
            f"'{path}.account' is the documented placeholder {PLACEHOLDER_ACCOUNT}: set it to "
            f"the AWS account id stage '{name}' deploys to, {how}"
        )
    elif config.account is not None and not _ACCOUNT.match(config.account):
        errors.append(f"'{path}.account' must be 12 digits, got {config.account!r}")
    if config.region is not None and not _REGION.match(config.region):
        errors.append(
            f"'{path}.region' must be a region name such as eu-west-1, got {config.region!r}"
        )
    pipelines = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    changes: dict[str, Any] = {}
    for key, pipeline in pipelines.items():
        alarms = getattr(pipeline, "alarms", None)
        if not isinstance(alarms, AlarmsConfig):
            continue
        own = alarms.to is not None
        where = f"{path}.{key}.alarms.to" if own else f"{path}.alarms_to"
        value = alarms.to if own else config.alarms_to
        to = _alarm_destination(value, where, name, errors)
        changes[key] = dataclasses.replace(pipeline, alarms=dataclasses.replace(alarms, to=to))
    errors[:] = list(dict.fromkeys(errors))  # pipelines sharing the stage's value fail once
    return dataclasses.replace(config, **changes)


def _check_pipelines(config: StageConfig, path: str, errors: list[str]) -> StageConfig:
    """Refuse a pipeline name that cannot name a folder and a stack, or has no handler;
    fill each pipeline's ``alarms.to`` as :func:`_check_target` does for the shipped ones."""
    pipelines = {}
    for name, pipeline in config.pipelines.items():
        where = f"{path}.pipelines.{name}"
        if not _PIPELINE_NAME.match(name):
            errors.append(
                f"'{where}': a pipeline name must be 1..40 lowercase letters, digits and "
                "hyphens, starting with a letter (it names the folder lambdas/<name>/ and the "
                f"stack sqs-blueprint-<stage>-<name>), got {name!r}"
            )
        elif name in SHIPPED_PIPELINES:
            errors.append(
                f"'{where}': {name!r} is the name of a shipped pipeline or handler "
                f"{list(SHIPPED_PIPELINES)}; give your own pipeline another name"
            )
        elif not (LAMBDAS_DIR / name / "handler.py").is_file():
            errors.append(
                f"'{where}': there is no lambdas/{name}/handler.py; create it with the "
                "function lambda_handler(event, context), or correct the name"
            )
        if pipeline.fifo and pipeline.queue.tenants:
            errors.append(
                f"'{where}.queue.tenants' is true on a FIFO pipeline, where MessageGroupId "
                "orders each group and fair queues do not apply: remove 'tenants' or 'fifo'"
            )
        table = pipeline.table
        if table and min(table.write_capacity, table.read_capacity) < 1:
            errors.append(
                f"'{where}.table': a provisioned table needs at least 1 write and 1 read "
                f"capacity unit, got write_capacity={table.write_capacity}, "
                f"read_capacity={table.read_capacity}"
            )
        own = pipeline.alarms.to is not None
        value = pipeline.alarms.to if own else config.alarms_to
        to = _alarm_destination(
            value, f"{where}.alarms.to" if own else f"{path}.alarms_to", config.name, errors
        )
        alarms = dataclasses.replace(pipeline.alarms, to=to)
        pipelines[name] = dataclasses.replace(pipeline, alarms=alarms)
    errors[:] = list(dict.fromkeys(errors))  # pipelines sharing the stage's value fail once
    return dataclasses.replace(config, pipelines=pipelines)


def _check_tenants(config: StageConfig, path: str, errors: list[str]) -> None:
    """Refuse ``tenants`` on the ordered pipeline, whose queue is FIFO."""
    if config.ordered.queue.tenants:
        errors.append(
            f"'{path}.ordered.queue.tenants' is true, but the ordered pipeline's queue is FIFO, "
            "where MessageGroupId orders each group and fair queues do not apply: remove "
            "'tenants' there (it is for standard queues: write_buffer, request_response, workers)"
        )


def _alarm_destination(value: Any, path: str, stage: str, errors: list[str]) -> Any:
    """``value`` as a tuple of e-mail addresses, a topic ARN or ``"none"``."""
    if value is None:
        problem = f"stage '{stage}': alarms reach nobody"
        fix = (
            f"set '{path}' in cdk.json to e-mail addresses (e.g. [\"oncall@yourcompany.com\"]) "
            "or an SNS topic ARN, or pass -c alarms_to=..."
        )
        if stage in CLI_STAGES:
            fix += f', or "{NO_ALARMS}"'
        errors.append(f"{problem}: {fix}")
        return None
    if value == NO_ALARMS:
        if stage not in CLI_STAGES:
            errors.append(
                f"'{path}' is \"{NO_ALARMS}\", which only the stages {list(CLI_STAGES)} may use: "
                f"stage '{stage}' must send its alarms to e-mail addresses or an SNS topic ARN"
            )
        return NO_ALARMS
    if isinstance(value, str) and value.startswith("arn:"):
        if not _TOPIC_ARN.match(value):
            errors.append(
                f"'{path}' is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>), "
                f"got {value!r}"
            )
        return value
    addresses = tuple(a.strip() for a in value.split(",")) if isinstance(value, str) else value
    if not addresses:
        errors.append(f"'{path}' is an empty list: give at least one e-mail address")
    for address in addresses:
        domain = address.rpartition("@")[2].lower()
        if not _EMAIL.match(address):
            errors.append(f"'{path}': {address!r} is not an e-mail address")
        elif _RESERVED_DOMAINS.search(domain):
            errors.append(
                f"'{path}': {address!r} is at a reserved domain that receives no mail "
                "(RFC 2606): give a real address"
            )
    return addresses


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``, recursing into objects present in both."""
    merged = dict(base)
    for key, value in override.items():
        both = isinstance(value, Mapping) and isinstance(base.get(key), Mapping)
        merged[key] = _merge(base[key], value) if both else value
    return merged


def _build(cls: type[T], data: Any, path: str, errors: list[str]) -> T:
    if not isinstance(data, Mapping):
        errors.append(f"'{path}' must be an object, got {type(data).__name__}")
        return cls()
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    for key in sorted(set(data) - set(names)):
        errors.append(f"unknown key '{path}.{key}'; allowed keys: {names}")
    values = {
        key: _convert(hints[key], data[key], f"{path}.{key}", errors)
        for key in names
        if key in data
    }
    return cls(**values)


def _build_each(cls: type[T], data: Any, path: str, errors: list[str]) -> dict[str, T]:
    """An object of named ``cls`` blocks, such as ``pipelines``."""
    if not isinstance(data, Mapping):
        errors.append(f"'{path}' must be an object of named blocks, got {data!r}")
        return {}
    return {str(name): _build(cls, value, f"{path}.{name}", errors) for name, value in data.items()}


def _convert(hint: Any, value: Any, path: str, errors: list[str]) -> Any:
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, path, errors)
    if typing.get_origin(hint) is Mapping:
        return _build_each(typing.get_args(hint)[1], value, path, errors)
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None and type(None) in options:
        return None
    expected = [t for t in options if t is not type(None)]
    block = expected[0]
    if len(expected) == 1 and isinstance(block, type) and dataclasses.is_dataclass(block):
        return _build(block, value, path, errors)  # an optional block, given
    for option in expected:
        if typing.get_origin(option) is tuple:
            item = str if typing.get_args(option)[0] is str else Mapping
            if isinstance(value, list) and all(isinstance(v, item) for v in value):
                return tuple(value)  # strings, or JSON objects such as filter patterns
        elif option is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        elif isinstance(value, option) and not (option is int and isinstance(value, bool)):
            return value
    names = " or ".join(_type_name(t) for t in expected)
    errors.append(f"'{path}' must be {names}, got {value!r}")
    return () if typing.get_origin(expected[0]) is tuple else value


def _type_name(option: Any) -> str:
    if typing.get_origin(option) is not tuple:
        return str(option.__name__)
    return "a list of strings" if typing.get_args(option)[0] is str else "a list of objects"
