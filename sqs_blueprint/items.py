"""Items from JSON bodies: the exact canonical form, hash keys, DynamoDB encoding and size.

A body (a JSON object) becomes one item keyed by ``pk``, the SHA-256 of the
canonical JSON of the body or of its key fields (see :func:`canonical_json`).
Whatever DynamoDB could not store fails that body alone, as an :class:`ItemError`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal, Inexact
from json.encoder import encode_basestring
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from sqs_blueprint._plain_json import NotPlain, plain_canonical, plain_item, plain_key
from sqs_blueprint.errors import SqsBlueprintError
from sqs_blueprint.limits import (
    DYNAMODB_MAX_ITEM_KB,
    DYNAMODB_MAX_NUMBER_MAGNITUDE,
    DYNAMODB_MIN_NUMBER_MAGNITUDE,
)
from sqs_blueprint.limits import DYNAMODB_MAX_NESTING_DEPTH as MAX_DEPTH
from sqs_blueprint.limits import DYNAMODB_MAX_NUMBER_DIGITS as MAX_DIGITS

__all__ = [
    "KEY_ATTRIBUTE",
    "MAX_DEPTH",
    "MAX_DIGITS",
    "MAX_ITEM_BYTES",
    "MAX_MAGNITUDE",
    "MIN_MAGNITUDE",
    "ItemError",
    "canonical_json",
    "item_key",
    "item_size",
    "parse_body",
    "serialize",
    "to_item",
]

KEY_ATTRIBUTE = "pk"
MAX_ITEM_BYTES = DYNAMODB_MAX_ITEM_KB * 1024  # docs/aws-facts.md#dynamodb: item size

_serializer = TypeSerializer()


class ItemError(SqsBlueprintError, ValueError):
    """A record cannot become an item; it fails alone."""


# The smallest and largest non-zero magnitudes DynamoDB stores (docs/aws-facts.md#dynamodb).
MIN_MAGNITUDE = Decimal(DYNAMODB_MIN_NUMBER_MAGNITUDE)
MAX_MAGNITUDE = Decimal(DYNAMODB_MAX_NUMBER_MAGNITUDE)


def _too_deep() -> ItemError:
    return ItemError(
        f"body nests arrays and objects more than {MAX_DEPTH} levels deep (the body object is "
        f"level 1); DynamoDB stores nested attributes up to {MAX_DEPTH} levels: flatten the body"
    )


# Exact arithmetic up to DynamoDB's 38 digits: normalizing a number with more
# significant digits signals Inexact; exponents are not limited here, the range is
# checked against DynamoDB's own bounds.
_EXACT = Context(prec=MAX_DIGITS, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[Inexact])
_ZERO, _ONE = Decimal(0), Decimal(1)


def _number(value: int | float | Decimal) -> Decimal:
    """The value as a Decimal without trailing zeros; refuses what DynamoDB cannot store."""
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise ItemError(f"number {value!r} is not finite; DynamoDB stores finite numbers only")
    if not number:
        return _ZERO  # 0, -0, 0.0 and 0e5 are one value
    try:
        number = number.normalize(_EXACT)
    except Inexact:
        digits = len("".join(map(str, number.as_tuple().digits)).strip("0"))
        raise ItemError(
            f"number {_text(number)} has {digits} significant digits; DynamoDB stores at "
            f"most {MAX_DIGITS}: send it as a string"
        ) from None
    if not MIN_MAGNITUDE <= number.copy_abs() <= MAX_MAGNITUDE:
        raise ItemError(
            f"number {number} is out of DynamoDB's range: magnitudes from {MIN_MAGNITUDE} to "
            f"{MAX_MAGNITUDE}, or 0: send it as a string"
        )
    return number


def _text(number: Decimal) -> str:
    """Positional notation: no exponent, no trailing zeros after the point (once normalized)."""
    return format(number, "f")


def _string(value: str) -> str:
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            code = ord(value[error.start])
            raise ItemError(
                f"string {value[:40]!r} holds a lone surrogate U+{code:04X}, which is not valid "
                "UTF-8 and cannot be stored in DynamoDB: fix the producer's text encoding"
            ) from error
    return encode_basestring(value)


def _canonical(value: Any, depth: int, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, int | float | Decimal):
        out.append(_text(_number(value)))
    elif isinstance(value, Mapping | list | tuple):
        if depth >= MAX_DEPTH:
            raise _too_deep()
        if isinstance(value, Mapping):
            _canonical_object(value, depth + 1, out)
            return
        out.append("[")
        for position, element in enumerate(value):
            out.append("," if position else "")
            _canonical(element, depth + 1, out)
        out.append("]")
    else:
        raise ItemError(f"a {type(value).__name__} is not a JSON value: {value!r:.80}")


def _canonical_object(value: Mapping[Any, Any], depth: int, out: list[str]) -> None:
    if not all(isinstance(name, str) for name in value):
        raise ItemError(f"object keys must be strings, got {sorted(map(repr, value))[:5]}")
    out.append("{")
    for position, name in enumerate(sorted(value)):
        out.append(("," if position else "") + _string(name) + ":")
        _canonical(value[name], depth, out)
    out.append("}")


def canonical_json(value: Any) -> bytes:
    """The canonical form of a JSON value, as UTF-8 bytes: equal values, equal bytes.

    Two values get the same bytes exactly when DynamoDB would store them as the
    same value, so a key derived from these bytes is value-exact:

    - objects: members sorted by key, compared by Unicode code point; keys are
      strings; ``{``, ``}``, ``:`` and ``,`` with no whitespace; a key repeated in
      one JSON object keeps its last value (as the parser does);
    - arrays: elements in their order, ``[``, ``]`` and ``,`` with no whitespace;
    - strings: JSON string literals with ``"`` and ``\\`` escaped, control
      characters U+0000 to U+001F as ``\\b \\f \\n \\r \\t`` or ``\\u00xx``, every
      other character as itself in UTF-8 (``"é"`` and ``"\\u00e9"`` are one
      string); a lone surrogate is refused;
    - numbers: by value, in positional notation without exponent, leading zeros,
      trailing fractional zeros or a point when integral: ``1``, ``1.0`` and
      ``1e0`` are ``1``; ``100`` and ``1e2`` are ``100``; ``0.50`` is ``0.5``;
      ``-0`` is ``0`` (DynamoDB has no negative zero); integers and decimals of
      equal value are one number; a Python float counts as its shortest
      repr (``0.1`` is ``0.1``). Numbers DynamoDB cannot store are refused:
      more than 38 significant digits, or a magnitude outside 1E-130 to
      9.9999999999999999999999999999999999999E+125, NaN or Infinity;
    - ``true``, ``false`` and ``null`` as themselves; booleans are not numbers;
    - nesting: at most 32 levels of arrays and objects, the outer value counting
      as level 1, DynamoDB's own limit for nested attributes.
    """
    out: list[str] = []
    _canonical(value, 0, out)
    return "".join(out).encode("utf-8")


def _key_fields(obj: Mapping[str, Any], fields: Sequence[str] | None) -> Mapping[str, Any]:
    """The part of ``obj`` its key is made of: ``fields`` (all of it if None)."""
    if not fields:
        return obj
    missing = [name for name in fields if name not in obj]
    if missing:
        raise ItemError(
            f"body has no key field {missing[0]!r} (key fields: {list(fields)}, "
            f"body fields: {sorted(obj)[:20]})"
        )
    return {name: obj[name] for name in fields}


def item_key(obj: Mapping[str, Any], fields: Sequence[str] | None = None) -> str:
    """SHA-256 hex of :func:`canonical_json` of ``fields`` of ``obj`` (all of it if None)."""
    obj = _key_fields(obj, fields)
    try:
        return hashlib.sha256(plain_canonical(obj, _stored)).hexdigest()
    except NotPlain:
        return hashlib.sha256(canonical_json(obj)).hexdigest()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number DynamoDB can store")


def parse_body(body: str) -> dict[str, Any]:
    """A JSON object with every number as a Decimal; anything else is an :class:`ItemError`.

    Arrays and objects may nest :data:`MAX_DEPTH` levels (the body object is level 1).
    """
    try:
        value = json.loads(
            body, parse_float=Decimal, parse_int=Decimal, parse_constant=_reject_constant
        )
    except RecursionError:
        raise _too_deep() from None
    except ArithmeticError:  # decimal: an exponent beyond what any Decimal holds
        raise ItemError(
            f"body has a number with an exponent out of DynamoDB's range (magnitudes from "
            f"{MIN_MAGNITUDE} to {MAX_MAGNITUDE}, or 0): send it as a string"
        ) from None
    except ValueError as error:
        raise ItemError(f"body is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise ItemError(f"body must be a JSON object, got a JSON {type(value).__name__}")
    _check_depth(value)
    return value


def _check_depth(value: dict[str, Any]) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH`, without recursion."""
    level: list[Any] = [value]
    for _ in range(MAX_DEPTH):
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, dict | list)
        ]
        if not level:
            return
    raise _too_deep()


