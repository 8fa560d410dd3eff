"""The responder Lambda handler with Lambda-shaped events
(docs/aws-facts.md#lambda-event-source-mapping) on moto."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import uuid
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from sqs_blueprint.errors import UsageError
from sqs_blueprint.rpc import ResponderSettings, RpcClient, RpcError
from tests.unit.lambda_events import FakeContext, load_handler, receive_event

PREFIX = "rpc-resp-"
REGION = "us-east-1"


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("RESPONSE_QUEUE_PREFIX", PREFIX)
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


@pytest.fixture
def handler(sqs: Any) -> ModuleType:
    return load_handler("responder")  # a fresh module: its responder is created lazily inside moto


@pytest.fixture
def request_queue(sqs: Any) -> str:
    url: str = sqs.create_queue(QueueName="requests")["QueueUrl"]
    return url


def send_request(sqs: Any, queue_url: str, reply_to: str, body: dict[str, Any]) -> str:
    correlation_id = uuid.uuid4().hex
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=json.dumps(body),
        MessageAttributes={
            "ReplyTo": {"DataType": "String", "StringValue": reply_to},
            "CorrelationId": {"DataType": "String", "StringValue": correlation_id},
        },
    )
    return correlation_id


def responses(sqs: Any, queue_url: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """``{correlation id: (status, body)}`` of the responses in a queue."""
    out = {}
    for m in sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", []):
        attrs = m["MessageAttributes"]
        out[attrs["CorrelationId"]["StringValue"]] = (
            attrs["Status"]["StringValue"],
            json.loads(m["Body"]),
        )
    return out


def test_batch_answers_good_and_bad_requests_and_fails_only_the_forged_one(
    sqs: Any, handler: ModuleType, request_queue: str
) -> None:
    reply = sqs.create_queue(QueueName=f"{PREFIX}one")["QueueUrl"]
    victim = sqs.create_queue(QueueName="payments")["QueueUrl"]
    ok_id = send_request(sqs, request_queue, reply, {"type": "checksum", "data": "abc"})
    bad_id = send_request(sqs, request_queue, reply, {"type": "nope"})
    send_request(sqs, request_queue, victim, {"type": "checksum", "data": "abc"})
    event = receive_event(sqs, request_queue)
    forged = next(
        r["messageId"]
        for r in event["Records"]
        if r["messageAttributes"]["ReplyTo"]["stringValue"] == victim
    )

    result = handler.lambda_handler(event, FakeContext())

    assert result == {"batchItemFailures": [{"itemIdentifier": forged}]}
    answers = responses(sqs, reply)
    assert answers[ok_id] == (
        "ok",
        {"algorithm": "sha256", "hexdigest": hashlib.sha256(b"abc").hexdigest()},
    )
    assert answers[bad_id][0] == "error"
    assert "unknown request type 'nope'" in answers[bad_id][1]["error"]
    assert sqs.receive_message(QueueUrl=victim).get("Messages", []) == []


def test_forged_reply_to_is_logged_with_the_message_id(
    sqs: Any, handler: ModuleType, request_queue: str
) -> None:
    victim = sqs.create_queue(QueueName="payments")["QueueUrl"]
    good = sqs.create_queue(QueueName=f"{PREFIX}one")["QueueUrl"]
    send_request(sqs, request_queue, victim, {"type": "checksum", "data": "abc"})
    send_request(sqs, request_queue, good, {"type": "checksum", "data": "abc"})
    event = receive_event(sqs, request_queue)
    forged = next(r for r in event["Records"] if "payments" in json.dumps(r))

    stream = io.StringIO()
    previous = handler.logger.registered_handler.setStream(stream)
    try:
        handler.lambda_handler(event, FakeContext())
    finally:
        handler.logger.registered_handler.setStream(previous)

    logs = [json.loads(line) for line in stream.getvalue().splitlines()]
    failure = next(entry for entry in logs if entry["level"] == "ERROR")
    assert failure["correlation_id"] == forged["messageId"]
    assert failure["exception_name"] == "ReplyToRefused"
    answered = next(entry for entry in logs if entry["level"] == "INFO")
    assert answered["status"] == "ok"
    assert answered["correlation_id"] != forged["messageId"]


def test_whole_batch_failing_raises_so_it_returns_to_the_queue(
    sqs: Any, handler: ModuleType, request_queue: str
) -> None:
    # docs/aws-facts.md#powertools: Powertools raises BatchProcessingError when every record fails.
    victim = sqs.create_queue(QueueName="payments")["QueueUrl"]
    send_request(sqs, request_queue, victim, {"type": "checksum", "data": "abc"})
    with pytest.raises(BatchProcessingError):
        handler.lambda_handler(receive_event(sqs, request_queue), FakeContext())


def test_infrastructure_error_fails_the_record(
    sqs: Any, handler: ModuleType, request_queue: str
) -> None:
    reply = sqs.create_queue(QueueName=f"{PREFIX}one")["QueueUrl"]
    send_request(sqs, request_queue, reply, {"type": "checksum", "data": "abc"})
    send_request(sqs, request_queue, reply, {"type": "checksum", "data": "abc"})
    event = receive_event(sqs, request_queue)
    handler.responder().register("checksum", _flaky())

    result = handler.lambda_handler(event, FakeContext())

    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    assert len(responses(sqs, reply)) == 1


def _flaky() -> Any:
    calls = iter([False, True])

    def handle(request: dict[str, Any]) -> dict[str, Any]:
        if next(calls):
            raise ConnectionError("downstream unavailable")
        return {"ok": True}

    return handle


def test_clients_get_answers_through_the_handler(
    sqs: Any, handler: ModuleType, request_queue: str
) -> None:
    """End to end: RpcClient -> request queue -> Lambda-shaped batches -> response queue."""
    stop = threading.Event()

    def esm() -> None:  # an event source mapping: receive, invoke, delete the successes
        while not stop.is_set():
            event = receive_event(sqs, request_queue)
            if not event["Records"]:
                stop.wait(0.02)
                continue
            failed = {
                f["itemIdentifier"]
                for f in handler.lambda_handler(event, FakeContext())["batchItemFailures"]
            }
            for record in event["Records"]:
                if record["messageId"] not in failed:
                    sqs.delete_message(
                        QueueUrl=request_queue, ReceiptHandle=record["receiptHandle"]
                    )

    thread = threading.Thread(target=esm, daemon=True)
    thread.start()
    try:
        with RpcClient(
            request_queue_url=request_queue,
            response_queue_prefix=PREFIX,
            sqs_client=sqs,
            wait_time_seconds=1,
        ) as rpc:
            items = [{"quantity": 2, "unit_price": "1.25"}]
            futures = [rpc.submit({"type": "quote", "items": items * n}, 10) for n in (1, 2, 3)]
            assert [f.result()["total"] for f in futures] == ["2.50", "5.00", "7.50"]
            with pytest.raises(RpcError, match="unsupported algorithm 'crc'"):
                rpc.call({"type": "checksum", "data": "x", "algorithm": "crc"}, timeout=10)
    finally:
        stop.set()
        thread.join()


def test_content_errors_are_answered_and_expired_requests_dropped(
    sqs: Any, handler: ModuleType, request_queue: str
) -> None:
    reply = sqs.create_queue(QueueName=f"{PREFIX}one")["QueueUrl"]
    surrogate = send_request(sqs, request_queue, reply, {"type": "checksum", "data": "\ud800"})
    expired = uuid.uuid4().hex
    sqs.send_message(
        QueueUrl=request_queue,
        MessageBody=json.dumps({"type": "checksum", "data": "abc"}),
        MessageAttributes={
            "ReplyTo": {"DataType": "String", "StringValue": reply},
            "CorrelationId": {"DataType": "String", "StringValue": expired},
            "Deadline": {"DataType": "Number", "StringValue": "1"},  # 1970: long given up
        },
    )
    event = receive_event(sqs, request_queue)

    result = handler.lambda_handler(event, FakeContext())

    assert result == {"batchItemFailures": []}  # both done with: nothing retried
    assert responses(sqs, reply) == {
        surrogate: (
            "error",
            {
                "error": "checksum needs 'data' to be Unicode text: it has a lone surrogate "
                "(an unpaired \\ud800-\\udfff escape)"
            },
        )
    }


def test_settings_round_trip_through_the_environment_the_construct_sets() -> None:
    settings = ResponderSettings(response_queue_prefix=PREFIX)
    assert settings.to_env() == {"RESPONSE_QUEUE_PREFIX": PREFIX}
    assert ResponderSettings.from_env(settings.to_env()) == settings


@settings(max_examples=300)
@given(st.text(max_size=50) | st.from_regex(r"[A-Za-z0-9_-]{1,40}", fullmatch=True))
def test_every_accepted_prefix_round_trips_through_the_environment(prefix: str) -> None:
    try:
        accepted = ResponderSettings(response_queue_prefix=prefix)
    except UsageError:
        return  # refused where it is set, so never written to an environment
    assert ResponderSettings.from_env(accepted.to_env()) == accepted


@pytest.mark.parametrize(
    ("variables", "shown"),
    [({}, "''"), ({"RESPONSE_QUEUE_PREFIX": "bad prefix!"}, "'bad prefix!'")],
)
def test_a_missing_or_bad_prefix_is_refused_with_the_rule(
    variables: dict[str, str], shown: str
) -> None:
    with pytest.raises(UsageError) as caught:
        ResponderSettings.from_env(variables)
    assert str(caught.value) == (
        "RESPONSE_QUEUE_PREFIX must be 1..48 letters, digits, '-' or '_' "
        f"(a 32-character id is appended), got {shown}"
    )


def test_the_handler_without_its_prefix_fails_the_invocation_with_the_rule(
    sqs: Any, request_queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RESPONSE_QUEUE_PREFIX")
    send_request(sqs, request_queue, "unused", {"type": "checksum", "data": "abc"})
    event = receive_event(sqs, request_queue)
    with pytest.raises(UsageError) as caught:  # nothing is processed: the batch stays queued
        load_handler("responder").lambda_handler(event, FakeContext())
    assert str(caught.value) == (
        "RESPONSE_QUEUE_PREFIX must be 1..48 letters, digits, '-' or '_' "
        "(a 32-character id is appended), got ''"
    )
