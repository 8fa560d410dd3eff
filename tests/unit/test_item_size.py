"""Item size against DynamoDB's documented rules, computed here independently.

The rules (docs/aws-facts.md#dynamodb, "item sizes"): an item's size is the sum of
its attribute names' and values' sizes; a string or a name is its UTF-8 length, a
binary its length, a number about one byte per two significant digits (leading and
trailing zeros trimmed) plus one, a boolean or null one byte, a list or a map 3 bytes
plus one per element (a map's element also counts its name), a set the sum of its
elements. At most 409,600 bytes; one WCU per 1,024 bytes, rounded up.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sqs_blueprint.items import ItemError, item_size, serialize, to_item
from sqs_blueprint.upsert import Upserter
from tests.unit.tables import create_table

LIMIT = 409_600  # 400 KB


def documented_size(value: Any) -> int:
    """One value's size by the rules above, from the Python value (not its wire form)."""
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, int | Decimal):
        digits = "".join(map(str, Decimal(value).as_tuple().digits)).strip("0") or "0"
        return math.ceil(len(digits) / 2) + 1  # zeros trimmed both sides
    if isinstance(value, list):
        return 3 + sum(documented_size(v) + 1 for v in value)
    if isinstance(value, dict):
        return 3 + sum(len(k.encode("utf-8")) + documented_size(v) + 1 for k, v in value.items())
    assert isinstance(value, set | frozenset)
    return sum(documented_size(v) for v in value)


def documented_item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode("utf-8")) + documented_size(v) for name, v in item.items())


TEXT = st.text(st.characters(codec="utf-8"), max_size=8)
NUMBERS = st.integers(-(10**38) + 1, 10**38 - 1).map(Decimal) | st.decimals(
    allow_nan=False, allow_infinity=False, places=6, min_value=-(10**12), max_value=10**12
)
SCALARS = st.none() | st.booleans() | TEXT | NUMBERS | st.binary(max_size=8)
SETS = (
    st.frozensets(TEXT, min_size=1, max_size=4)
    | st.frozensets(st.integers(-(10**9), 10**9).map(Decimal), min_size=1, max_size=4)
    | st.frozensets(st.binary(min_size=1, max_size=4), min_size=1, max_size=4)
)
VALUES = st.recursive(
    SCALARS | SETS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(TEXT.filter(bool), VALUES, min_size=1, max_size=5))
def test_item_size_follows_the_documented_rules(item: dict[str, Any]) -> None:
    assert item_size(serialize(item)) == documented_item_size(item)


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("", 0),
        ("a", 1),
        ("é", 2),  # two UTF-8 bytes, one character
        ("€", 3),
        ("😀", 4),
        (b"\x00\x01\x02", 3),
        (True, 1),
        (False, 1),
        (None, 1),
        (Decimal("0"), 2),
        (Decimal("7"), 2),
        (Decimal("12"), 2),
        (Decimal("123"), 3),
        (Decimal("-123"), 3),
        (Decimal("10"), 2),  # trailing zeros are trimmed
        (Decimal("100"), 2),
        (Decimal("1E+2"), 2),
        (Decimal("0.001"), 2),  # leading zeros are trimmed
        (Decimal("1.5"), 2),
        (Decimal("12345678901234567890123456789012345678"), 20),
        ([], 3),
        (["a", "b"], 3 + 2 + 2),
        ({}, 3),
        ({"ab": "c"}, 3 + 2 + 1 + 1),
        ({"é": [None]}, 3 + 2 + 5 + 1),
        ({"a", "bc"}, 3),
        ({Decimal(1), Decimal(100)}, 4),
        ({b"ab", b"c"}, 3),
    ],
)
def test_value_size_vectors(value: Any, size: int) -> None:
    assert item_size(serialize({"x": value})) == 1 + size
    assert item_size(serialize({"é": value})) == 2 + size  # names count their UTF-8 bytes


def test_the_limit_is_409600_bytes_exactly() -> None:
    at_limit = {"pk": "x" * (LIMIT - 2)}
    assert item_size(serialize(at_limit)) == LIMIT
    with pytest.raises(ItemError, match="item is 409,601 bytes, over DynamoDB's limit of 409,600"):
        serialize({"pk": "x" * (LIMIT - 1)})
    with pytest.raises(ItemError, match="item is 409,601 bytes"):
        serialize({"pk": "é" * (LIMIT // 2 - 1) + "x"})  # 2 bytes a character


def test_values_boto3_cannot_serialize_are_item_errors() -> None:
    with pytest.raises(ItemError, match="item cannot be stored in DynamoDB"):
        serialize({"pk": "k", "f": 1.5})  # a float: boto3 wants Decimals
    with pytest.raises(ItemError, match="item cannot be stored in DynamoDB"):
        serialize({"pk": "k", "o": object()})


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.mark.parametrize(
    ("size", "wcu"),
    [(67, 1), (1024, 1), (1025, 2), (2048, 2), (2049, 3), (10_240, 10), (10_241, 11)],
)
def test_a_write_costs_one_wcu_per_started_kb(aws: None, size: int, wcu: int) -> None:
    """At 1 WCU/s an item keeps the pacer's window for one second per WCU it costs: the
    next write waits that long."""
    client = boto3.client("dynamodb")
    create_table(client, "sized")
    item = to_item({"d": "x" * (size - 67)})  # "pk" + 64 hex digits, "d" + the string
    assert len(item["pk"]) == 64
    t = Clock()
    up = Upserter(
        "sized",
        dynamodb_client=client,
        wcu_per_second=1,
        deadline_seconds=1e4,
        clock=t.clock,
        sleep=t.sleep,
    )
    result = up.put_many([item])
    assert (result.written, result.failed) == (1, {})
    before = sum(t.slept)
    assert up.put_many([to_item({"next": 1})]).written == 1
    assert sum(t.slept) - before == pytest.approx(wcu)
