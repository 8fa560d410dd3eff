"""Hash keys, batched idempotent writes, pacing, and the shared record core."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from decimal import Context, Decimal
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError
from hypothesis import given, settings
from hypothesis import strategies as st

from sqs_blueprint.batch_write import Entry, pack_calls
from sqs_blueprint.limits import DYNAMODB_BATCH_WRITE_MAX_ITEMS
from sqs_blueprint.records import Record
from sqs_blueprint.upsert import (
    ItemError,
    TokenBucket,
    Upserter,
    canonical_json,
    item_key,
    item_size,
    parse_body,
    serialize,
    to_item,
    write_records,
)
from sqs_blueprint.write_buffer import WriteBuffer, WriteBufferSettings
from tests.unit.tables import create_table

TABLE = "items"

# ---------------------------------------------------------------- keys


DYNAMODB_INTEGERS = st.integers(-(10**38) + 1, 10**38 - 1)  # at most 38 significant digits

json_values = st.recursive(
    st.none() | st.booleans() | DYNAMODB_INTEGERS | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(
    st.dictionaries(st.text(max_size=5), json_values, max_size=6), st.randoms(), st.integers(0, 4)
)
def test_key_is_stable_under_field_order_and_spacing(
    obj: dict[str, Any], rnd: Any, indent: int
) -> None:
    fields = list(obj.items())
    rnd.shuffle(fields)
    reordered = json.loads(json.dumps(dict(fields), indent=indent, separators=(", ", " : ")))
    assert item_key(reordered) == item_key(obj)


def test_key_vector_and_chosen_fields() -> None:
    # SHA-256 of the canonical JSON {"a":1,"b":"é"}
    assert item_key({"b": "é", "a": 1}) == hashlib.sha256('{"a":1,"b":"é"}'.encode()).hexdigest()
    assert item_key({"id": 7, "x": 1}, ["id"]) == item_key({"x": 2, "id": 7}, ["id"])
    assert item_key(parse_body('{"p": 1.50}')) == item_key(parse_body('{"p":1.5}'))


def test_canonical_form_vector() -> None:
    body = '{"b": [1.0, 1e2, -0, 0.50, -1.25E-3, "\\u00e9\\n\\""], "a": true, "c": null, "d": {}}'
    assert canonical_json(parse_body(body)) == (
        '{"a":true,"b":[1,100,0,0.5,-0.00125,"é\\n\\""],"c":null,"d":{}}'.encode()
    )
    assert canonical_json({"f": 0.1, "i": 10**20}) == b'{"f":0.1,"i":100000000000000000000}'


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ('{"amount": 12345678901234567.1}', '{"amount": 12345678901234567.2}'),
        ('{"amount": 0.1}', '{"amount": 0.1000000000000000055}'),
        ('{"n": 1}', '{"n": true}'),
        ('{"n": 0}', '{"n": false}'),
        ('{"n": 1}', '{"n": "1"}'),
        ('{"n": null}', '{"n": "null"}'),
        ('{"n": [1, 2]}', '{"n": [2, 1]}'),
        (
            '{"n": 99999999999999999999999999999999999999}',
            '{"n": 99999999999999999999999999999999999998}',
        ),
    ],
)
def test_distinct_values_get_distinct_keys(one: str, other: str) -> None:
    assert item_key(parse_body(one)) != item_key(parse_body(other))


@pytest.mark.parametrize(
    "spellings",
    [
        ["1", "1.0", "1e0", "10E-1", "0.1e1"],
        ["100", "1e2", "1.00E+2", "100.000"],
        ["0", "-0", "0.0", "-0.0e5"],
        ["-1.5", "-15e-1", "-1.500"],
    ],
)
def test_equal_numbers_get_one_key(spellings: list[str]) -> None:
    keys = {item_key(parse_body(f'{{"n": {text}}}')) for text in spellings}
    assert len(keys) == 1


def _number_texts(value: Decimal, rnd: Any) -> str:
    """One of the many JSON spellings of ``value``."""
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    zeros = rnd.randint(0, 3)
    coefficient = int("".join(map(str, digits)) or "0") * 10**zeros
    exponent -= zeros
    minus = "-" if sign else ""
    spelled = Decimal(f"{minus}{coefficient}E{exponent}")
    choices = [
        f"{minus}{coefficient}e{exponent}",
        f"{minus}{coefficient}E{exponent:+d}",
        format(spelled, "f"),
    ]
    return str(rnd.choice(choices))


def _spell(value: Any, rnd: Any) -> str:
    """JSON text for ``value`` with shuffled keys, random spacing, escapes and number spellings."""
    space = rnd.choice(["", " ", "\n  "])
    if isinstance(value, dict):
        names = list(value)
        rnd.shuffle(names)
        members = [
            f"{json.dumps(n, ensure_ascii=rnd.random() < 0.5)}{space}:{_spell(value[n], rnd)}"
            for n in names
        ]
        return "{" + f",{space}".join(members) + "}"
    if isinstance(value, list):
        return "[" + f",{space}".join(_spell(v, rnd) for v in value) + "]"
    if isinstance(value, Decimal):
        return _number_texts(value, rnd)
    return json.dumps(value, ensure_ascii=rnd.random() < 0.5)


numbers = st.builds(
    lambda sign, coefficient, exponent: Decimal(f"{sign}{coefficient}E{exponent}"),
    st.sampled_from(["", "-"]),
    st.integers(0, 10**20),
    st.integers(-60, 60),
)
values = st.recursive(
    st.none() | st.booleans() | numbers | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=300)
@given(st.dictionaries(st.text(max_size=4), values, max_size=5), st.randoms())
def test_every_spelling_of_a_value_gets_its_key(obj: dict[str, Any], rnd: Any) -> None:
    assert item_key(parse_body(_spell(obj, rnd))) == item_key(parse_body(_spell(obj, rnd)))
    assert item_key(parse_body(_spell(obj, rnd))) == item_key(obj)


def _same(a: Any, b: Any) -> bool:
    """Reference equality of JSON values: numbers by exact value, booleans apart from numbers."""
    kinds = (bool, type(None), str, dict, list)
    kind_a = next((k for k in kinds if isinstance(a, k)), Decimal)
    kind_b = next((k for k in kinds if isinstance(b, k)), Decimal)
    if kind_a is not kind_b:
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))
    return bool(Decimal(a) == Decimal(b)) if kind_a is Decimal else bool(a == b)


close_numbers = st.sampled_from(
    ["0", "-0", "1", "1.0", "1e2", "100", "0.1", "0.1000000000000000055", "-1", "1e-130", "2"]
).map(Decimal)
close_values = st.recursive(
    st.none()
    | st.booleans()
    | close_numbers
    | st.integers(-2, 2)
    | st.sampled_from(["", "1", "a"]),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.sampled_from("ab"), inner),
    max_leaves=4,
)


@settings(max_examples=500)
@given(close_values, close_values)
def test_keys_agree_exactly_when_values_are_equal(a: Any, b: Any) -> None:
    assert (item_key({"v": a}) == item_key({"v": b})) == _same(a, b)


@settings(max_examples=300)
@given(close_numbers, close_numbers)
def test_number_keys_agree_exactly_when_values_are_equal(a: Decimal, b: Decimal) -> None:
    assert (item_key({"v": a}) == item_key({"v": b})) == (a == b)


@given(numbers)
def test_a_number_and_its_neighbour_get_distinct_keys(a: Decimal) -> None:
    exponent = a.as_tuple().exponent
    assert isinstance(exponent, int)
    neighbour = Context(prec=100).add(a, Decimal((0, (1,), exponent)))  # exact: one unit more
    assert item_key({"v": a}) != item_key({"v": neighbour})


TOO_DEEP = (
    "body nests arrays and objects more than 32 levels deep (the body object is level 1); "
    "DynamoDB stores nested attributes up to 32 levels: flatten the body"
)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '{"n": 123456789012345678901234567890123456789}',
            "number 123456789012345678901234567890123456789 has 39 significant digits; "
            "DynamoDB stores at most 38: send it as a string",
        ),
        (
            '{"n": 1e126}',
            "number 1E+126 is out of DynamoDB's range: magnitudes from 1E-130 to "
            "9.9999999999999999999999999999999999999E+125, or 0: send it as a string",
        ),
        ('{"n": -1e-131}', "number -1E-131 is out of DynamoDB's range"),
        (
            '{"n": 1e-99999999999999999999999}',
            "body has a number with an exponent out of DynamoDB's range (magnitudes from 1E-130 "
            "to 9.9999999999999999999999999999999999999E+125, or 0): send it as a string",
        ),
        ('{"n": 1e999999999999999999}', "number 1E+999999999999999999 is out of DynamoDB's range"),
        ('{"x":' + "[" * 500 + "]" * 500 + "}", TOO_DEEP),
        ("[" * 100_000 + "]" * 100_000, TOO_DEEP),
        ('{"x":' + "[" * 31 + "]" * 31 + ', "y": {"z": ' + "[" * 31 + "]" * 31 + "}}", TOO_DEEP),
        (
            '{"s": "\\ud800"}',
            "string '\\ud800' holds a lone surrogate U+D800, which is not valid UTF-8 "
            "and cannot be stored in DynamoDB: fix the producer's text encoding",
        ),
    ],
)
def test_values_dynamodb_cannot_store_are_item_errors(body: str, message: str) -> None:
    with pytest.raises(ItemError) as caught:
        to_item(parse_body(body), ["n"] if '"n"' in body else None)
    assert str(caught.value).startswith(message)


def test_nesting_up_to_the_limit_is_accepted() -> None:
    body = '{"x":' + "[" * 31 + "]" * 31 + "}"  # the body is level 1, the innermost list 32
    assert to_item(parse_body(body))["x"] is not None
    with pytest.raises(ItemError, match="more than 32 levels deep"):
        item_key({"x": 1, "y": _nested(32)})


def _nested(levels: int) -> Any:
    value: Any = []
    for _ in range(levels - 1):
        value = [value]
    return value


def test_to_item_adds_pk_and_decimals_and_refuses_a_pk_field() -> None:
    item = to_item({"a": 1.25, "n": [0.5]})
    assert item["a"] == Decimal("1.25") and item["n"] == [Decimal("0.5")]
    assert item["pk"] == item_key({"a": 1.25, "n": [0.5]})
    with pytest.raises(ItemError, match="top-level field 'pk', which is the table's partition key"):
        to_item({"pk": 1})


def test_item_size_and_limit() -> None:
    assert item_size(serialize({"pk": "x" * 64, "n": Decimal("123"), "b": True})) == 66 + 4 + 2
    with pytest.raises(ItemError, match="item is 409,604 bytes, over DynamoDB's limit of 409,600"):
        serialize({"pk": "k", "d": "x" * 409_600})
    with pytest.raises(ItemError, match="item cannot be stored in DynamoDB"):
        serialize({"pk": "k", "f": 1.5})


# ---------------------------------------------------------------- writing on moto


class Faults:
    """Injects UnprocessedItems, throttling and rejected batches with botocore hooks."""

    def __init__(self, client: Any) -> None:
        self.calls: list[str] = []
        self.unprocessed: list[int] = []  # per BatchWriteItem call: items to leave unprocessed
        self.throttle = 0  # next calls answered with ProvisionedThroughputExceededException
        self.reject_key: str | None = None  # batches with this key fail with ValidationException
        self._held: list[Any] = []
        self._all_held = False
        events = client.meta.events
        events.register("provide-client-params.dynamodb.BatchWriteItem", self._drop)
        events.register("before-call.dynamodb.*", self._before)
        events.register("after-call.dynamodb.BatchWriteItem", self._after)

    def _drop(self, params: dict[str, Any], **_: Any) -> None:
        self._held, self._all_held = [], False
        count = self.unprocessed.pop(0) if self.unprocessed else 0
        for requests in params["RequestItems"].values():
            if count >= len(requests):  # nothing is written: answered in _before
                self._held, self._all_held = list(requests), True
            elif count:
                self._held = requests[-count:]
                del requests[-count:]

    def _before(self, model: Any, params: dict[str, Any], **_: Any) -> Any:
        self.calls.append(model.name)
        body = params.get("body", b"")
        if model.name == "BatchWriteItem" and self._all_held:
            ok = AWSResponse("https://dynamodb", 200, {}, None)
            return ok, {"UnprocessedItems": {TABLE: self._held}, "ResponseMetadata": {}}
        if self.throttle:
            self.throttle -= 1
            return _error("ProvisionedThroughputExceededException", "slow down")
        if self.reject_key and self.reject_key.encode() in body:
            return _error("ValidationException", "bad item")
        return None

    def _after(self, parsed: dict[str, Any], **_: Any) -> None:
        if self._held:
            parsed["UnprocessedItems"] = {TABLE: self._held}


def _error(code: str, message: str) -> tuple[AWSResponse, dict[str, Any]]:
    response = AWSResponse("https://dynamodb", 400, {}, None)
    return response, {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {}}


@pytest.fixture
def ddb(aws: None) -> Iterator[Any]:
    client = boto3.client("dynamodb", config=Config(retries={"total_max_attempts": 1}))
    create_table(client, TABLE)
    yield client


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def upserter(ddb: Any, t: FakeTime, **kwargs: Any) -> Upserter:
    return Upserter(
        TABLE, dynamodb_client=ddb, clock=t.clock, sleep=t.sleep, jitter=lambda: 1.0, **kwargs
    )


def stored(ddb: Any) -> dict[str, dict[str, Any]]:
    items = ddb.scan(TableName=TABLE)["Items"]
    return {i["pk"]["S"]: i for i in items}


def test_overwrite_packs_25_per_request_and_last_duplicate_wins(ddb: Any) -> None:
    faults = Faults(ddb)
    items = [to_item({"id": i % 50, "v": i}, ["id"]) for i in range(60)]
    result = upserter(ddb, FakeTime()).put_many(items)
    assert (result.written, result.duplicates, result.failed) == (50, 10, {})
    assert faults.calls == ["BatchWriteItem"] * 2
    table = stored(ddb)
    assert len(table) == 50
    assert table[item_key({"id": 3})]["v"] == {"N": "53"}


def test_unprocessed_items_are_retried_with_backoff(ddb: Any) -> None:
    faults = Faults(ddb)
    faults.unprocessed = [5, 2, 3]
    t = FakeTime()
    items = [to_item({"id": i}) for i in range(30)]
    result = upserter(ddb, t).put_many(items)
    assert (result.written, result.failed) == (30, {})
    assert faults.calls == ["BatchWriteItem"] * 4  # 25 and 5; the 7 left over; the 3 left over
    assert len(stored(ddb)) == 30
    assert t.slept == [0.05, 0.1]


def test_items_still_unprocessed_at_the_deadline_are_reported_exactly(ddb: Any) -> None:
    faults = Faults(ddb)
    faults.unprocessed = [3] * 100
    items = [to_item({"id": i}) for i in range(10)]
    result = upserter(ddb, FakeTime(), deadline_seconds=1.0).put_many(items)
    assert result.written == 7
    assert result.failed == {
        i: "not written before the deadline: left in UnprocessedItems" for i in (7, 8, 9)
    }
    assert len(stored(ddb)) == 7


def test_throttling_is_backpressure(ddb: Any) -> None:
    faults = Faults(ddb)
    faults.throttle = 2
    t = FakeTime()
    result = upserter(ddb, t).put_many([to_item({"id": i}) for i in range(3)])
    assert (result.written, result.failed) == (3, {})
    assert len(t.slept) == 2


def test_throttled_until_deadline_reports_every_item(ddb: Any) -> None:
    faults = Faults(ddb)
    faults.throttle = 1000
    result = upserter(ddb, FakeTime(), deadline_seconds=0.5).put_many([to_item({"id": 1})])
    assert result.failed == {
        0: "not written before the deadline: "
        "throttled (ProvisionedThroughputExceededException: slow down)"
    }


def test_a_rejected_batch_is_split_so_only_the_bad_item_fails(ddb: Any) -> None:
    faults = Faults(ddb)
    items = [to_item({"id": i}) for i in range(5)]
    faults.reject_key = items[2]["pk"]
    result = upserter(ddb, FakeTime()).put_many(items)
    assert result.written == 4
    assert result.failed == {2: "ValidationException: bad item"}


def test_versioned_mode_keeps_the_highest_version(ddb: Any) -> None:
    up = upserter(ddb, FakeTime())
    first = up.put_versioned([to_item({"id": 1, "v": 2}, ["id"])], "v")
    assert (first.written, first.noops) == (1, 0)
    older = up.put_versioned(
        [to_item({"id": 1, "v": 1}, ["id"]), to_item({"id": 1, "v": 2}, ["id"])], "v"
    )
    assert (older.written, older.noops, older.failed) == (0, 2, {})
    batch = [to_item({"id": 1, "v": v, "x": v}, ["id"]) for v in (5, 3, 4)]
    newer = up.put_versioned(batch, "v")
    assert (newer.written, newer.noops, newer.failed) == (1, 2, {})
    assert stored(ddb)[item_key({"id": 1})]["x"] == {"N": "5"}


def test_versioned_mode_needs_a_numeric_version(ddb: Any) -> None:
    result = upserter(ddb, FakeTime()).put_versioned([to_item({"v": "2"}), to_item({"x": 1})], "v")
    assert result.failed == {
        0: "version field 'v' must be a number, got '2'",
        1: "version field 'v' must be a number, got None",
    }


def test_versioned_mode_retries_throttling(ddb: Any) -> None:
    faults = Faults(ddb)
    faults.throttle = 1
    result = upserter(ddb, FakeTime()).put_versioned([to_item({"v": 1})], "v")
    assert (result.written, faults.calls) == (1, ["PutItem", "PutItem"])


def test_token_bucket_holds_the_rate() -> None:
    t = FakeTime()
    bucket = TokenBucket(10, clock=t.clock, sleep=t.sleep)
    for _ in range(30):
        bucket.acquire(1)
    assert sum(t.slept) == pytest.approx(2.0)  # 10 from the burst, 20 more at 10/s
    with pytest.raises(ValueError, match="rate must be greater than 0 units per second, got 0"):
        TokenBucket(0)


def test_writes_are_paced_by_item_wcu(ddb: Any) -> None:
    t = FakeTime()
    items = [
        to_item({"id": i, "d": "x" * 1500}) for i in range(50)
    ]  # 2 WCU each (docs/aws-facts.md#dynamodb)
    upserter(ddb, t, wcu_per_second=20).put_many(items)
    # No burst: all 100 WCU wait for their share at 20 WCU/s (docs/aws-facts.md#dynamodb).
    assert t.now == pytest.approx(100 / 20)


def test_no_second_sees_more_than_the_budget(ddb: Any) -> None:
    """A request arrives at once: one over the budget would be a burst, however long the
    pacer waited before it. Items of 1,500 bytes cost 2 WCU (1 KB units, rounded up)."""
    t = FakeTime()
    sent: list[tuple[float, int]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append((t.now, sum(len(r) for r in params["RequestItems"].values())))

    ddb.meta.events.register("provide-client-params.dynamodb.BatchWriteItem", record)
    items = [to_item({"id": i, "d": "x" * 1500}) for i in range(50)]
    result = upserter(ddb, t, wcu_per_second=20).put_many(items)
    assert result.written == 50
    per_second: dict[int, int] = {}
    for at, count in sent:
        per_second[int(at)] = per_second.get(int(at), 0) + 2 * count
    assert max(count for _, count in sent) == 10  # 20 WCU of 2-WCU items
    assert max(per_second.values()) <= 20


# ---------------------------------------------------------------- the record core


def rec(message_id: str, body: str) -> Record:
    return Record(message_id=message_id, receipt_handle="rh", body=body)


def test_write_records_fails_bad_records_alone(ddb: Any) -> None:
    records = [
        rec("ok", '{"id": 1}'),
        rec("list", "[1]"),
        rec("nokey", '{"x": 1}'),
        rec("big", json.dumps({"id": 2, "d": "x" * 410_000})),
        rec("dup", '{"id": 1, "again": true}'),
    ]
    outcome = write_records(records, upserter=upserter(ddb, FakeTime()), key_fields=["id"])
    assert (outcome.written, outcome.duplicates) == (1, 1)
    assert outcome.failed == {
        "list": "body must be a JSON object, got a JSON list",
        "nokey": "body has no key field 'id' (key fields: ['id'], body fields: ['x'])",
        "big": "item is 410,071 bytes, over DynamoDB's limit of 409,600",
    }
    assert outcome.batch_response() == {
        "batchItemFailures": [{"itemIdentifier": m} for m in ("list", "nokey", "big")]
    }
    assert outcome.failed_ids(fifo=True) == ["list", "nokey", "big", "dup"]


def test_write_records_versioned(ddb: Any) -> None:
    up = upserter(ddb, FakeTime())
    records = [rec("a", '{"id": 1, "v": 1}'), rec("b", '{"id": 1, "v": 0}')]
    outcome = write_records(records, upserter=up, key_fields=["id"], version_field="v")
    assert (outcome.written, outcome.noops, outcome.failed) == (1, 1, {})
    assert outcome.batch_response() == {"batchItemFailures": []}


@settings(max_examples=200)
@given(st.lists(st.tuples(st.integers(1, 5_000_000), st.booleans()), max_size=80))
def test_write_batches_never_exceed_25_items_or_16_mb(specs: list[tuple[int, bool]]) -> None:
    entries = [Entry(str(i), {}, size, [i], {}, alone) for i, (size, alone) in enumerate(specs)]
    chunks = pack_calls(entries)
    assert [e for c in chunks for e in c] == entries
    for chunk in chunks:
        assert len(chunk) <= DYNAMODB_BATCH_WRITE_MAX_ITEMS
        assert sum(e.size for e in chunk) <= 16 * 1024 * 1024
        assert len(chunk) == 1 or not any(e.alone for e in chunk)


@settings(max_examples=200)
@given(st.lists(st.integers(1, 400 * 1024), max_size=80), st.integers(1, 800))
def test_paced_batches_never_carry_more_than_the_wcu_cap(sizes: list[int], max_wcu: int) -> None:
    entries = [Entry(str(i), {}, size, [i], {}) for i, size in enumerate(sizes)]
    chunks = pack_calls(entries, max_wcu)
    assert [e for c in chunks for e in c] == entries
    for chunk in chunks:
        wcu = sum(-(-e.size // 1024) for e in chunk)  # 1 WCU per started KB
        assert len(chunk) == 1 or wcu <= max_wcu  # an item over the cap goes alone


def test_pacing_stops_at_the_deadline_and_reports_the_rest(ddb: Any) -> None:
    t = FakeTime()
    items = [to_item({"id": i}) for i in range(100)]  # 1 WCU each
    result = upserter(ddb, t, wcu_per_second=25, deadline_seconds=2.0).put_many(items)
    # No burst: 25 WCU per second for 2 s is two batches of 25; the rest is reported, not slept on.
    assert result.written == 50 and t.now <= 2.0
    assert sorted(result.failed) == list(range(50, 100))
    assert all("write budget of 25 WCU/s" in reason for reason in result.failed.values())


def test_versioned_pacing_stops_at_the_deadline(ddb: Any) -> None:
    t = FakeTime()
    items = [to_item({"id": i, "v": 1}, ["id"]) for i in range(10)]
    result = upserter(ddb, t, wcu_per_second=2, deadline_seconds=2.0).put_versioned(items, "v")
    assert result.written == 4 and len(result.failed) == 6 and t.now <= 2.0


def test_token_bucket_refuses_a_wait_past_its_limit() -> None:
    t = FakeTime()
    bucket = TokenBucket(10, burst=0, clock=t.clock, sleep=t.sleep)
    assert bucket.acquire(5, max_wait=1.0) and t.now == pytest.approx(0.5)
    assert not bucket.acquire(20, max_wait=1.0) and t.now == pytest.approx(0.5)
    assert bucket.acquire(10, max_wait=1.0) and t.now == pytest.approx(1.5)


def test_write_records_fails_any_body_error_alone(ddb: Any) -> None:
    records = [
        rec("ok", '{"id": 1}'),
        rec("deep", '{"id": 2, "x":' + "[" * 500 + "]" * 500 + "}"),
        rec("digits", '{"id": 3, "n": 1234567890123456789012345678901234567890}'),
        rec("surrogate", '{"id": 4, "s": "\\ud800"}'),
        Record(message_id="none", receipt_handle="rh", body=None),  # type: ignore[arg-type]
        rec("ok2", '{"id": 5}'),
    ]
    outcome = write_records(records, upserter=upserter(ddb, FakeTime()), key_fields=["id"])
    assert outcome.written == 2 and sorted(outcome.failed) == [
        "deep",
        "digits",
        "none",
        "surrogate",
    ]
    assert outcome.failed["deep"] == TOO_DEEP
    assert outcome.failed["none"] == (
        "TypeError: the JSON object must be str, bytes or bytearray, not NoneType"
    )
    assert sorted(int(i["id"]["N"]) for i in stored(ddb).values()) == [1, 5]


def test_server_and_network_errors_are_retried(ddb: Any) -> None:
    faults: list[Exception] = [
        ClientError(
            {
                "Error": {"Code": "InternalServerError", "Message": "oops"},
                "ResponseMetadata": {"HTTPStatusCode": 500},
            },
            "BatchWriteItem",
        ),
        EndpointConnectionError(endpoint_url="https://dynamodb"),
    ]

    def fail_twice(**_: Any) -> None:
        if faults:
            raise faults.pop(0)

    ddb.meta.events.register("before-call.dynamodb.BatchWriteItem", fail_twice)
    t = FakeTime()
    result = upserter(ddb, t).put_many([to_item({"id": i}) for i in range(3)])
    assert (result.written, result.failed, len(t.slept)) == (3, {}, 2)


def test_server_errors_until_the_deadline_are_reported(ddb: Any) -> None:
    def unavailable(**_: Any) -> None:
        raise ClientError(
            {
                "Error": {"Code": "ServiceUnavailable", "Message": "try later"},
                "ResponseMetadata": {"HTTPStatusCode": 503},
            },
            "PutItem",
        )

    ddb.meta.events.register("before-call.dynamodb.PutItem", unavailable)
    up = upserter(ddb, FakeTime(), deadline_seconds=1.0)
    result = up.put_versioned([to_item({"id": 1, "v": 1}, ["id"])], "v")
    assert result.failed == {0: "not written before the deadline: service error"}


def test_an_equal_version_is_a_no_op_inside_a_batch(ddb: Any) -> None:
    up = upserter(ddb, FakeTime())
    batch = [
        to_item({"id": 1, "v": 2, "note": "first"}, ["id"]),
        to_item({"id": 1, "v": 2, "note": "second"}, ["id"]),
        to_item({"id": 1, "v": 1, "note": "older"}, ["id"]),
    ]
    result = up.put_versioned(batch, "v")
    assert (result.written, result.noops, result.failed) == (1, 2, {})
    assert stored(ddb)[item_key({"id": 1})]["note"] == {"S": "first"}


def test_an_equal_version_is_a_no_op_across_batches(ddb: Any) -> None:
    up = upserter(ddb, FakeTime())
    up.put_versioned([to_item({"id": 1, "v": 2, "note": "first"}, ["id"])], "v")
    result = up.put_versioned([to_item({"id": 1, "v": 2.0, "note": "second"}, ["id"])], "v")
    assert (result.written, result.noops, result.failed) == (0, 1, {})
    assert stored(ddb)[item_key({"id": 1})]["note"] == {"S": "first"}


# ------------------------------------------------ versioned mode and items stored without one


def put_raw(ddb: Any, key: dict[str, Any], **attributes: Any) -> None:
    """Store an item as another writer would have: ``attributes`` in DynamoDB JSON."""
    ddb.put_item(TableName=TABLE, Item={"pk": {"S": item_key(key)}, **attributes})


def test_an_item_stored_before_versioning_is_older_than_any_update(ddb: Any) -> None:
    put_raw(ddb, {"id": 1}, id={"N": "1"}, balance={"N": "10"})
    up = upserter(ddb, FakeTime())
    result = up.put_versioned([to_item({"id": 1, "v": 1, "balance": 20}, ["id"])], "v")
    assert (result.written, result.noops, result.failed) == (1, 0, {})
    item = stored(ddb)[item_key({"id": 1})]
    assert (item["balance"], item["v"]) == ({"N": "20"}, {"N": "1"})
    replay = up.put_versioned([to_item({"id": 1, "v": 1, "balance": 30}, ["id"])], "v")
    assert (replay.written, replay.noops, replay.failed) == (0, 1, {})
    assert stored(ddb)[item_key({"id": 1})]["balance"] == {"N": "20"}


def test_an_update_after_version_field_is_renamed_is_written(ddb: Any) -> None:
    before = WriteBufferSettings(table_name=TABLE, key_fields=("account",), version_field="version")
    first = WriteBuffer(before, dynamodb_client=ddb).process(
        [rec("m1", '{"account": "a", "version": 7, "balance": 10}')]
    )
    assert (first.written, first.failed) == (1, {})
    after = dataclasses.replace(before, version_field="rev")
    update = WriteBuffer(after, dynamodb_client=ddb).process(
        [rec("m2", '{"account": "a", "rev": 1, "balance": 25}')]
    )
    assert (update.written, update.noops, update.failed) == (1, 0, {})
    item = stored(ddb)[item_key({"account": "a"})]
    assert (item["balance"], item["rev"]) == ({"N": "25"}, {"N": "1"})


def test_a_stored_version_that_is_no_number_fails_the_update_loudly(ddb: Any) -> None:
    put_raw(ddb, {"id": 1}, id={"N": "1"}, v={"S": "3"}, balance={"N": "10"})
    records = [rec("m1", '{"id": 1, "v": 5, "balance": 20}')]
    outcome = write_records(
        records, upserter=upserter(ddb, FakeTime()), key_fields=["id"], version_field="v"
    )
    assert (outcome.written, outcome.noops) == (0, 0)
    assert outcome.failed == {
        "m1": "the stored item's version field 'v' holds a string ({'S': '3'}), so it cannot "
        "be compared with version 5; not written. Fix: store a number in 'v' of that item, "
        "or delete the item"
    }
    assert stored(ddb)[item_key({"id": 1})]["balance"] == {"N": "10"}


def test_a_refusal_without_the_stored_item_is_never_a_no_op(ddb: Any) -> None:
    def refuse(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        return _error("ConditionalCheckFailedException", "The conditional request failed")

    ddb.meta.events.register("before-call.dynamodb.PutItem", refuse)
    result = upserter(ddb, FakeTime()).put_versioned([to_item({"id": 1, "v": 2}, ["id"])], "v")
    assert (result.written, result.noops) == (0, 0)
    assert result.failed == {
        0: "DynamoDB refused the conditional write without returning the stored item, so "
        "whether it holds a version of at least 2 is unknown; not written"
    }
