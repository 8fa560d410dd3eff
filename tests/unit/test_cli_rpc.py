"""`rpc call` finds the request queue and the response prefix in the stack's outputs."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from sqs_blueprint.cli import main
from sqs_blueprint.cli.rpc import DEFAULT_STAGE
from sqs_blueprint.records import Record
from sqs_blueprint.rpc import reference_responder

STAGE = "test"
STACK = "sqs-blueprint-test-request-response"
PREFIX = f"{STACK}-reply-"  # what RequestResponseStack derives from its name
CALL = ["rpc", "call", "--stage", STAGE, "--timeout", "30", "--wait", "1"]
QUOTE = ["--type", "quote", "--json-payload", '{"items": [{"quantity": 2, "unit_price": "0.25"}]}']


def deploy(outputs: dict[str, Any]) -> None:
    """A stack of the stage holding one request queue, with these outputs."""
    template = {
        "Resources": {"Requests": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation").create_stack(StackName=STACK, TemplateBody=json.dumps(template))


def request_queue() -> str:
    [url] = boto3.client("sqs").list_queues()["QueueUrls"]
    return str(url)


@pytest.fixture
def responder(aws: None) -> Iterator[list[Exception]]:
    """The stack's queue, with the reference service answering it; the errors it met."""
    deploy({"RequestQueueUrl": {"Ref": "Requests"}, "ResponseQueuePrefix": PREFIX})
    sqs = boto3.client("sqs")
    url = request_queue()
    service = reference_responder(response_queue_prefix=PREFIX, sqs_client=sqs)
    errors: list[Exception] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            got = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            ).get("Messages", [])
            for message in got:
                try:
                    service.handle(Record.from_sqs(message, queue_url=url))
                except Exception as error:  # left in the queue, as the Lambda would
                    errors.append(error)
                    continue
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            if not got:
                stop.wait(0.02)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield errors
    stop.set()
    thread.join()


def test_call_reads_the_queue_and_prefix_from_the_stack(
    responder: list[Exception], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*CALL, *QUOTE]) == 0
    assert json.loads(capsys.readouterr().out) == {"items": 1, "total": "0.50"}
    assert responder == []


def test_a_given_queue_url_is_used_with_the_stacks_prefix(
    responder: list[Exception], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*CALL, "--queue-url", request_queue(), *QUOTE]) == 0
    assert json.loads(capsys.readouterr().out) == {"items": 1, "total": "0.50"}


def test_a_prefix_the_responder_refuses_times_out_with_the_reason(
    responder: list[Exception], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [*CALL, "--prefix", "myapp-resp-", *QUOTE, "--timeout", "1"]
    assert main(argv) == 1
    assert re.fullmatch(
        r"sqs-blueprint rpc call: no response to request \S+ within the timeout; the "
        r"responder answers only reply queues named with its stack's ResponseQueuePrefix: "
        r"leave out --prefix to read it from the stack\n",
        capsys.readouterr().err,
    )
    assert responder and "ReplyTo" in str(responder[0])


def test_a_missing_stack_is_one_line_exit_1(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*CALL, *QUOTE]) == 1
    assert capsys.readouterr().err == (
        f"sqs-blueprint rpc call: stack {STACK} does not exist in this account and region "
        "(deploy it, choose its stage with --stage, or give --queue-url and --prefix)\n"
    )


def test_a_missing_output_is_one_line_exit_1(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    deploy({"RequestQueueUrl": {"Ref": "Requests"}})
    assert main([*CALL, *QUOTE]) == 1
    assert capsys.readouterr().err == (
        f"sqs-blueprint rpc call: stack {STACK} has no output ResponseQueuePrefix (is it the "
        "request/response stack, deployed completely?); give --prefix\n"
    )


def test_a_prefix_output_rpc_call_cannot_use_is_one_line_exit_2(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy({"RequestQueueUrl": {"Ref": "Requests"}, "ResponseQueuePrefix": "bad!"})
    assert main([*CALL, *QUOTE]) == 2
    assert capsys.readouterr().err == (
        "sqs-blueprint rpc call: response_queue_prefix must be 1..48 letters, digits, '-' or "
        "'_' (a 32-character id is appended), got 'bad!'\n"
    )


def test_both_flags_need_no_stack(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    url = boto3.client("sqs").create_queue(QueueName="requests")["QueueUrl"]
    argv = ["rpc", "call", "--queue-url", url, "--prefix", "p-", "--type", "t", "--timeout", "1"]
    assert main([*argv, "--wait", "1"]) == 1  # nobody answers; no stack was looked for
    assert capsys.readouterr().err.startswith("sqs-blueprint rpc call: no response to request")


def test_the_default_stage_is_the_apps() -> None:
    from stacks.config import DEFAULT_STAGE as APP_DEFAULT_STAGE

    assert DEFAULT_STAGE == APP_DEFAULT_STAGE
