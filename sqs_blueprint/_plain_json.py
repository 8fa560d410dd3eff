"""The fast path of :mod:`sqs_blueprint.items` for plain JSON values.

A value made only of dicts with str keys, lists, str, bool, None, ints, floats and
Decimals is copied once, its numbers as DynamoDB stores them; when every number
is spelled canonically (as :func:`~sqs_blueprint.items.parse_body` gives ``12.5``
or ``3``), its canonical JSON is written by the C encoder, each number as a
marked string whose marks are then removed. Anything else raises
:class:`NotPlain`, and the general path in ``items`` decides, so keys, items and
errors are the same either way.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from sqs_blueprint.limits import DYNAMODB_MAX_NESTING_DEPTH as MAX_DEPTH
from sqs_blueprint.limits import DYNAMODB_MAX_NUMBER_DIGITS as MAX_DIGITS

__all__ = ["NotPlain", "plain_copy", "plain_key"]

Stored = Callable[[float | Decimal], Decimal]


class NotPlain(Exception):
    """The value needs the general path: a rare form, or an error to report."""


_INT_LIMIT = 10**MAX_DIGITS  # an int below it in magnitude is stored as it is
# Canonical positional spelling in at most 38 characters: at most 38 digits, so within
# DynamoDB's range (docs/aws-facts.md#dynamodb).
_CANONICAL_NUMBER = (
    r"(?=[-.0-9]{1,38}(?![-.0-9]))(?:-?(?:0\.[0-9]*[1-9]|[1-9][0-9]*(?:\.[0-9]*[1-9])?)|0)"
)
_ONE_CANONICAL = re.compile(_CANONICAL_NUMBER)
_ALL_CANONICAL = re.compile(f"(?:{_CANONICAL_NUMBER}(?:\x00{_CANONICAL_NUMBER})*)?")
_MARK = "\\u0000"  # how the C encoder writes the mark U+0000
_MARKED_NUMBER = re.compile(rf'"\\u0000{_CANONICAL_NUMBER}\\u0000"')
_ENCODE = json.JSONEncoder(
    ensure_ascii=False,
    separators=(",", ":"),
    sort_keys=True,
    check_circular=False,
    default="\x00{}\x00".format,  # a Decimal as its spelling between marks
).encode


def _check_string(value: str) -> None:
    """Refuse a mark (a string could pass for a number) and lone surrogates."""
    if "\x00" in value:
        raise NotPlain
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise NotPlain from None


def _copy(value: Any, level: int, stored: Stored, numbers: list[tuple[Any, Any]]) -> Any:
    if level > MAX_DEPTH:
        raise NotPlain
    out: Any
    pairs: Any
    if type(value) is dict:
        try:
            names = "".join(value)
        except TypeError:  # a key that is not a str
            raise NotPlain from None
        if not names.isascii() or "\x00" in names:
            _check_string(names)
        out, pairs = {}, value.items()
    else:
        out, pairs = [None] * len(value), enumerate(value)
    for name, element in pairs:
        kind = type(element)
        if kind is str:
            if not element.isascii() or "\x00" in element:
                _check_string(element)
        elif kind is Decimal:
            numbers.append((out, name))
        elif kind is dict or kind is list:
            element = _copy(element, level + 1, stored, numbers)
        elif kind is int:
            if not -_INT_LIMIT < element < _INT_LIMIT:
                raise NotPlain
            element = Decimal(element)
        elif kind is float:
            element = stored(element)
        elif not (kind is bool or element is None):
            raise NotPlain
        out[name] = element
    return out


def plain_copy(value: Mapping[str, Any], stored: Stored) -> dict[str, Any]:
    """A copy of a JSON object of plain types, each number as ``stored`` gives it."""
    if type(value) is not dict:
        raise NotPlain
    numbers: list[tuple[Any, Any]] = []
    copy: dict[str, Any] = _copy(value, 1, stored, numbers)
    if not _ALL_CANONICAL.fullmatch("\x00".join([str(c[name]) for c, name in numbers])):
        for container, name in numbers:
            if not _ONE_CANONICAL.fullmatch(str(container[name])):
                container[name] = stored(container[name])
    return copy


def plain_key(value: Mapping[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of a :func:`plain_copy`."""
    text = _ENCODE(value)
    if text.count(_MARK) != 2 * len(_MARKED_NUMBER.findall(text)):
        raise NotPlain  # a number stored in exponent notation
    text = text.replace('"' + _MARK, "").replace(_MARK + '"', "")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
