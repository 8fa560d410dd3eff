"""The shared write-buffer core as the EC2 worker's built-in handler uses it, on moto."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from sqs_blueprint.records import Record
from sqs_blueprint.worker import load_handler
from sqs_blueprint.write_buffer import SettingsError
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
