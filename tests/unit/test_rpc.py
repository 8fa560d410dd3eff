"""Request/response on moto: the client, the responder and the reference service."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sqs_blueprint.cli import main
from sqs_blueprint.records import Record
from sqs_blueprint.rpc import (
    ReplyToRefused,
    RequestError,
    Responder,
    RpcClient,
    RpcError,
    RpcTimeout,
    quote,
    reference_responder,
)

PREFIX = "rpc-resp-"
ACCOUNT = "123456789012"  # moto's default account


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


@pytest.fixture
def request_queue(sqs: Any) -> str:
    url: str = sqs.create_queue(QueueName="requests")["QueueUrl"]
    return url


def client(sqs: Any, request_queue: str, **kwargs: Any) -> RpcClient:
    return RpcClient(
        request_queue_url=request_queue,
        response_queue_prefix=PREFIX,
        sqs_client=sqs,
        wait_time_seconds=1,
        **kwargs,
    )


def serve_once(sqs: Any, queue_url: str, responder: Responder) -> list[Exception]:
    """Answer what is in the request queue now; delete what was handled, return the errors."""
    errors: list[Exception] = []
    for message in sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=0,  # FACTS §7
        MessageAttributeNames=["All"],
        AttributeNames=["All"],
    ).get("Messages", []):
        try:
            responder.handle(Record.from_sqs(message, queue_url=queue_url))
        except Exception as error:
            errors.append(error)
            continue
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return errors


@pytest.fixture
def server(sqs: Any, request_queue: str) -> Iterator[Responder]:
    """The reference service answering in a background thread."""
    responder = reference_responder(response_queue_prefix=PREFIX, sqs_client=sqs)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            if not serve_once(sqs, request_queue, responder):
                stop.wait(0.02)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield responder
    stop.set()
    thread.join()


def depth(sqs: Any, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attrs[n]) for n in names)


def queue_names(sqs: Any) -> list[str]:
    return [u.rsplit("/", 1)[1] for u in sqs.list_queues().get("QueueUrls", [])]


def sha256(data: str) -> str:
    return hashlib.sha256(data.encode()).hexdigest()


def test_call_returns_the_response(sqs: Any, request_queue: str, server: Responder) -> None:
    with client(sqs, request_queue) as rpc:
        answer = rpc.call({"type": "checksum", "data": "hello"}, timeout=5)
    assert answer == {"algorithm": "sha256", "hexdigest": sha256("hello")}


def test_concurrent_calls_from_several_clients_reach_the_right_client(
    sqs: Any, request_queue: str, server: Responder
) -> None:
    results: dict[str, list[tuple[str, dict[str, Any]]]] = {}

    def run(name: str) -> None:
        with client(sqs, request_queue) as rpc:
            data = [f"{name}-{i}" for i in range(5)]
            futures = [rpc.submit({"type": "checksum", "data": d}, timeout=10) for d in data]
            results[name] = [(d, f.result()) for d, f in zip(data, futures, strict=True)]

    threads = [threading.Thread(target=run, args=(f"client{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["client0", "client1", "client2"]
    for pairs in results.values():
        for data, answer in pairs:
            assert answer["hexdigest"] == sha256(data)
    assert not [n for n in queue_names(sqs) if n.startswith(PREFIX)]  # all deleted on exit


def test_response_queue_is_created_with_prefix_and_short_retention(
    sqs: Any, request_queue: str
) -> None:
    with client(sqs, request_queue, response_retention_s=120) as rpc:
        url = rpc.response_queue_url
        assert url is not None and url.rsplit("/", 1)[1].startswith(PREFIX)
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attrs["MessageRetentionPeriod"] == "120"
    assert queue_names(sqs) == ["requests"]


def test_fixed_response_queue_is_used_and_kept(
    sqs: Any, request_queue: str, server: Responder
) -> None:
    fixed = sqs.create_queue(QueueName=f"{PREFIX}fixed")["QueueUrl"]
    with client(sqs, request_queue, response_queue_url=fixed) as rpc:
        assert rpc.call({"type": "checksum", "data": "x"}, timeout=5)["hexdigest"] == sha256("x")
    assert f"{PREFIX}fixed" in queue_names(sqs)


def test_call_times_out(sqs: Any, request_queue: str) -> None:
    with client(sqs, request_queue) as rpc:
        started = time.monotonic()
        with pytest.raises(RpcTimeout, match=r"no response to request \w+ within the timeout"):
            rpc.call({"type": "checksum", "data": "x"}, timeout=0.3)
        assert time.monotonic() - started < 1


def test_submitted_future_times_out_without_a_waiter(sqs: Any, request_queue: str) -> None:
    with client(sqs, request_queue) as rpc:
        future = rpc.submit({"type": "checksum", "data": "x"}, timeout=0.2)
        assert isinstance(future.exception(timeout=3), RpcTimeout)


def test_late_response_is_deleted_and_dropped(
    sqs: Any, request_queue: str, caplog: pytest.LogCaptureFixture
) -> None:
    responder = reference_responder(response_queue_prefix=PREFIX, sqs_client=sqs)
    with client(sqs, request_queue) as rpc, caplog.at_level(logging.INFO, "sqs_blueprint.rpc"):
        assert rpc.response_queue_url is not None
        with pytest.raises(RpcTimeout):
            rpc.call({"type": "checksum", "data": "late"}, timeout=0.2)
        assert serve_once(sqs, request_queue, responder) == []  # the late answer
        # an idle client stops polling: the late answer is dropped at the latest with the next
        future = rpc.submit({"type": "checksum", "data": "next"}, timeout=5)
        assert serve_once(sqs, request_queue, responder) == []
        assert future.result(timeout=5)["hexdigest"] == sha256("next")
        assert "dropped a late or unknown response" in caplog.text
        assert depth(sqs, rpc.response_queue_url) == 0  # deleted, never redelivered


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"type": "nope"}, "unknown request type 'nope'; known: checksum, quote"),
        ({"data": "x"}, "unknown request type None"),
        ({"type": "checksum", "data": "x", "algorithm": "crc"}, "unsupported algorithm 'crc'"),
        ({"type": "quote", "items": []}, "quote needs a non-empty list 'items'"),
    ],
)
def test_error_response_raises_the_server_message(
    sqs: Any, request_queue: str, server: Responder, payload: dict[str, Any], message: str
) -> None:
    with client(sqs, request_queue) as rpc, pytest.raises(RpcError) as err:
        rpc.call(payload, timeout=5)
    assert message in str(err.value)


def test_non_object_request_is_answered_with_an_error(sqs: Any, request_queue: str) -> None:
    responder = reference_responder(response_queue_prefix=PREFIX, sqs_client=sqs)
    reply = sqs.create_queue(QueueName=f"{PREFIX}manual")["QueueUrl"]
    sqs.send_message(
        QueueUrl=request_queue,
        MessageBody="[1, 2]",
        MessageAttributes={
            "ReplyTo": {"DataType": "String", "StringValue": reply},
            "CorrelationId": {"DataType": "String", "StringValue": "c1"},
        },
    )
    assert serve_once(sqs, request_queue, responder) == []
    [answer] = sqs.receive_message(QueueUrl=reply, MessageAttributeNames=["All"])["Messages"]
    assert json.loads(answer["Body"]) == {"error": "the request is not a JSON object"}
    assert answer["MessageAttributes"]["Status"]["StringValue"] == "error"
    assert answer["MessageAttributes"]["CorrelationId"]["StringValue"] == "c1"


def send_raw_request(sqs: Any, request_queue: str, reply_to: str | None) -> None:
    attributes = {"CorrelationId": {"DataType": "String", "StringValue": "c1"}}
    if reply_to is not None:
        attributes["ReplyTo"] = {"DataType": "String", "StringValue": reply_to}
    sqs.send_message(
        QueueUrl=request_queue,
        MessageBody=json.dumps({"type": "checksum", "data": "x"}),
        MessageAttributes=attributes,
    )


def test_forged_reply_to_is_refused_and_nothing_is_sent(sqs: Any, request_queue: str) -> None:
    victim = sqs.create_queue(QueueName="orders")["QueueUrl"]
    responder = reference_responder(response_queue_prefix=PREFIX, sqs_client=sqs)
    send_raw_request(sqs, request_queue, victim)
    [error] = serve_once(sqs, request_queue, responder)
    assert isinstance(error, ReplyToRefused)
    assert "ReplyTo 'https://" in str(error)
    assert f"whose name starts with '{PREFIX}'" in str(error)
    assert depth(sqs, victim) == 0
    assert depth(sqs, request_queue) == 1  # left for retry, then the DLQ


def test_missing_reply_to_is_refused(sqs: Any, request_queue: str) -> None:
    responder = reference_responder(response_queue_prefix=PREFIX, sqs_client=sqs)
    send_raw_request(sqs, request_queue, None)
    [error] = serve_once(sqs, request_queue, responder)
    assert isinstance(error, ReplyToRefused)
    assert "ReplyTo None" in str(error)


@pytest.mark.parametrize(
    "reply_to",
    [
        "",
        "rpc-resp-abc",
        f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/orders",
        f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/x-rpc-resp-abc",
        f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/rpc-resp-abc/extra",
        f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/rpc-resp-abc?Action=DeleteQueue",
        "https://sqs.us-east-1.amazonaws.com/999999999999/rpc-resp-abc",  # another account
        f"ftp://sqs.us-east-1.amazonaws.com/{ACCOUNT}/rpc-resp-abc",
    ],
)
def test_check_reply_to_refuses(reply_to: str) -> None:
    responder = Responder(response_queue_prefix=PREFIX, sqs_client=object())
    with pytest.raises(ReplyToRefused, match="is not a queue URL of this account"):
        responder.check_reply_to(reply_to, f"arn:aws:sqs:us-east-1:{ACCOUNT}:requests")


def test_check_reply_to_accepts_queue_urls_with_the_prefix() -> None:
    responder = Responder(response_queue_prefix=PREFIX, sqs_client=object())
    for url in (
        f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/rpc-resp-abc",
        f"http://localhost:5000/{ACCOUNT}/rpc-resp-abc",
    ):
        assert responder.check_reply_to(url, f"arn:aws:sqs:us-east-1:{ACCOUNT}:requests") == url


def test_handler_failure_raises_for_retry_and_sends_nothing(sqs: Any, request_queue: str) -> None:
    def broken(request: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("database unavailable")

    responder = Responder(
        response_queue_prefix=PREFIX, sqs_client=sqs, handlers={"checksum": broken}
    )
    reply = sqs.create_queue(QueueName=f"{PREFIX}manual")["QueueUrl"]
    send_raw_request(sqs, request_queue, reply)
    [error] = serve_once(sqs, request_queue, responder)
    assert str(error) == "database unavailable"
    assert depth(sqs, reply) == 0


def test_response_to_a_deleted_queue_is_dropped(sqs: Any, request_queue: str) -> None:
    responder = reference_responder(response_queue_prefix=PREFIX, sqs_client=sqs)
    gone = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/{PREFIX}gone"
    send_raw_request(sqs, request_queue, gone)
    assert serve_once(sqs, request_queue, responder) == []
    assert depth(sqs, request_queue) == 0


def test_register_adds_a_request_type(sqs: Any, request_queue: str) -> None:
    responder = Responder(response_queue_prefix=PREFIX, sqs_client=sqs)
    responder.register("echo", lambda request: {"echo": request["text"]})
    with client(sqs, request_queue) as rpc:
        future = rpc.submit({"type": "echo", "text": "hi"}, timeout=5)
        assert serve_once(sqs, request_queue, responder) == []
        assert future.result(timeout=5) == {"echo": "hi"}


def test_quote() -> None:
    items = [{"sku": "a", "quantity": 3, "unit_price": "1.10"}, {"quantity": 1, "unit_price": 2}]
    assert quote({"type": "quote", "items": items}) == {"items": 2, "total": "5.30"}
    for bad in (
        {"quantity": 0, "unit_price": "1"},
        {"quantity": 1},
        {"quantity": 1, "unit_price": "x"},
    ):
        with pytest.raises(RequestError, match="bad item"):
            quote({"type": "quote", "items": [bad]})


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: RpcClient(request_queue_url="u", response_queue_prefix=""), "prefix must be"),
        (lambda: RpcClient(request_queue_url="u", response_queue_prefix="a/b"), "got 'a/b'"),
        (lambda: RpcClient(request_queue_url="u", response_queue_prefix="p" * 49), "1..48"),
        (
            lambda: RpcClient(
                request_queue_url="u", response_queue_prefix="p", wait_time_seconds=0
            ),
            "wait_time_seconds must be 1..20, got 0",
        ),
        (
            lambda: RpcClient(
                request_queue_url="u", response_queue_prefix="p", response_retention_s=30
            ),
            "response_retention_s must be 60..1209600, got 30",
        ),
        (lambda: Responder(response_queue_prefix=""), "response_queue_prefix must be"),
    ],
)
def test_bad_arguments(make: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_call_needs_the_context_manager_and_a_positive_timeout(
    sqs: Any, request_queue: str
) -> None:
    rpc = client(sqs, request_queue)
    with pytest.raises(RuntimeError, match="use RpcClient as a context manager"):
        rpc.call({"type": "checksum"}, timeout=1)
    with rpc, pytest.raises(ValueError, match="timeout must be a positive number"):
        rpc.call({"type": "checksum"}, timeout=0)


def test_cli_rpc_call(
    sqs: Any, request_queue: str, server: Responder, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["rpc", "call", "--queue-url", request_queue, "--prefix", PREFIX, "--type", "quote"]
    argv += ["--json-payload", '{"items": [{"quantity": 2, "unit_price": "0.25"}]}']
    argv += ["--timeout", "5", "--wait", "1"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out) == {"items": 1, "total": "0.50"}


def test_cli_rpc_call_error(
    sqs: Any, request_queue: str, server: Responder, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["rpc", "call", "--queue-url", request_queue, "--prefix", PREFIX, "--type", "nope"]
    assert main([*argv, "--timeout", "5", "--wait", "1"]) == 1
    assert "sqs-blueprint rpc call: unknown request type 'nope'" in capsys.readouterr().err
