"""The fast path of keys and items gives what the general canonical form gives."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqs_blueprint.items import canonical_json, item_key, to_item


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
