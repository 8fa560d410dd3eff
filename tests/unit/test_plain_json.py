"""The fast path of keys and items gives what the general canonical form gives."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqs_blueprint.items import canonical_json, item_key, parse_body, to_item


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
