"""The fast path of keys and items gives what the general canonical form gives."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqs_blueprint._plain_json import NotPlain, plain_canonical, plain_item
from sqs_blueprint.items import _item_values, _stored, canonical_json, item_key, parse_body, to_item


def _general_key(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


spelled_numbers = st.sampled_from(
    ["1", "1.0", "1e2", "100", "-0", "0.50", "12.5", "-3.25", "1E-7", "0.000001", "7"]
).map(Decimal)
strings = st.sampled_from(["", "a", "\x00", "\x0012\x00", "é", "\\u0000", '"', "\x0012"])
leaves = (
    st.none()
    | st.booleans()
    | spelled_numbers
    | st.integers(-(10**40), 10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | strings
    | st.text(max_size=4)
)
bodies = st.dictionaries(
    st.text(max_size=3) | strings,
    st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(strings, inner, max_size=3),
        max_leaves=8,
    ),
    max_size=5,
).filter(lambda body: "pk" not in body)


def _same_outcome(fast: Any, general: Any) -> None:
    try:
        expected: Any = general()
    except ValueError as error:
        expected = str(error)
    try:
        got: Any = fast()
    except ValueError as error:
        got = str(error)
    assert got == expected


@settings(max_examples=400)
@given(bodies)
def test_keys_and_errors_are_the_general_path_s(body: dict[str, Any]) -> None:
    _same_outcome(lambda: item_key(body), lambda: _general_key(body))
    try:  # to_item reports the first bad value in the body's order, the key in sorted order
        key = _general_key(body)
    except ValueError:
        with pytest.raises(ValueError):
            to_item(body)
    else:
        item = to_item(body)
        assert item.pop("pk") == key
        assert canonical_json(item) == canonical_json(body)


def test_a_string_that_looks_like_a_marked_number_is_a_string() -> None:
    assert item_key({"a": "\x0012\x00"}) != item_key({"a": 12})
    assert item_key({"a": "\x0012\x00"}) == _general_key({"a": "\x0012\x00"})
    assert to_item({"a": "\x0012\x00"})["a"] == "\x0012\x00"


# Bodies as parse_body gives them: numbers spelled as producers write them, strings with
# the fast path's mark (a lone surrogate) and other surrogates, non-ASCII, deep nesting.
number_texts = st.sampled_from(
    [
        *["0", "-0", "0.0", "10", "1e2", "77.0", "0.50", "82.94", "-1.25E-3", "1e-130"],
        *["1e-131", "9.99e125", "1e126", "1e400", "-1e400", "1.5e-10", "1e37", "1e40"],
        *["12345678901234567890123456789012345678", "123456789012345678901234567890123456789"],
    ]
)
json_strings = st.sampled_from(
    ["", "é", "Zoë", "\\ud800", "\\ud80012\\ud800", "\\udfff", "\\u0000", '\\"', "😀"]
)


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ",".join(map(_text, value)) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f'"{k}":{_text(v)}' for k, v in value.items()) + "}"
    return value if value[0] != "s" else f'"{value[1:]}"'


json_values = st.recursive(
    number_texts | json_strings.map("s".__add__) | st.sampled_from(["true", "null"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(json_strings, inner, max_size=4),
    max_leaves=12,
)


def _nested(levels: int) -> str:
    return '{"a":' + "[" * (levels - 1) + "1" + "]" * (levels - 1) + "}"


@settings(max_examples=400)
@given(st.dictionaries(json_strings, json_values, max_size=5) | st.integers(30, 34).map(_nested))
def test_parsed_bodies_get_the_general_path_s_key_item_and_error(body: Any) -> None:
    try:
        parsed = parse_body(body if isinstance(body, str) else _text(body))
    except ValueError:
        return
    if "pk" in parsed:
        return
    _same_outcome(lambda: item_key(parsed), lambda: _general_key(parsed))
    try:
        key = _general_key(parsed)
    except ValueError:
        with pytest.raises(ValueError):
            to_item(parsed)
    else:
        item = to_item(parsed)
        assert item.pop("pk") == key
        assert canonical_json(item) == canonical_json(parsed)


def test_a_string_that_looks_like_a_marked_number_under_the_surrogate_mark_is_refused() -> None:
    with pytest.raises(ValueError, match="lone surrogate"):
        item_key({"a": "\ud80012\ud800"})
    with pytest.raises(ValueError, match="lone surrogate"):
        to_item({"id": 1, "a": "\ud80012\ud800"}, ["id"])


def _general_only(levels: int, wrap: Any) -> dict[str, Any]:
    """A body ``levels`` deep whose innermost array is a tuple: the general path only."""
    value: Any = ()
    for _ in range(levels - 2):
        value = wrap(value)
    return {"a": value}


@pytest.mark.parametrize("wrap", [lambda v: (v,), lambda v: {"b": v}, lambda v: [v]])
def test_the_general_path_stores_32_levels_and_refuses_33(wrap: Any) -> None:
    assert len(item_key(_general_only(32, wrap))) == 64
    assert to_item(_general_only(32, wrap))["pk"] == item_key(_general_only(32, wrap))
    with pytest.raises(ValueError, match="more than 32 levels"):
        item_key(_general_only(33, wrap))
    with pytest.raises(ValueError, match="more than 32 levels"):
        to_item(_general_only(33, wrap))


# The fast path's own contract: a plain value is taken (no NotPlain), with the general
# path's key and item; anything else is handed over. A mutant that only hands over more
# than it should gives the same answers through the general path, so these check that
# the path is taken.
fast_numbers = (
    st.sampled_from(
        [
            *["0", "-0", "0.0", "10", "1e2", "77.0", "0.50", "82.94", "-1.25E-3", "1e37"],
            *["12345678901234567890123456789012345678", "-0.000001"],
        ]
    ).map(Decimal)
    | st.integers(-(10**37) + 1, 10**38 - 1)  # canonical: at most 38 characters
    | st.integers(-(10**8), 10**8).map(lambda cents: cents / 100)
)
fast_strings = st.text(st.characters(exclude_categories=["Cs"]), max_size=5)
fast_bodies = st.dictionaries(
    fast_strings,
    st.recursive(
        st.none() | st.booleans() | fast_numbers | fast_strings,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(fast_strings, inner, max_size=4)
        ),
        max_leaves=12,
    ),
    max_size=5,
)


def _taken(body: dict[str, Any]) -> None:
    """``body`` takes the fast path, with the general path's canonical form and item."""
    item, canonical = plain_item(body, _stored)
    assert canonical == canonical_json(body)
    assert plain_canonical(body, _stored) == canonical
    assert repr(item) == repr(_item_values(body, 0))  # Decimals compared as spelled


