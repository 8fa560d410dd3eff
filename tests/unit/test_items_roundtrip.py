"""Bodies written through the record core into DynamoDB (moto) and read back.

What a reader of the table gets must be the body as parsed, with the documented
conversions (README, "The idempotency key"): every number is a DynamoDB number of
the same value (whole numbers of up to 38 digits stored in positional notation:
``100``, never ``1E+2``), booleans stay booleans, null stays null, strings keep every
character, lists and maps keep their shape; plus the key ``pk``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sqs_blueprint.records import Record
from sqs_blueprint.upsert import Upserter, write_records
from tests.unit.tables import create_table

TABLE = "roundtrip"
_deserializer = TypeDeserializer()

TEXT = st.text(st.characters(codec="utf-8"), max_size=6)
NAMES = st.text(st.characters(codec="utf-8"), min_size=1, max_size=4)
# Number spellings as a JSON producer writes them: whole numbers with trailing zeros and
# exponents, fractions, tiny and huge magnitudes, up to DynamoDB's 38 digits.
NUMBER_TEXTS = st.sampled_from(
    [
        *["0", "-0", "10", "100", "1e2", "1E+2", "1.0", "0.50", "-1.25E-3", "1e-130"],
        *["9.99e125", "12345678901234567890123456789012345678", "-0.00000001", "1e37"],
        "123.456e10",
    ]
)
NUMBERS = (
    NUMBER_TEXTS
    | st.integers(-(10**38) + 1, 10**38 - 1).map(str)
    | st.floats(min_value=1e-100, max_value=1e100).map(repr)
    | st.floats(min_value=-1e100, max_value=-1e-100).map(repr)
)


def _json(value: Any) -> str:
    """JSON text with numbers spelled as given (a number is a ``("n", text)`` pair)."""
    if isinstance(value, tuple):
        return str(value[1])
    if isinstance(value, list):
        return "[" + ",".join(map(_json, value)) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_json(v)}" for k, v in value.items()) + "}"
    return json.dumps(value, ensure_ascii=False)


VALUES = st.recursive(
    st.none() | st.booleans() | TEXT | NUMBERS.map(lambda text: ("n", text)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NAMES, inner, max_size=3),
    max_leaves=10,
)
BODIES = st.dictionaries(NAMES.filter(lambda name: name != "pk"), VALUES, max_size=5).map(_json)


def same(stored: Any, parsed: Any) -> bool:
    """Equal values of the same JSON type: ``True`` is not the number 1, nor None 0."""
    if isinstance(parsed, bool) or parsed is None or isinstance(parsed, str):
        return type(stored) is type(parsed) and stored == parsed
    if isinstance(parsed, Decimal):
        return type(stored) is Decimal and stored == parsed
    if isinstance(parsed, list):
        return (
            isinstance(stored, list)
            and len(stored) == len(parsed)
            and all(map(same, stored, parsed))
        )
    assert isinstance(parsed, dict)
    return (
        isinstance(stored, dict)
        and stored.keys() == parsed.keys()
        and all(same(stored[k], parsed[k]) for k in parsed)
    )


def whole_numbers_are_written_out(value: dict[str, Any]) -> bool:
    """Every stored number whose value is whole and under 39 digits has no exponent or point."""
    kind, inner = next(iter(value.items()))
    if kind == "N":
        number = Decimal(inner)
        whole = number == number.to_integral_value() and abs(number) < Decimal(10) ** 38
        return not whole or inner.lstrip("-").isdigit()
    if kind == "L":
        return all(map(whole_numbers_are_written_out, inner))
    if kind == "M":
        return all(map(whole_numbers_are_written_out, inner.values()))
    return True


@pytest.fixture
def table(aws: None) -> Iterator[Any]:
    client = boto3.client("dynamodb")
    create_table(client, TABLE)
    yield client


def parse(body: str) -> dict[str, Any]:
    """The body as the JSON standard reads it, every number as an exact Decimal."""
    value: dict[str, Any] = json.loads(body, parse_float=Decimal, parse_int=Decimal)
    return value


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(BODIES, min_size=1, max_size=4))
def test_a_body_reads_back_as_written(table: Any, bodies: list[str]) -> None:
    records = [
        Record(message_id=f"m{i}", receipt_handle="r", body=body) for i, body in enumerate(bodies)
    ]
    outcome = write_records(records, upserter=Upserter(TABLE, dynamodb_client=table))
    assert outcome.failed == {}
    assert outcome.written + outcome.duplicates == len(bodies)
    stored = {}
    for raw in table.scan(TableName=TABLE)["Items"]:
        assert all(map(whole_numbers_are_written_out, raw.values())), raw
        item = {name: _deserializer.deserialize(value) for name, value in raw.items()}
        stored[json.dumps(item.pop("pk"))] = item
    for body in bodies:
        assert any(same(item, parse(body)) for item in stored.values()), (body, stored)
    for raw in table.scan(TableName=TABLE)["Items"]:
        table.delete_item(TableName=TABLE, Key={"pk": raw["pk"]})


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"t": true, "f": false, "n": null}', {"t": {"BOOL": True}, "f": {"BOOL": False}}),
        ('{"a": 10, "b": 100, "c": 1e2, "d": 1.0}', {"a": {"N": "10"}, "b": {"N": "100"}}),
        ('{"c": 1e2, "d": 1.0, "e": -0}', {"c": {"N": "100"}, "d": {"N": "1"}, "e": {"N": "0"}}),
        ('{"x": 0.50, "y": -1.25E-3}', {"x": {"N": "0.5"}, "y": {"N": "-0.00125"}}),
        ('{"s": "é\\u00e9😀"}', {"s": {"S": "éé😀"}}),
        (
            '{"l": [1, "a", [null]]}',
            {"l": {"L": [{"N": "1"}, {"S": "a"}, {"L": [{"NULL": True}]}]}},
        ),
        ('{"m": {"k": false}}', {"m": {"M": {"k": {"BOOL": False}}}}),
        # 38 digits are written out; 39 would pass DynamoDB's precision, so 1E+38 stays
        (
            '{"p": 1e37, "q": 1e38}',
            {"p": {"N": "1" + "0" * 37}, "q": {"N": "1E+38"}},
        ),
    ],
)
def test_stored_attribute_values(table: Any, body: str, expected: dict[str, Any]) -> None:
    outcome = write_records(
        [Record(message_id="m", receipt_handle="r", body=body)],
        upserter=Upserter(TABLE, dynamodb_client=table),
    )
    assert (outcome.written, outcome.failed) == (1, {})
    (item,) = table.scan(TableName=TABLE)["Items"]
    assert {name: item[name] for name in expected} == expected
    if '"n"' in body:
        assert item["n"] == {"NULL": True}
