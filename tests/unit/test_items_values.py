"""Values at the edges of what DynamoDB stores: non-finite numbers, the range's ends,
JSON's constants, and what is not JSON at all (README, "The idempotency key")."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from sqs_blueprint.items import ItemError, canonical_json, parse_body, to_item

SMALLEST = "1E-130"
LARGEST = "9.9999999999999999999999999999999999999E+125"


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), float("-inf"), Decimal("NaN"), Decimal("-Infinity")]
)
def test_a_number_that_is_not_finite_is_refused(value: Any) -> None:
    with pytest.raises(ItemError, match="is not finite; DynamoDB stores finite numbers only"):
        to_item({"n": value})
    with pytest.raises(ItemError, match="is not finite"):
        canonical_json({"n": value})


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_constants_beyond_the_standard_are_refused(constant: str) -> None:
    with pytest.raises(
        ItemError, match=f"body is not valid JSON: {constant} is not a number DynamoDB can store"
    ):
        parse_body(f'{{"n": {constant}}}')


@pytest.mark.parametrize("text", [SMALLEST, LARGEST, f"-{SMALLEST}", f"-{LARGEST}"])
def test_the_ends_of_the_range_are_stored(text: str) -> None:
    item = to_item(parse_body(f'{{"n": {text}}}'))
    assert item["n"] == Decimal(text)
    assert canonical_json({"n": Decimal(text)}) == f'{{"n":{Decimal(text):f}}}'.encode()


@pytest.mark.parametrize("text", ["1E-131", "1E+126", "-9.9E-131"])
def test_just_beyond_the_range_is_refused(text: str) -> None:
    with pytest.raises(ItemError, match="is out of DynamoDB's range"):
        to_item(parse_body(f'{{"n": {text}}}'))


def test_json_constants_have_one_spelling() -> None:
    assert canonical_json({"f": False, "n": None, "t": True}) == b'{"f":false,"n":null,"t":true}'
    assert canonical_json([False, True, None]) == b"[false,true,null]"
    assert canonical_json(False) == b"false"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"a": object()}, "a object is not a JSON value"),
        ({"a": {1, 2}}, "a set is not a JSON value"),
        ({"a": b"bytes"}, "a bytes is not a JSON value"),
        ({1: "a"}, "object keys must be strings, got ['1']"),
        ({"x": {None: 1}}, "object keys must be strings, got ['None']"),
    ],
)
def test_what_is_not_json_has_no_key(value: Any, message: str) -> None:
    with pytest.raises(ItemError) as raised:
        canonical_json(value)
    assert str(raised.value).startswith(message)


def test_tuples_are_arrays() -> None:
    assert canonical_json({"a": (1, "b")}) == b'{"a":[1,"b"]}'


def _nested(levels: int) -> dict[str, Any]:
    """An object ``levels`` deep: the object itself is level 1, each list one more."""
    value: Any = []
    for _ in range(levels - 2):
        value = [value]
    return {"id": 1, "x": value}


def test_parse_body_refuses_more_than_32_levels() -> None:
    assert parse_body('{"x":' + "[" * 31 + "]" * 31 + "}")["x"] is not None
    with pytest.raises(ItemError, match="body nests arrays and objects more than 32 levels"):
        parse_body('{"x":' + "[" * 32 + "]" * 32 + "}")
    with pytest.raises(ItemError, match="more than 32 levels"):
        parse_body('{"x": [{"y": ' + "[" * 30 + "]" * 30 + "}]}")


def test_to_item_refuses_more_than_32_levels_even_outside_the_key() -> None:
    item = to_item(_nested(32), ["id"])
    depth, value = 1, item["x"]
    while isinstance(value, list) and value:
        depth, value = depth + 1, value[0]
    assert depth + 1 == 32
    with pytest.raises(ItemError, match="more than 32 levels"):
        to_item(_nested(33), ["id"])
    with pytest.raises(ItemError, match="more than 32 levels"):
        to_item({"id": 1, "m": {"k": _nested(32)}}, ["id"])


def test_to_item_checks_fields_outside_the_key_too() -> None:
    with pytest.raises(ItemError, match=r"lone surrogate U\+D800"):
        to_item({"id": 1, "s": "\ud800"}, ["id"])
    with pytest.raises(ItemError, match="has 39 significant digits"):
        to_item({"id": 1, "n": Decimal("1" * 39)}, ["id"])


def test_to_item_keeps_what_it_does_not_convert() -> None:
    item = to_item({"id": 1, "b": b"\x00\x01", "t": True, "z": None, "s": "é"}, ["id"])
    assert {k: item[k] for k in ("b", "t", "z", "s")} == {
        "b": b"\x00\x01",
        "t": True,
        "z": None,
        "s": "é",
    }
    assert item["t"] is True
