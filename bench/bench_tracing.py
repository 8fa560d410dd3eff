"""Per-record cost of tracing: the write buffer's record core with tracing off and on.

The same 2,000 records (batches of 10) go through ``WriteBuffer.process`` against a
stub DynamoDB client that answers at once, so what is measured is the library's
own CPU per record: off (``SQS_BLUEPRINT_TRACING`` unset, no OpenTelemetry module
imported), and on with the OpenTelemetry SDK and a span processor that drops the
spans (an exporter's own cost is the environment's, not the library's), and on
writing every span as a JSON line, as the local cloud's collector does.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqs_blueprint import tracing
from sqs_blueprint.records import Record
from sqs_blueprint.write_buffer import WriteBuffer, WriteBufferSettings

RECORDS, BATCH, ROUNDS = 2_000, 10, 5
HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


class _Table:
    def batch_write_item(self, **request: Any) -> dict[str, Any]:
        return {"UnprocessedItems": {}}


def _batches() -> list[list[Record]]:
    attributes = {"ApproximateReceiveCount": "1", "AWSTraceHeader": HEADER}
    records = [
        Record(f"m{i}", f"r{i}", json.dumps({"order": i, "amount": i * 2.5}), attributes)
        for i in range(RECORDS)
    ]
    return [records[i : i + BATCH] for i in range(0, RECORDS, BATCH)]


def _us_per_record(batches: list[list[Record]]) -> float:
    buffer = WriteBuffer(WriteBufferSettings(table_name="t"), dynamodb_client=_Table())
    runs = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for batch in batches:
            buffer.process(batch)
        runs.append((time.perf_counter() - started) / RECORDS * 1e6)
    return statistics.median(runs)


def _dropping_provider() -> Any:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    class Drop(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(Drop()))
    return provider


def main() -> None:
    batches = _batches()
    tracing.configure(False)
    off = _us_per_record(batches)
    tracing.configure(True, provider=_dropping_provider())
    on = _us_per_record(batches)
    with tempfile.TemporaryDirectory() as folder:
        tracing.collect_to(Path(folder) / "spans.jsonl")
        collected = _us_per_record(batches)
    tracing.configure(None)
    print(f"{RECORDS:,} records in batches of {BATCH}, median of {ROUNDS} rounds, stub DynamoDB")
    print(f"{'tracing':<34}{'µs per record':>14}{'overhead':>10}")
    for name, value in (
        ("off", off),
        ("on (SDK, spans dropped)", on),
        ("on (local collector, JSON lines)", collected),
    ):
        print(f"{name:<34}{value:>14.1f}{value - off:>+10.1f}")


if __name__ == "__main__":
    main()
