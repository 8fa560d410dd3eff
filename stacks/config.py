"""Settings from the ``sqs-blueprint`` block of cdk.json, as frozen dataclasses.

The block holds ``shared`` settings and one entry per stage under ``stages``;
a stage's settings are merged over the shared ones, key by key. ``-c stage=NAME``
picks the stage (``dev`` when not given). Unknown stages and unknown keys are
refused with the path of the key and the keys that are allowed, so a typo never
silently falls back to a default. No environment lookups, no AWS calls.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_

CONTEXT_KEY = "sqs-blueprint"
DEFAULT_STAGE = "dev"


class ConfigError(ValueError):
    """The cdk.json context cannot be turned into a stage configuration."""


@dataclass(frozen=True)
class QueueConfig:
    """A queue and its dead-letter queue (FACTS §1 gives the limits)."""

    max_receive_count: int = 5
    retention_days: int = 4
    dlq_retention_days: int = 14
    customer_managed_key: bool = False

    def props(self) -> dict[str, Any]:
        """These settings as keyword arguments of ``QueueWithDlq``."""
        return {
            "max_receive_count": self.max_receive_count,
            "retention_period": Duration.days(self.retention_days),
            "dlq_retention_period": Duration.days(self.dlq_retention_days),
            "customer_managed_key": self.customer_managed_key,
        }


@dataclass(frozen=True)
class TableConfig:
    """A provisioned table and the Lambda consumer that writes into it (FACTS §2, §3)."""

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

    def props(self) -> dict[str, Any]:
        """These settings as keyword arguments of ``DynamoWriteBuffer``."""
        window = self.batching_window_s
        pollers = (self.minimum_pollers, self.maximum_pollers)
        return {
            "provisioned_pollers": lambda_.ProvisionedPollerConfig(
                minimum_pollers=self.minimum_pollers, maximum_pollers=self.maximum_pollers
            )
            if pollers != (None, None)
            else None,
            "filters": self.filters,
            "write_capacity": self.write_capacity,
            "read_capacity": self.read_capacity,
            "item_kb": self.item_kb,
            "function_timeout": Duration.seconds(self.function_timeout_s),
            "batch_size": self.batch_size,
            "max_batching_window": Duration.seconds(window) if window else None,
            "key_fields": self.key_fields,
        }


@dataclass(frozen=True)
class AlarmsConfig:
    """A pipeline's alarms: who hears of them and when the backlog is too old."""

    alarm_email: str | None = None
    age_share: float = 0.5  # of the source queue's retention
    failed_invoke_share: float = 0.05  # of the events a Lambda mapping polled


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
    max_concurrency: int | None = None
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
class StageConfig:
    """Everything one deployment stage needs."""

    name: str
    account: str | None = None
    region: str | None = None
    powertools_layer_version: int = 27
    write_buffer: WriteBufferConfig = field(default_factory=WriteBufferConfig)
    ordered: OrderedConfig = field(default_factory=OrderedConfig)
    request_response: RequestResponseConfig = field(default_factory=RequestResponseConfig)
    workers: WorkersConfig = field(default_factory=WorkersConfig)


T = TypeVar("T")


def load_stage(context_block: Any, stage: str | None = None) -> StageConfig:
    """Parse the ``sqs-blueprint`` context block and return the chosen stage."""
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
    if "name" in settings:
        errors.append(f"'{where}.stages.{name}.name' is not a setting (the stage key is its name)")
    settings["name"] = name
    config = _build(StageConfig, settings, f"{where}.stages.{name}", errors)
    if errors:
        raise ConfigError("invalid stage configuration:\n" + "\n".join(f"  - {e}" for e in errors))
    return config


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


def _convert(hint: Any, value: Any, path: str, errors: list[str]) -> Any:
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, path, errors)
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None and type(None) in options:
        return None
    expected = next(t for t in options if t is not type(None))
    if typing.get_origin(expected) is tuple and typing.get_args(expected)[0] is not str:
        if isinstance(value, list) and all(isinstance(v, Mapping) for v in value):
            return tuple(value)  # a list of JSON objects, e.g. filter patterns
        errors.append(f"'{path}' must be a list of objects, got {value!r}")
        return ()
    if typing.get_origin(expected) is tuple:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        errors.append(f"'{path}' must be a list of strings, got {value!r}")
        return ()
    valid = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not valid:
        errors.append(f"'{path}' must be {expected.__name__}, got {value!r}")
    return value
