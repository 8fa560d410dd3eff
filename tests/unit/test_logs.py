"""One log shape for a record in every consumer: the EC2 worker and the three Lambda handlers.

An operator who looks for a message id in CloudWatch Logs Insights filters on
``correlation_id``; the worker and the Lambda must both write it, with the same
``service``, ``receive_count`` and ``outcome`` keys, in the same types.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.unit.lambda_events import FakeContext, failed_ids, load_handler, receive_event
from tests.unit.tables import create_table
from tests.unit.test_worker import (
    CREDENTIALS,
    REGION,
    WorkerProcess,
    endpoint,  # noqa: F401 - the moto server both consumers use
    new_queue,
    wait_for,
)

SHARED = ("service", "correlation_id", "receive_count", "outcome", "reason", "level", "timestamp")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}[+-]\d{4}")


def send(sqs: Any, url: str, *bodies: str) -> list[str]:
    return [sqs.send_message(QueueUrl=url, MessageBody=b)["MessageId"] for b in bodies]


def outcome_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if "outcome" in line]


def test_a_failed_record_logs_the_same_keys_in_the_worker_and_the_lambda(
    endpoint: str,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = f"t-{uuid.uuid4().hex[:8]}"
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
        "TABLE_NAME": table,
        "KEY_FIELDS": "id",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("PAYLOAD_BUCKET", raising=False)
    create_table(boto3.client("dynamodb"), table)
    sqs = boto3.client("sqs")
    worker_queue, lambda_queue = new_queue(sqs), new_queue(sqs)
    (worker_bad, _) = send(sqs, worker_queue, "not json", '{"id": 1}')
    (lambda_bad, _) = send(sqs, lambda_queue, "not json", '{"id": 2}')

    # The worker: `sqs-blueprint worker` in its own process, its stderr in a file.
    worker = WorkerProcess(
        endpoint, tmp_path, worker_queue, "--handler", "builtin:write-buffer", TABLE_NAME=table
    )
    wait_for(lambda: outcome_lines(worker.log()), 60, "the worker's line for the failed record")
    worker.stop()
    # The Lambda: the real handler, its Powertools output captured.
    handler = load_handler("write_buffer")
    stream = io.StringIO()
    handler.logger.registered_handler.setStream(stream)
    response = handler.lambda_handler(receive_event(sqs, lambda_queue), FakeContext())
    assert failed_ids(response) == [lambda_bad]
    lambda_log = [json.loads(line) for line in stream.getvalue().splitlines()]

    (on_worker,) = outcome_lines(worker.log())
    (on_lambda,) = outcome_lines(lambda_log)
    assert {k: type(on_worker[k]) for k in SHARED} == {k: type(on_lambda[k]) for k in SHARED}
    assert (on_worker["service"], on_lambda["service"]) == ("worker", "write-buffer")
    assert (on_worker["correlation_id"], on_lambda["correlation_id"]) == (worker_bad, lambda_bad)
    for line in (on_worker, on_lambda):
        assert (line["receive_count"], line["outcome"], line["level"]) == (1, "failed", "WARNING")
        assert TIMESTAMP.fullmatch(line["timestamp"])
    assert on_worker["reason"] == on_lambda["reason"]


SHAPE = {"service": str, "correlation_id": str, "receive_count": int, "outcome": str}


def captured(handler: Any) -> io.StringIO:
    stream = io.StringIO()
    handler.logger.registered_handler.setStream(stream)
    return stream


def record_lines(stream: io.StringIO) -> dict[str, dict[str, Any]]:
    """The lines with an outcome, by message id; each has the shared keys in their types."""
    lines = outcome_lines([json.loads(line) for line in stream.getvalue().splitlines()])
    for line in lines:
        assert {k: type(line.get(k)) for k in SHAPE} == SHAPE, line
    return {line["correlation_id"]: line for line in lines}


def test_the_ordered_and_responder_lambdas_log_the_same_keys(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqs = boto3.client("sqs")
    create_table(boto3.client("dynamodb"), "events")
    for name, value in {"TABLE_NAME": "events", "KEY_FIELDS": "account"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RESPONSE_QUEUE_PREFIX", "rpc-resp-")
    monkeypatch.delenv("PAYLOAD_BUCKET", raising=False)
    fifo = sqs.create_queue(QueueName="events.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    bad, _ = (
        sqs.send_message(
            QueueUrl=fifo, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=group
        )["MessageId"]
        for body, group in (("not json", "g1"), ('{"account": "a"}', "g2"))
    )
    requests = sqs.create_queue(QueueName="requests")["QueueUrl"]
    reply = sqs.create_queue(QueueName="rpc-resp-one")["QueueUrl"]
    asked, forged = (
        sqs.send_message(
            QueueUrl=requests,
            MessageBody=json.dumps({"type": "checksum", "data": "abc"}),
            MessageAttributes={
                "ReplyTo": {"DataType": "String", "StringValue": to},
                "CorrelationId": {"DataType": "String", "StringValue": uuid.uuid4().hex},
            },
        )["MessageId"]
        for to in (reply, sqs.create_queue(QueueName="payments")["QueueUrl"])
    )

    ordered, responder = load_handler("ordered"), load_handler("responder")
    ordered_log, responder_log = captured(ordered), captured(responder)
    ordered.lambda_handler(receive_event(sqs, fifo), FakeContext())
    responder.lambda_handler(receive_event(sqs, requests), FakeContext())

    assert {k: (v["service"], v["outcome"]) for k, v in record_lines(ordered_log).items()} == {
        bad: ("ordered", "failed")
    }
    assert {k: (v["service"], v["outcome"]) for k, v in record_lines(responder_log).items()} == {
        asked: ("responder", "processed"),
        forged: ("responder", "failed"),
    }
