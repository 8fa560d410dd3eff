"""`sqs-blueprint trace`: the story told from spans, and the AWS path (X-Ray and Logs
Insights) through botocore's Stubber."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from sqs_blueprint import tracing
from sqs_blueprint.cli import main
from sqs_blueprint.trace_aws import aws_story
from sqs_blueprint.trace_story import otel_trace_id, story

TRACE = "5759e988bd862e3fe1be46a994272793"
XRAY = "1-5759e988-bd862e3fe1be46a994272793"


def _span(name: str, start: float, span_id: str, **attributes: Any) -> dict[str, Any]:
    return {
        "name": name,
        "trace_id": TRACE,
        "span_id": span_id,
        "start": start,
        "end": start + 0.01,
        "attributes": attributes,
        "links": [],
    }


def _life() -> list[dict[str, Any]]:
    received = {tracing.CONSUMER: "fn", tracing.MESSAGE_ID: "m1"}
    return [
        _span("q send", 1.0, "a1", **{tracing.MESSAGE_ID: "m1", tracing.OFFLOADED: True}),
        _span(
            "fn process",
            2.0,
            "a2",
            **received,
            **{
                tracing.RECEIVE_COUNT: 1,
                tracing.OUTCOME: "failed",
                tracing.REASON: "BucketNotAllowed: no",
            },
        ),
        _span(
            "dead-lettered",
            3.0,
            "a3",
            **{tracing.MESSAGE_ID: "m1", tracing.DESTINATION: "dlq", tracing.RECEIVE_COUNT: 1},
        ),
        _span(
            "redriven",
            4.0,
            "a4",
            **{tracing.MESSAGE_ID: "m1", "sqs_blueprint.new_message_id": "m2"},
        ),
        _span(
            "fn process",
            5.0,
            "a5",
            **{
                tracing.CONSUMER: "fn",
                tracing.MESSAGE_ID: "m2",
                tracing.RECEIVE_COUNT: 1,
                tracing.OUTCOME: "written",
                tracing.ITEM_KEY: "k",
                tracing.WCU: 2,
            },
        ),
        {
            **_span("t write", 5.1, "b1", **{tracing.TABLE: "t"}),
            "trace_id": "f" * 32,
            "links": [{"trace_id": TRACE, "span_id": "a5"}],
        },
        {**_span("q send", 0.5, "c1", **{tracing.MESSAGE_ID: "other"}), "trace_id": "e" * 32},
    ]


@pytest.mark.parametrize("ident", ["m1", "k", XRAY, TRACE])
def test_the_story_is_the_record_life_in_order_whatever_id_names_it(ident: str) -> None:
    told = story(_life(), ident)
    assert told.trace_ids == [TRACE]
    assert [s.kind for s in told.steps] == [
        "sent",
        "received",
        "dead-lettered",
        "redriven",
        "received",
        "written",
    ]
    written = told.steps[-1]
    assert written.text == "written: table t, key k, 2 WCU"
    assert "(body in S3)" in told.steps[0].text
    assert "receive 1) by fn: failed: BucketNotAllowed: no" in told.steps[1].text
    assert told.lines()[0] == f"{ident}: trace {XRAY}"


def test_trace_ids_are_read_in_both_forms() -> None:
    assert otel_trace_id(XRAY) == otel_trace_id(TRACE.upper()) == TRACE
    assert otel_trace_id("a-message-id") is None


def _clients() -> tuple[Any, Any]:
    region = {"region_name": "us-east-1", "aws_access_key_id": "x", "aws_secret_access_key": "x"}
    return boto3.client("logs", **region), boto3.client("xray", **region)


def _log_row(message: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {"field": "@timestamp", "value": "2026-12-04 12:00:02.000"},
        {"field": "@log", "value": "123:/aws/lambda/fn"},
        {"field": "@message", "value": json.dumps(message)},
    ]


def _segment(doc: dict[str, Any]) -> dict[str, Any]:
    return {"Id": doc["id"], "Document": json.dumps({"trace_id": XRAY, **doc})}


def test_against_aws_the_logs_lead_to_the_trace_and_what_was_unseen_is_said() -> None:
    logs, xray = _clients()
    with Stubber(logs) as logs_stub, Stubber(xray) as xray_stub:
        logs_stub.add_response(
            "start_query",
            {"queryId": "q1"},
            {
                "logGroupNames": ["/aws/lambda/fn"],
                "startTime": 1000,
                "endTime": 4600,
                "queryString": ANY,
            },
        )
        logs_stub.add_response("get_query_results", {"status": "Running", "results": []})
        failed = {
            "message": "record failed",
            "correlation_id": "m1",
            "trace_id": XRAY,
            "receive_count": 1,
            "outcome": "failed",
            "reason": "BucketNotAllowed: no",
        }
        logs_stub.add_response(
            "get_query_results", {"status": "Complete", "results": [_log_row(failed)]}
        )
        sent = {
            "id": "a1",
            "name": "producer",
            "start_time": 1.0,
            "end_time": 1.1,
            "metadata": {
                "default": {
                    tracing.MESSAGE_ID: "m1",
                    tracing.OFFLOADED: False,
                    tracing.DESTINATION: "https://q/ingest",
                }
            },
        }
        got = {
            "id": "a2",
            "name": "fn",
            "start_time": 2.0,
            "end_time": 2.2,
            "annotations": {
                "messaging_message_id": "m1",
                "sqs_blueprint_consumer": "fn",
                "sqs_blueprint_outcome": "failed",
            },
        }
        xray_stub.add_response(
            "batch_get_traces",
            {"Traces": [{"Id": XRAY, "Segments": [_segment(sent), _segment(got)]}]},
            {"TraceIds": [XRAY]},
        )
        found = aws_story(
            "m1",
            log_groups=["/aws/lambda/fn"],
            since_s=3600,
            logs_client=logs,
            xray_client=xray,
            clock=lambda: 4600.0,
            sleep=lambda s: None,
        )
    assert found.trace_ids == [TRACE]
    assert [s.kind for s in found.steps] == ["sent", "received", "log"]
    assert found.steps[0].text == "message m1 to ingest (body inline)"
    assert found.steps[1].text == "message m1 (receive None) by fn: failed"
    assert found.steps[2].text == (
        "fn: record failed (receive_count 1, outcome failed, reason BucketNotAllowed: no)"
    )
    assert found.unseen == [
        "moves to a DLQ: SQS records none; a receive count that reached the queue's "
        "maxReceiveCount is the sign of one"
    ]


def test_against_aws_with_no_log_line_and_no_trace_it_says_so() -> None:
    logs, xray = _clients()
    with Stubber(logs) as logs_stub, Stubber(xray) as xray_stub:
        logs_stub.add_response("start_query", {"queryId": "q1"})
        logs_stub.add_response("get_query_results", {"status": "Complete", "results": []})
        xray_stub.add_response("get_trace_summaries", {"TraceSummaries": []})
        found = aws_story(
            "m9",
            log_groups=["g"],
            since_s=60,
            logs_client=logs,
            xray_client=xray,
            clock=lambda: 4600.0,
            sleep=lambda s: None,
        )
    assert found.steps == [] and found.trace_ids == []
    assert found.unseen[0].startswith("X-Ray has no trace of it (tracing off for the stage")


def test_the_command_refuses_an_id_it_cannot_query_and_a_missing_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trace", 'x" | delete', "--log-group", "g"]) == 2
    assert "give a message id, a trace id (1-…) or an item key" in capsys.readouterr().err
    assert main(["trace", "m1", "--local", str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_the_command_reads_the_local_collector(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "spans.jsonl").write_text("".join(json.dumps(s) + "\n" for s in _life()))
    assert main(["trace", "m1", "--local", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"m1: trace {XRAY}"
    assert len(out) == 7 and "written: table t, key k, 2 WCU" in out[-1]
    assert main(["trace", "nothing", "--local", str(tmp_path)]) == 1
