"""The fast path of :mod:`sqs_blueprint.items` for plain JSON values.

A value made only of dicts with str keys, lists, str, bool, None, ints, floats and
Decimals is copied once, each container by the C copy after one look at the types
it holds, its numbers as DynamoDB stores them. When every stored number is spelled
canonically (as :func:`~sqs_blueprint.items.parse_body` gives ``12.5`` or ``3``),
its canonical JSON is written by the C encoder, each number as a string between two
marks whose quotes and marks are then removed. The mark is a lone surrogate, which
no string of a plain value holds (they are checked to be valid UTF-8), so it cannot
be forged. Anything else raises :class:`NotPlain`, and the general path in
``items`` decides, so keys, items and errors are the same either way.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from itertools import chain
from operator import countOf
from typing import Any

from sqs_blueprint.limits import DYNAMODB_MAX_NESTING_DEPTH as MAX_DEPTH

__all__ = ["NotPlain", "plain_canonical", "plain_item", "plain_key"]

Stored = Callable[[float | Decimal], Decimal]


class NotPlain(Exception):
    """The value needs the general path: a rare form, or an error to report."""


# Canonical positional spelling in at most 38 characters: at most 38 digits, so within
# DynamoDB's range (docs/aws-facts.md#dynamodb).
_CANONICAL_NUMBER = (
    r"(?=[-.0-9]{1,38}(?![-.0-9]))(?:-?(?:0\.[0-9]*[1-9]|[1-9][0-9]*(?:\.[0-9]*[1-9])?)|0)"
)
_ONE_CANONICAL = re.compile(_CANONICAL_NUMBER)
_ALL_CANONICAL = re.compile(f"(?:{_CANONICAL_NUMBER}(?:,{_CANONICAL_NUMBER})*)?")
# In numbers joined by commas: each one not spelled canonically, found in one pass.
_NOT_CANONICAL = re.compile(f"(?<![^,])(?!(?:{_CANONICAL_NUMBER})(?![^,]))[^,]+")

_LEAVES = frozenset({str, Decimal, bool, type(None)})  # kept as they are
_CONVERTED = frozenset({int, float})  # become Decimals
_CONTAINERS = frozenset({dict, list})
_PLAIN = _LEAVES | _CONVERTED | _CONTAINERS
_DICTS = frozenset({dict})

_MARK = "\ud800"  # a lone surrogate: never in a checked string
_ENCODE = json.JSONEncoder(
    ensure_ascii=False,
    separators=(",", ":"),
    sort_keys=True,
    check_circular=False,
    default=f"{_MARK}{{!s}}{_MARK}".format,  # a Decimal as its spelling between marks
).encode


def _copy(value: Any, level: int, stored: Stored, numbers: list[int]) -> Any:
    """A copy of one container and those in it; ``numbers[0]`` counts the Decimals."""
    if level > MAX_DEPTH:
        raise NotPlain
    if type(value) is dict:
        try:
            "".join(value)
        except TypeError:  # a key that is not a str
            raise NotPlain from None
        values: Any = value.values()
    else:
        values = value
    kinds = set(map(type, values))
    if Decimal in kinds:
        numbers[0] += countOf(map(type, values), Decimal)
    out = value.copy()
    if kinds <= _LEAVES:
        return out
    if not kinds <= _PLAIN:
        raise NotPlain
    if kinds == _DICTS and type(value) is list and level < MAX_DEPTH:
        records = _leaf_dicts(value, numbers)  # an array of records, all at once
        if records is not None:
            return records
    for name, element in out.items() if type(out) is dict else enumerate(value):
        kind = type(element)
        if kind is dict or kind is list:
            out[name] = _copy(element, level + 1, stored, numbers)
        elif kind is int:  # exact; one too long for DynamoDB fails the spelling check
            out[name] = Decimal(element)
            numbers[0] += 1
        elif kind is float:
            out[name] = stored(element)
            numbers[0] += 1
    return out


def _leaf_dicts(value: list[dict[Any, Any]], numbers: list[int]) -> list[Any] | None:
    """Copies of dicts that hold no container, or None if one does."""
    try:
        "".join(chain.from_iterable(value))
    except TypeError:  # a key that is not a str
        raise NotPlain from None
    values = list(chain.from_iterable(map(dict.values, value)))
    kinds = set(map(type, values))
    if not kinds <= _LEAVES:
        return None
    if Decimal in kinds:
        numbers[0] += countOf(map(type, values), Decimal)
    return list(map(dict.copy, value))


def _respell(value: Any, stored: Stored, spelled_otherwise: frozenset[Decimal]) -> None:
    """Store each number equal to one of ``spelled_otherwise`` as DynamoDB stores it
    (an equal number spelled canonically is stored as it is spelled)."""
    for name, element in value.items() if type(value) is dict else enumerate(value):
        kind = type(element)
        if kind is dict or kind is list:
            _respell(element, stored, spelled_otherwise)
        elif kind is Decimal and element in spelled_otherwise:
            value[name] = stored(element)


def _respelled(number: str, stored: Stored) -> str:
    """The canonical spelling of a number spelled ``number`` otherwise."""
    number = str(stored(Decimal(number)))
    if not _ONE_CANONICAL.fullmatch(number):
        raise NotPlain  # stored in exponent notation (1E+40, 1.5E-10)
    return number


def _unmarked(text: str) -> bytes:
    """The canonical JSON: numbers unquoted, as UTF-8 (:class:`NotPlain` for a lone surrogate)."""
    try:
        return text.replace('"' + _MARK, "").replace(_MARK + '"', "").encode("utf-8")
    except UnicodeEncodeError:
        raise NotPlain from None


def _encoded(copy: dict[str, Any], numbers: int, stored: Stored) -> tuple[str, frozenset[Decimal]]:
    """The marked canonical JSON of a :func:`_copy` holding ``numbers`` Decimals, and
    the numbers in it that were respelled (the copy still holds their spelling)."""
    text = _ENCODE(copy)
    parts = text.split(_MARK)
    if len(parts) != 2 * numbers + 1:
        raise NotPlain  # a string holds the mark, a lone surrogate
    spelled = ",".join(parts[1::2])
    if _ALL_CANONICAL.fullmatch(spelled):
        return text, frozenset()
    otherwise: list[str] = []

    def respelled(found: re.Match[str]) -> str:
        otherwise.append(found[0])
        return _respelled(found[0], stored)

    parts[1::2] = _NOT_CANONICAL.sub(respelled, spelled).split(",")
    return _MARK.join(parts), frozenset(map(Decimal, otherwise))


def plain_item(value: Mapping[str, Any], stored: Stored) -> tuple[dict[str, Any], bytes]:
    """A copy of a JSON object of plain types, each number as ``stored`` gives it, and
    the copy's canonical JSON."""
    copy, numbers = _checked_copy(value, stored)
    text, spelled_otherwise = _encoded(copy, numbers, stored)
    if spelled_otherwise:
        _respell(copy, stored, spelled_otherwise)
    return copy, _unmarked(text)


def plain_canonical(value: Mapping[str, Any], stored: Stored) -> bytes:
    """The canonical JSON :func:`plain_item` gives for ``value``, without the copy."""
    copy, numbers = _checked_copy(value, stored)
    return _unmarked(_encoded(copy, numbers, stored)[0])


def _checked_copy(value: Mapping[str, Any], stored: Stored) -> tuple[dict[str, Any], int]:
    """:func:`_copy` of a JSON object, and how many Decimals the copy holds."""
    if type(value) is not dict:
        raise NotPlain
    numbers = [0]
    copy: dict[str, Any] = _copy(value, 1, stored, numbers)
    return copy, numbers[0]


def plain_key(part: Mapping[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of a part of a :func:`plain_item` copy."""
    return hashlib.sha256(_unmarked(_ENCODE(part))).hexdigest()