def _dynamodb_number(number: Decimal) -> Decimal:
    """The Decimal to store: integers up to 38 digits written out (``100``, not ``1E+2``)."""
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0 and number.adjusted() < MAX_DIGITS:
        return number.quantize(_ONE, context=_EXACT)
    return number


def _item_values(value: Any, depth: int) -> Any:
    """Numbers as checked Decimals, strings checked for UTF-8, nesting checked."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float | Decimal):
        return _dynamodb_number(_number(value))
    if isinstance(value, str):
        _string(value)
        return value
    if isinstance(value, Mapping | list | tuple):
        if depth >= MAX_DEPTH:
            raise _too_deep()
        if isinstance(value, Mapping):
            return {_item_values(k, depth): _item_values(v, depth + 1) for k, v in value.items()}
        return [_item_values(v, depth + 1) for v in value]
    return value


def _stored(value: float | Decimal) -> Decimal:
    """The Decimal DynamoDB stores for ``value``; :class:`NotPlain` when it cannot."""
    try:
        return _dynamodb_number(_number(value))
    except ItemError:
        raise NotPlain from None


def to_item(obj: Mapping[str, Any], key_fields: Sequence[str] | None = None) -> dict[str, Any]:
    """The item for ``obj``: its fields, numbers as DynamoDB Decimals, plus the hash key ``pk``."""
    if KEY_ATTRIBUTE in obj:
        raise ItemError(
            f"body has a top-level field {KEY_ATTRIBUTE!r}, which is the table's partition key; "
            "rename the field"
        )
    try:  # the fast path for plain values; the general one for the rest and every error
        item, canonical = plain_item(obj, _stored)
        key = plain_key(_key_fields(item, key_fields)) if key_fields else None
        item[KEY_ATTRIBUTE] = key or hashlib.sha256(canonical).hexdigest()
    except NotPlain:
        item = _item_values(obj, 0)
        item[KEY_ATTRIBUTE] = item_key(obj, key_fields)
    return item


def _size(value: Mapping[str, Any]) -> int:
    """Bytes of one AttributeValue, by DynamoDB's item size rules (docs/aws-facts.md#dynamodb)."""
    (kind, inner), *_ = value.items()
    if kind == "S":
        return len(inner.encode("utf-8"))
    if kind == "B":
        return len(inner)
    if kind == "N":
        mantissa = inner.lstrip("-").upper().partition("E")[0]  # 1E+2 is one digit
        digits = mantissa.replace(".", "").strip("0") or "0"  # zeros trimmed both sides
        return (len(digits) + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(_size(v) + 1 for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + _size(v) + 1 for k, v in inner.items())
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in inner)
    if kind == "NS":
        return sum(_size({"N": n}) for n in inner)
    return sum(len(b) for b in inner)  # BS


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """Bytes of a serialized item: attribute names plus values (docs/aws-facts.md#dynamodb)."""
    return sum(len(name.encode("utf-8")) + _size(value) for name, value in item.items())


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    """Serialize a Python item to DynamoDB's AttributeValue map, checking the 400 KB limit."""
    try:
        out = {name: _serializer.serialize(value) for name, value in item.items()}
    except (TypeError, ValueError, ArithmeticError) as error:
        raise ItemError(f"item cannot be stored in DynamoDB: {error!r}") from error
    size = item_size(out)
    if size > MAX_ITEM_BYTES:
        raise ItemError(f"item is {size:,} bytes, over DynamoDB's limit of {MAX_ITEM_BYTES:,}")
    return out
