"""The shared write-buffer core as the EC2 worker's built-in handler uses it, on moto."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqs_blueprint.backoff import Backoff
from sqs_blueprint.records import Record
from sqs_blueprint.worker import load_handler
from sqs_blueprint.write_buffer import SettingsError, WriteBuffer, WriteBufferSettings
from tests.unit.tables import create_table

TABLE = "items"


def rec(message_id: str, body: str) -> Record:
    return Record(message_id=message_id, receipt_handle="rh", body=body)


def test_the_worker_builtin_fails_each_bad_record_alone(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    ddb = boto3.client("dynamodb")
    create_table(ddb, TABLE)
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("KEY_FIELDS", "id")
    handler: Any = load_handler("builtin:write-buffer")
    records = [
        rec("ok-1", '{"id": 1}'),
        rec("deep", '{"id": 2, "x":' + "[" * 500 + "]" * 500 + "}"),
        rec("recursion", "[" * 100_000 + "]" * 100_000),
        rec("digits", '{"id": 123456789012345678901234567890123456789}'),
        rec("range", '{"id": 1e-131}'),
        rec("big", json.dumps({"id": 3, "blob": "x" * 410_000})),
        rec("ok-2", '{"id": 12345678901234567.1}'),
        rec("ok-3", '{"id": 12345678901234567.2}'),
    ]
    failed = handler(records)
    assert sorted(failed) == ["big", "deep", "digits", "range", "recursion"]
    ids = sorted(i["id"]["N"] for i in ddb.scan(TableName=TABLE)["Items"])
    assert ids == ["1", "12345678901234567.1", "12345678901234567.2"]


def test_the_worker_refuses_a_version_field_without_key_fields(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("VERSION_FIELD", "version")
    monkeypatch.delenv("KEY_FIELDS", raising=False)
    with pytest.raises(SettingsError) as caught:
        load_handler("builtin:write-buffer")
    assert str(caught.value) == (
        "KEY_FIELDS='' with VERSION_FIELD='version': versioned mode keeps the newest version of "
        "each entity, so the key must name the entity and leave the version out (the whole body "
        "would make every version its own item). Fix: set KEY_FIELDS to the fields that "
        "identify the entity, e.g. KEY_FIELDS=account."
    )


# ------------------------------------------------ the environment the constructs set, read back

# Any body field name the settings accept: commas, brackets, quotes, backslashes, unicode.
names = (
    st.text(min_size=1, max_size=12) | st.text(',[]"\\ é\u2028\nab', min_size=1, max_size=6)
).filter(lambda n: n == n.strip() and n != "pk")
positive = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)
backoffs = st.floats(min_value=1e-3, max_value=43_200).flatmap(
    lambda base: st.builds(Backoff, st.just(base), st.floats(min_value=base, max_value=43_200))
)


@st.composite
def write_buffer_settings(draw: st.DrawFn) -> WriteBufferSettings:
    key_fields = draw(st.none() | st.lists(names, min_size=1, max_size=4).map(tuple))
    version_field = draw(st.none() | names)
    if key_fields is None or version_field in key_fields:
        version_field = None  # versioned mode needs key fields without the version field
    return WriteBufferSettings(
        table_name=draw(st.from_regex(r"[A-Za-z0-9_.-]{3,40}", fullmatch=True)),
        key_fields=key_fields,
        version_field=version_field,
        payload_buckets=tuple(
            draw(st.lists(st.from_regex(r"[a-z0-9][a-z0-9.-]{2,20}", fullmatch=True), max_size=3))
        ),
        wcu_per_second=draw(st.none() | positive),
        deadline_s=draw(positive),
        max_payload_bytes=draw(st.integers(1, 10**9)),
        retry=draw(backoffs),
    )


@settings(max_examples=300)
@given(write_buffer_settings())
def test_every_accepted_setting_round_trips_through_the_environment(
    accepted: WriteBufferSettings,
) -> None:
    env = accepted.to_env()
    assert all(isinstance(value, str) for value in env.values())
    assert WriteBufferSettings.from_env(env) == accepted


def test_a_key_field_holding_a_comma_keys_the_item_by_that_field(aws: None) -> None:
    ddb = boto3.client("dynamodb")
    create_table(ddb, TABLE)
    env = WriteBufferSettings(table_name=TABLE, key_fields=("city,country",)).to_env()
    assert env["KEY_FIELDS"] == '["city,country"]'
    buffer = WriteBuffer.from_env(env, dynamodb_client=ddb)
    outcome = buffer.process([rec("m1", '{"city,country": "Oslo,NO", "n": 1}')])
    assert (outcome.written, outcome.failed) == (1, {})


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"KEY_FIELDS": '["pk"]'},
            "key_fields=('pk',): each names a top-level body field: not empty, without "
            "surrounding spaces, and not 'pk', the table's partition key, which a body may not "
            "carry (every record would be refused)",
        ),
        (
            {"KEY_FIELDS": '["id", ""]'},
            "key_fields=('id', ''): each names a top-level body field",
        ),
        (
            {"KEY_FIELDS": '["id"'},
            'KEY_FIELDS=\'["id"\': must be a JSON list of field names, e.g. ["account"], '
            "or comma-separated names",
        ),
        (
            {"KEY_FIELDS": '["id", 7]'},
            "KEY_FIELDS='[\"id\", 7]': must be a JSON list of field names",
        ),
        ({"KEY_FIELDS": "id", "VERSION_FIELD": "pk"}, "version_field='pk': each names"),
    ],
)
def test_key_fields_no_record_could_carry_are_refused(
    variables: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        WriteBufferSettings.from_env({"TABLE_NAME": TABLE, **variables})
    assert str(caught.value).startswith(message)


def test_hand_set_comma_separated_key_fields_are_still_read() -> None:
    settings = WriteBufferSettings.from_env({"TABLE_NAME": TABLE, "KEY_FIELDS": " a, b ,"})
    assert settings.key_fields == ("a", "b")
