"""Lambda event filtering for SQS mappings: check a pattern, match a record.

One module serves both ends, so the local cloud never differs from AWS:
:class:`~sqs_blueprint_cdk.consumer.SqsLambdaConsumer` refuses at synth every
pattern :func:`problems` names, and the local runner applies the rest with
:func:`matches`. Pure Python (no moto).

Supported, as Lambda documents them (``limits.LAMBDA_FILTERING_URL``):
- a pattern is a JSON object whose one top-level key is ``body``: an SQS
  mapping filters on the body only (``limits.LAMBDA_SQS_FILTERING_URL``), and the
  body pattern is an object matched against a JSON body (a body that is not a
  JSON object matches no pattern);
- nested objects match nested fields; a leaf is a list of matchers, any of which
  may match (a list field matches when any of its elements does);
- matchers: exact values (string, number, ``true``/``false``, ``null``),
  ``{"prefix": "s"}``, ``{"numeric": [">", 0, "<=", 5]}``, ``{"exists": bool}``
  and ``{"anything-but": value or [values]}`` (strings or numbers).
Anything else (``suffix``, ``equals-ignore-case``, ``wildcard``, ``cidr``,
``$or``, ``anything-but`` with a nested matcher, ...) is refused, never
approximated. Records that match no filter are deleted without invoking.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqs_blueprint.errors import UsageError

_OPERATORS = ("<", "<=", "=", ">", ">=")
_MATCHERS = ("prefix", "numeric", "exists", "anything-but")


def problems(pattern: Any) -> list[str]:
    """What is wrong with one filter pattern, one line each (empty when usable)."""
    if not isinstance(pattern, Mapping) or not pattern:
        return ["a filter pattern must be a non-empty JSON object such as {'body': {...}}"]
    found = [
        f"key {key!r}: an SQS mapping filters on 'body' only (Lambda ignores other keys)"
        for key in pattern
        if key != "body"
    ]
    body = pattern.get("body")
    if "body" in pattern and not (isinstance(body, Mapping) and body):
        found.append("'body' must be a non-empty object of field patterns, e.g. {'type': ['a']}")
    elif isinstance(body, Mapping):
        found += _object_problems(body, "body")
    return found


def _object_problems(node: Mapping[str, Any], path: str) -> list[str]:
    found: list[str] = []
    for key, value in node.items():
        where = f"{path}.{key}"
        if key.startswith("$"):
            found.append(f"{where}: '{key}' is not supported here; write one filter per branch")
        elif isinstance(value, Mapping):
            found += _object_problems(value, where) if value else [f"{where}: empty object matches"]
        elif isinstance(value, list) and value:
            found += [p for m in value for p in _matcher_problems(m, where)]
        else:
            found.append(f"{where}: must be a non-empty list of matchers or a nested object")
    return found


def _matcher_problems(matcher: Any, where: str) -> list[str]:
    if _is_exact(matcher):
        return []
    if not isinstance(matcher, Mapping) or len(matcher) != 1:
        return [f"{where}: {matcher!r} is not a value or a one-key matcher object"]
    ((name, arg),) = matcher.items()
    if name not in _MATCHERS:
        return [f"{where}: matcher {name!r} is not supported; use one of {list(_MATCHERS)}"]
    ok = {
        "prefix": isinstance(arg, str),
        "exists": isinstance(arg, bool),
        "numeric": _numeric_ok(arg),
        "anything-but": _exact_list(arg) if isinstance(arg, list) else _exact_scalar(arg),
    }[name]
    return [] if ok else [f"{where}: invalid {name!r} argument {arg!r}"]


def _is_exact(value: Any) -> bool:
    return value is None or isinstance(value, bool) or _exact_scalar(value)


def _exact_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _exact_list(values: list[Any]) -> bool:
    return bool(values) and all(_exact_scalar(v) for v in values)


def _numeric_ok(arg: Any) -> bool:
    if not isinstance(arg, list) or len(arg) not in (2, 4):
        return False
    pairs = [arg[i : i + 2] for i in range(0, len(arg), 2)]
    return all(op in _OPERATORS and _is_number(n) for op, n in pairs) and (
        len(pairs) == 1 or "=" not in (pairs[0][0], pairs[1][0])
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class FilterPatternError(UsageError):
    """A mapping's filter pattern that the local cloud cannot apply as Lambda would."""


def parse_criteria(criteria: Mapping[str, Any] | None) -> tuple[dict[str, Any], ...]:
    """The patterns of a mapping's ``FilterCriteria``; refuses what :func:`problems` names."""
    patterns = []
    for entry in (criteria or {}).get("Filters") or []:
        text = entry.get("Pattern", "")
        try:
            pattern = json.loads(text)
        except ValueError:
            pattern = text
        found = problems(pattern)
        if found:
            raise FilterPatternError(
                f"filter pattern {text!r} cannot be applied locally as Lambda would: "
                f"{'; '.join(found)}; fix: build the mapping with SqsLambdaConsumer(filters=...), "
                "which accepts only the syntax this module applies"
            )
        patterns.append(pattern)
    return tuple(patterns)


def matches(pattern: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    """Whether one Lambda SQS record (``body`` a string) matches a valid pattern."""
    try:
        body = json.loads(record.get("body") or "")
    except ValueError:
        return False
    return isinstance(body, dict) and _match_object(pattern["body"], body)


def matches_any(patterns: Sequence[Mapping[str, Any]], record: Mapping[str, Any]) -> bool:
    """Filters are ORed; a mapping without filters passes every record."""
    return not patterns or any(matches(p, record) for p in patterns)


_MISSING = object()


def _match_object(pattern: Mapping[str, Any], node: Any) -> bool:
    fields = node if isinstance(node, dict) else {}
    for key, sub in pattern.items():
        value = fields.get(key, _MISSING)
        if isinstance(sub, Mapping):
            if not _match_object(sub, {} if value is _MISSING else value):
                return False
        elif not any(_match_leaf(m, value) for m in sub):
            return False
    return True


def _match_leaf(matcher: Any, value: Any) -> bool:
    if isinstance(matcher, Mapping) and "exists" in matcher:
        return (value is not _MISSING) is matcher["exists"]
    if isinstance(value, list):
        return any(_match_leaf(matcher, v) for v in value)
    if not isinstance(matcher, Mapping):
        return _same(matcher, value)
    ((name, arg),) = matcher.items()
    if name == "prefix":
        return isinstance(value, str) and value.startswith(arg)
    if name == "numeric":
        return _is_number(value) and all(
            _compare(value, arg[i], arg[i + 1]) for i in range(0, len(arg), 2)
        )
    excluded = arg if isinstance(arg, list) else [arg]
    return (isinstance(value, str) or _is_number(value)) and not any(
        _same(x, value) for x in excluded
    )


def _same(expected: Any, value: Any) -> bool:
    """Equal in JSON terms: numbers by value, never a bool for a number or the reverse."""
    if _is_number(expected) and _is_number(value):
        return float(expected) == float(value)
    return type(expected) is type(value) and bool(expected == value)


def _compare(value: float, op: str, bound: float) -> bool:
    return {
        "<": value < bound,
        "<=": value <= bound,
        "=": value == bound,
        ">": value > bound,
        ">=": value >= bound,
    }[op]
