"""Parse the ``sqs-blueprint`` context block: merge a stage over ``shared``, apply
the ``-c`` overrides, turn the result into :class:`StageConfig` and check it.

Unknown stages and keys and values of the wrong type are all reported at once,
each with the path of its key.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from stacks.config.checks import check_stage
from stacks.config.model import ConfigError, StageConfig

CONTEXT_KEY = "sqs-blueprint"
DEFAULT_STAGE = "dev"
OVERRIDES = ("account", "region", "alarms_to")

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
        config = check_stage(config, f"{where}.stages.{name}", errors)
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
