"""A pipeline's ``inputs``: AWS services that produce into its queue.

Each entry of the list is an object with one key naming the kind of input::

    {"topic": {"filter": {"kind": ["order"]}, "filter_on": "attributes"}}
    {"rule": {"bus": "default", "pattern": {"source": ["shop.orders"]}}}
    {"bucket": {"prefix": "incoming/"}}

This module checks the shape (kinds, keys, types), each problem on one line with
its path; what depends on the pipeline (a FIFO topic into a standard queue, a size
above the queue's, a filter on a field the pipeline does not carry) is refused by
the constructs themselves (``sqs_blueprint_cdk.inputs``) when the app is built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqs_blueprint_cdk.inputs._common import SNS_DEFAULT_MAX_MESSAGE_BYTES


@dataclass(frozen=True)
class TopicSpec:
    fifo: bool = False
    max_message_bytes: int = SNS_DEFAULT_MAX_MESSAGE_BYTES
    filter: Mapping[str, Any] | None = None
    filter_on: str = "attributes"


@dataclass(frozen=True)
class RuleSpec:
    pattern: Mapping[str, Any]
    bus: str = "default"
    input_path: str | None = None
    message_group_id: str | None = None
    retry_attempts: int = 185
    max_event_age_s: int = 86_400


@dataclass(frozen=True)
class BucketSpec:
    prefix: str | None = None
    suffix: str | None = None


InputSpec = TopicSpec | RuleSpec | BucketSpec
_KINDS: dict[str, tuple[type[InputSpec], dict[str, tuple[type, ...]]]] = {
    "topic": (
        TopicSpec,
        {"fifo": (bool,), "max_message_bytes": (int,), "filter": (dict,), "filter_on": (str,)},
    ),
    "rule": (
        RuleSpec,
        {
            "pattern": (dict,),
            "bus": (str,),
            "input_path": (str,),
            "message_group_id": (str,),
            "retry_attempts": (int,),
            "max_event_age_s": (int,),
        },
    ),
    "bucket": (BucketSpec, {"prefix": (str,), "suffix": (str,)}),
}


def parse_inputs(raw: Sequence[Mapping[str, Any]], path: str, errors: list[str]) -> list[InputSpec]:
    """The inputs at ``path`` as specs; each problem appended to ``errors``."""
    specs: list[InputSpec] = []
    for index, entry in enumerate(raw):
        where = f"{path}[{index}]"
        if not isinstance(entry, Mapping) or len(entry) != 1 or next(iter(entry)) not in _KINDS:
            errors.append(
                f"'{where}' must be an object with one key, one of {sorted(_KINDS)}, "
                f"got {dict(entry) if isinstance(entry, Mapping) else entry!r}"
            )
            continue
        ((kind, settings),) = entry.items()
        spec = _parse(kind, settings, f"{where}.{kind}", errors)
        if spec is not None:
            specs.append(spec)
    if sum(isinstance(spec, BucketSpec) for spec in specs) > 1:
        errors.append(f"'{path}' has more than one bucket: one bucket input per pipeline")
    return specs


def _parse(kind: str, settings: Any, where: str, errors: list[str]) -> InputSpec | None:
    cls, types = _KINDS[kind]
    if not isinstance(settings, Mapping):
        errors.append(f"'{where}' must be an object, got {settings!r}")
        return None
    count = len(errors)
    for key in sorted(set(settings) - set(types)):
        errors.append(f"unknown key '{where}.{key}'; allowed keys: {sorted(types)}")
    for key, value in settings.items():
        allowed = types.get(key)
        if allowed and (not isinstance(value, allowed) or _is_bool_for_int(value, allowed)):
            names = " or ".join(t.__name__ for t in allowed)
            errors.append(
                f"'{where}.{key}' must be {names.replace('dict', 'an object')}, got {value!r}"
            )
    if kind == "rule" and "pattern" not in settings:
        errors.append(f"'{where}.pattern' is required: the events this rule delivers")
    if len(errors) > count:
        return None
    return cls(**settings)


def _is_bool_for_int(value: Any, allowed: tuple[type, ...]) -> bool:
    return isinstance(value, bool) and bool not in allowed


def check_inputs(config: Any, path: str, errors: list[str]) -> None:
    """Check the ``inputs`` of every pipeline of a stage (a ``StageConfig``)."""
    blocks = {"write_buffer": config.write_buffer, "ordered": config.ordered}
    blocks.update({f"pipelines.{name}": block for name, block in config.pipelines.items()})
    for key, block in blocks.items():
        parse_inputs(block.inputs, f"{path}.{key}.inputs", errors)