@settings(max_examples=300)
@given(fast_bodies)
def test_plain_bodies_take_the_fast_path(body: dict[str, Any]) -> None:
    _taken(body)


def _lists(levels: int, inner: Any) -> dict[str, Any]:
    """A body ``levels`` deep: ``inner`` in ``levels - 1`` nested lists."""
    for _ in range(levels - 1):
        inner = [inner]
    return {"a": inner}


@pytest.mark.parametrize(
    "body",
    [
        {"i": 10**38 - 1, "j": -(10**37) + 1},  # 38 characters, the sign counted
        {"s": "a", "d": Decimal(1), "b": True, "n": None, "i": 1, "f": 1.5, "l": [], "m": {}},
        _lists(32, 1),
        _lists(31, {"x": Decimal("2.50")}),  # records 32 deep, read at once
        _lists(30, [{"x": 1.0}, {"y": "z"}]),
    ],
    ids=["38 digits", "every plain type", "32 levels", "records at level 32", "records"],
)
def test_the_fast_path_takes_plain_values_to_the_limits(body: dict[str, Any]) -> None:
    _taken(body)


@pytest.mark.parametrize(
    "body",
    [
        {1: "a"},
        {"a": [{1: "b"}]},
        {"a": (1,)},
        {"a": "\ud800"},
        {"a": Decimal("1E+40")},
        {"a": Decimal("NaN")},
        _lists(33, 1),
        _lists(32, {"x": 1}),  # a record at level 33
        _lists(31, [{"x": "y"}]),  # records that hold only leaves, read at once
        OrderedDict(a=1),
        MappingProxyType({"a": 1}),
        {"i": 10**38, "j": 10**400},
    ],
    ids=[
        "int key",
        "int key in a record",
        "tuple",
        "lone surrogate",
        "exponent notation",
        "NaN",
        "33 levels",
        "record at level 33",
        "records at level 33",
        "OrderedDict",
        "mapping proxy",
        "39 digits",
    ],
)
def test_the_fast_path_hands_over_the_rest(body: dict[Any, Any]) -> None:
    with pytest.raises(NotPlain):
        plain_item(body, _stored)
    with pytest.raises(NotPlain):
        plain_canonical(body, _stored)
