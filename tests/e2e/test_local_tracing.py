"""Tracing across SQS on the local cloud's server: the producer's context travels in
``AWSTraceHeader`` of a real message, and the consumer's spans link to it.

The spans are caught by an OpenTelemetry SDK provider with an in-memory exporter;
the expected ids are the producer span's own, read from the exporter, never from
the code under test.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from sqs_blueprint import tracing
from sqs_blueprint.local import LocalCloud
from sqs_blueprint.local.events import lambda_record
from sqs_blueprint.producer import Producer
from sqs_blueprint.records import Record
from sqs_blueprint.write_buffer import WriteBuffer, WriteBufferSettings

pytestmark = pytest.mark.e2e


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.configure(True, provider=provider)
    yield exporter
    tracing.configure(None)


def _queue_and_table(cloud: LocalCloud) -> tuple[str, str]:
    name = f"traced-{uuid.uuid4().hex[:8]}"
    url = cloud.client("sqs").create_queue(QueueName=name)["QueueUrl"]
    cloud.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return url, name


def _received(cloud: LocalCloud, url: str, names: list[str]) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = cloud.client("sqs").receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=names
    )["Messages"]
    return got


def test_a_consumer_span_links_to_the_producer_context_of_a_received_message(
    cloud: LocalCloud, spans: InMemorySpanExporter
) -> None:
    url, table = _queue_and_table(cloud)
    producer = Producer(url, sqs_client=cloud.client("sqs"))
    result = producer.send_many([json.dumps({"order": 1}), json.dumps({"order": 2})])
    assert not result.failed
    sent = {s.attributes[tracing.MESSAGE_ID]: s for s in spans.get_finished_spans()}
    assert set(sent) == {s.message_id for s in result.sent}
    # What SQS returns when asked for exactly that system attribute (SendMessageBatch).
    [first, second] = sorted(
        _received(cloud, url, ["AWSTraceHeader"]), key=lambda m: m["MessageId"]
    )
    for message in (first, second):
        producer_span = sent[message["MessageId"]].context
        header = message["Attributes"]["AWSTraceHeader"]
        assert header.startswith(f"Root=1-{producer_span.trace_id:032x}"[:15])
        assert f"Parent={producer_span.span_id:016x}" in header
    spans.clear()
    records = [
        Record.from_lambda(lambda_record(m, "arn:aws:sqs:us-east-1:123456789012:q", "us-east-1"))
        for m in (first, second)
    ]
    buffer = WriteBuffer(
        WriteBufferSettings(table_name=table), dynamodb_client=cloud.client("dynamodb")
    )
    buffer.process(records)
    finished = spans.get_finished_spans()
    consumers = {
        s.attributes[tracing.MESSAGE_ID]: s for s in finished if s.name.endswith("process")
    }
    [write] = [s for s in finished if s.name.endswith("write")]
    for message in (first, second):
        producer_span = sent[message["MessageId"]].context
        consumer = consumers[message["MessageId"]]
        assert consumer.context.trace_id == producer_span.trace_id  # one trace id
        assert consumer.parent is not None and consumer.parent.span_id == producer_span.span_id
        [link] = consumer.links
        assert (link.context.trace_id, link.context.span_id) == (
            producer_span.trace_id,
            producer_span.span_id,
        )
        assert consumer.attributes[tracing.OUTCOME] == "written"
        assert consumer.attributes[tracing.WCU] == 1
    linked = {(k.context.trace_id, k.context.span_id) for k in write.links}
    assert linked == {(c.context.trace_id, c.context.span_id) for c in consumers.values()}
    assert write.attributes[tracing.TABLE] == table


def test_tracing_off_sends_no_system_attribute_and_makes_no_span(
    cloud: LocalCloud, spans: InMemorySpanExporter
) -> None:
    tracing.configure(False)
    url, _ = _queue_and_table(cloud)
    assert not Producer(url, sqs_client=cloud.client("sqs")).send_many(["{}"]).failed
    [message] = _received(cloud, url, ["All"])
    assert "AWSTraceHeader" not in message["Attributes"]
    assert spans.get_finished_spans() == ()
