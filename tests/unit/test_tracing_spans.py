"""sqs_blueprint.tracing: the switch, its cost when off, and what a record's spans say."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from sqs_blueprint import tracing
from sqs_blueprint.records import Record
from sqs_blueprint.write_buffer import WriteBuffer, WriteBufferSettings

HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.configure(True, provider=provider)
    yield exporter
    tracing.configure(None)


@pytest.mark.parametrize(("raw", "on"), [("", False), ("off", False), ("on", True), (" ON ", True)])
def test_the_setting_is_on_or_off(raw: str, on: bool) -> None:
    assert tracing.setting({tracing.SETTING: raw}) is on


def test_a_bad_setting_is_refused_in_one_line() -> None:
    with pytest.raises(tracing.TracingError) as refused:
        tracing.setting({tracing.SETTING: "yes"})
    assert str(refused.value) == (
        "SQS_BLUEPRINT_TRACING='yes': must be 'on' or 'off'; set it to one of them"
    )


def test_the_trace_id_is_read_from_a_header_without_opentelemetry() -> None:
    assert tracing.trace_id_of(HEADER) == "1-5759e988-bd862e3fe1be46a994272793"
    assert tracing.trace_id_of("Parent=53995c3f42cd8ad8") is None
    assert tracing.trace_id_of(None) is None


def test_off_imports_no_opentelemetry_module_and_makes_no_span() -> None:
    code = (
        "import sys\n"
        "from sqs_blueprint import producer, tracing, write_buffer\n"
        "print(tracing.start_send('q'), tracing.start_record({}, 'm', 'c'),\n"
        "      tracing.start_write('t', []), tracing.enabled())\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.splitlines() == ["None None None False", "[]"]


def test_on_without_its_packages_fails_at_once_with_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    monkeypatch.setenv(tracing.SETTING, "on")
    try:
        with pytest.raises(tracing.TracingError) as refused:
            tracing.configure(None)
        assert "SQS_BLUEPRINT_TRACING=on but OpenTelemetry is not installed" in str(refused.value)
        assert "pip install 'sqs-blueprint[tracing]'" in str(refused.value)
    finally:
        monkeypatch.delenv(tracing.SETTING)
        tracing.configure(None)


def _record(message_id: str, body: dict[str, Any], receives: int = 1) -> Record:
    attributes = {"ApproximateReceiveCount": str(receives), "AWSTraceHeader": HEADER}
    return Record(message_id, f"rh-{message_id}", json.dumps(body), attributes)


def _by_message(finished: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    return {
        str(s.attributes[tracing.MESSAGE_ID]): s
        for s in finished
        if s.attributes and tracing.MESSAGE_ID in s.attributes
    }


def _table(name: str) -> Any:
    ddb = boto3.client("dynamodb")
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return ddb


def test_each_record_span_says_what_became_of_it(aws: None, spans: InMemorySpanExporter) -> None:
    ddb = _table("t")
    buffer = WriteBuffer(
        WriteBufferSettings(table_name="t", key_fields=("account",), version_field="v"),
        dynamodb_client=ddb,
    )
    buffer.process([_record("m0", {"account": "a", "v": 5})])
    spans.clear()
    buffer.process(
        [
            _record("m1", {"account": "a", "v": 4}, receives=3),  # older than stored: no-op
            _record("m2", {"account": "b", "v": 1}),  # absorbed by m3 (higher)
            _record("m3", {"account": "b", "v": 2}),
            _record("m4", {"account": "c", "v": "two"}),  # refused
        ]
    )
    by_id = _by_message(spans.get_finished_spans())
    outcome = {m: (s.attributes or {}).get(tracing.OUTCOME) for m, s in by_id.items()}
    assert outcome == {"m1": "no-op", "m2": "no-op", "m3": "written", "m4": "failed"}
    assert (by_id["m1"].attributes or {})[tracing.RECEIVE_COUNT] == 3
    assert (by_id["m3"].attributes or {})[tracing.WCU] == 1
    assert (by_id["m3"].attributes or {})[tracing.VERSION] == 2
    assert (by_id["m2"].attributes or {})[tracing.WCU] == 0
    assert "must be a number" in str((by_id["m4"].attributes or {})[tracing.REASON])
    # Every record keeps the producer's trace id (from AWSTraceHeader), and is linked to it.
    for span in by_id.values():
        assert f"{span.context.trace_id:032x}" == "5759e988bd862e3fe1be46a994272793"
        assert [f"{k.context.span_id:016x}" for k in span.links] == ["53995c3f42cd8ad8"]


def test_the_write_span_links_every_record_it_carries(
    aws: None, spans: InMemorySpanExporter
) -> None:
    buffer = WriteBuffer(WriteBufferSettings(table_name="t"), dynamodb_client=_table("t"))
    buffer.process([_record("m1", {"n": 1}), _record("m2", {"n": 1}), _record("m3", {"n": 2})])
    finished = spans.get_finished_spans()
    [write] = [s for s in finished if s.name == "t write"]
    records = _by_message(finished)
    assert {k.context.span_id for k in write.links} == {s.context.span_id for s in records.values()}
    assert (write.attributes or {})[tracing.WCU] == 2  # two items written, 1 WCU each
    outcomes = sorted(str((s.attributes or {})[tracing.OUTCOME]) for s in records.values())
    assert outcomes == ["duplicate", "written", "written"]
