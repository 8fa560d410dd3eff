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
from botocore.stub import Stubber
from moto import mock_aws
from moto.server import ThreadedMotoServer

from sqs_blueprint.cli import main
from sqs_blueprint.records import Record
from sqs_blueprint.rpc import (
    REFERENCE_HANDLERS,
    ReplyToRefused,
    RequestError,
    Responder,
    RpcClient,
    RpcError,
    RpcTimeout,
    principal_arns,
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
        WaitTimeSeconds=0,  # docs/aws-facts.md#local-cloud
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
        answer = rpc.call({"type": "checksum", "data": "hello"}, timeout=60)
    assert answer == {"algorithm": "sha256", "hexdigest": sha256("hello")}


def test_concurrent_calls_from_several_clients_reach_the_right_client(
    sqs: Any, request_queue: str, server: Responder
) -> None:
    results: dict[str, list[tuple[str, dict[str, Any]]]] = {}

    def run(name: str) -> None:
        with client(sqs, request_queue) as rpc:
            data = [f"{name}-{i}" for i in range(5)]
            futures = [rpc.submit({"type": "checksum", "data": d}, timeout=60) for d in data]
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
        assert rpc.call({"type": "checksum", "data": "x"}, timeout=60)["hexdigest"] == sha256("x")
    assert f"{PREFIX}fixed" in queue_names(sqs)


def test_call_times_out(sqs: Any, request_queue: str) -> None:
    with client(sqs, request_queue) as rpc:
        started = time.monotonic()
        with pytest.raises(RpcTimeout, match=r"no response to request [\w.]+ within the timeout"):
            rpc.call({"type": "checksum", "data": "x"}, timeout=0.3)
        assert time.monotonic() - started >= 0.3  # it waited its timeout, then gave up


def test_submitted_future_times_out_without_a_waiter(sqs: Any, request_queue: str) -> None:
    with client(sqs, request_queue) as rpc:
        future = rpc.submit({"type": "checksum", "data": "x"}, timeout=0.2)
        assert isinstance(future.exception(timeout=60), RpcTimeout)


def test_late_response_is_deleted_and_dropped(
    sqs: Any, request_queue: str, caplog: pytest.LogCaptureFixture
) -> None:
    with client(sqs, request_queue) as rpc, caplog.at_level(logging.INFO, "sqs_blueprint.rpc"):
        assert rpc.response_queue_url is not None
        late = rpc.submit({"type": "slow"}, timeout=0.5)

        def slow(request: dict[str, Any]) -> dict[str, Any]:  # answers once its caller gave up
            assert isinstance(late.exception(timeout=60), RpcTimeout)
            return {"late": True}

        responder = Responder(
            response_queue_prefix=PREFIX,
            sqs_client=sqs,
            handlers={**REFERENCE_HANDLERS, "slow": slow},
        )
        assert serve_once(sqs, request_queue, responder) == []  # the late answer
        # an idle client stops polling: the late answer is dropped at the latest with the next
        future = rpc.submit({"type": "checksum", "data": "next"}, timeout=60)
        assert serve_once(sqs, request_queue, responder) == []
        assert future.result(timeout=60)["hexdigest"] == sha256("next")
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
        rpc.call(payload, timeout=60)
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
        # urlsplit drops tabs and newlines, so the whole text must be a queue URL
        f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/rpc-resp-abc\n",
        f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/rpc-resp-a\nbc",
        f" https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/rpc-resp-abc",
        "https://sqs.us-east-1.amazonaws.com/\u0661\u0662\u0663/rpc-resp-abc",  # Unicode digits
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
        future = rpc.submit({"type": "echo", "text": "hi"}, timeout=60)
        assert serve_once(sqs, request_queue, responder) == []
        assert future.result(timeout=60) == {"echo": "hi"}


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
    argv += ["--timeout", "60", "--wait", "1"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out) == {"items": 1, "total": "0.50"}


def test_cli_rpc_call_error(
    sqs: Any, request_queue: str, server: Responder, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["rpc", "call", "--queue-url", request_queue, "--prefix", PREFIX, "--type", "nope"]
    assert main([*argv, "--timeout", "60", "--wait", "1"]) == 1
    assert "sqs-blueprint rpc call: unknown request type 'nope'" in capsys.readouterr().err


# ---------------------------------------------------------------- every bad request is answered


def send_raw(
    sqs: Any, request_queue: str, reply_to: str, body: str, **attributes: dict[str, str]
) -> None:
    sqs.send_message(
        QueueUrl=request_queue,
        MessageBody=body,
        MessageAttributes={
            "ReplyTo": {"DataType": "String", "StringValue": reply_to},
            "CorrelationId": {"DataType": "String", "StringValue": "c1"},
            **attributes,
        },
    )


def answers(sqs: Any, reply: str) -> list[tuple[str, dict[str, Any]]]:
    """(Status, body) of each response in ``reply``."""
    messages = sqs.receive_message(
        QueueUrl=reply, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", [])
    return [
        (m["MessageAttributes"]["Status"]["StringValue"], json.loads(m["Body"])) for m in messages
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '{"type": "quote", "items": [{"quantity": 1, "unit_price": NaN}]}',
            "the request is not JSON: NaN is not a JSON number",
        ),
        (
            '{"type": "quote", "items": [{"quantity": 1, "unit_price": -Infinity}]}',
            "the request is not JSON: -Infinity is not a JSON number",
        ),
        (  # float('inf') cannot become an int: OverflowError
            '{"type": "quote", "items": [{"quantity": 1e400, "unit_price": "1"}]}',
            "bad item {'quantity': inf, 'unit_price': '1'}: "
            "needs an integer quantity and a decimal unit_price",
        ),
        (
            '{"type": "quote", "items": [{"quantity": 1, "unit_price": "NaN"}]}',
            "bad item {'quantity': 1, 'unit_price': 'NaN'}: "
            "quantity >= 1 and a finite unit_price >= 0",
        ),
        (  # decimal InvalidOperation: 31 digits do not round to cents in 28
            '{"type": "quote", "items": [{"quantity": 1000000000000000000000000000000, '
            '"unit_price": "1"}]}',
            "the total 1.000000000000000000000000000E+30 has too many digits to round to cents "
            "(28 significant digits at most)",
        ),
        (  # decimal Overflow
            '{"type": "quote", "items": [{"quantity": 2, "unit_price": "9e999999"}]}',
            "quote cannot be computed from this request (Overflow); change the values it carries",
        ),
        (
            '{"type": "checksum", "data": "\\ud800"}',
            "checksum needs 'data' to be Unicode text: it has a lone surrogate "
            "(an unpaired \\ud800-\\udfff escape)",
        ),
    ],
)
def test_a_request_whose_content_breaks_the_handler_gets_an_error_response(
    sqs: Any, request_queue: str, body: str, message: str
) -> None:
    responder = reference_responder(response_queue_prefix=PREFIX, sqs_client=sqs)
    reply = sqs.create_queue(QueueName=f"{PREFIX}manual")["QueueUrl"]
    send_raw(sqs, request_queue, reply, body)

    assert serve_once(sqs, request_queue, responder) == []  # answered and deleted, not retried
    assert answers(sqs, reply) == [("error", {"error": message})]
    assert depth(sqs, request_queue) == 0


# ---------------------------------------------------------------- ReplyTo in the request's account


@pytest.mark.parametrize(
    "source",
    [
        f"arn:aws:sqs:us-east-1:{ACCOUNT}:requests",
        f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/requests",
        f"http://localhost:5000/{ACCOUNT}/requests",
    ],
)
def test_reply_to_must_be_in_the_account_of_the_request_queue(source: str) -> None:
    responder = Responder(response_queue_prefix=PREFIX, sqs_client=object())
    ours = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/rpc-resp-abc"
    theirs = "https://sqs.us-east-1.amazonaws.com/999999999999/rpc-resp-abc"
    assert responder.check_reply_to(ours, source) == ours
    with pytest.raises(ReplyToRefused) as error:
        responder.check_reply_to(theirs, source)
    assert str(error.value) == (
        f"ReplyTo {theirs!r} is not a queue URL of this account whose name starts with "
        f"{PREFIX!r}; the request is not answered"
    )


def test_a_worker_refuses_a_reply_to_in_another_account(sqs: Any, request_queue: str) -> None:
    responder = reference_responder(response_queue_prefix=PREFIX, sqs_client=sqs)
    send_raw_request(
        sqs, request_queue, f"https://sqs.us-east-1.amazonaws.com/999999999999/{PREFIX}x"
    )
    [error] = serve_once(sqs, request_queue, responder)  # the source is the queue URL
    assert isinstance(error, ReplyToRefused) and "999999999999" in str(error)


# ---------------------------------------------------------------- clients sharing a response queue


def test_clients_sharing_a_response_queue_each_get_their_own_responses(
    sqs: Any, request_queue: str, server: Responder
) -> None:
    shared = sqs.create_queue(QueueName=f"{PREFIX}shared")["QueueUrl"]
    results: dict[str, list[tuple[str, str]]] = {}

    def run(name: str) -> None:
        with client(sqs, request_queue, response_queue_url=shared) as rpc:
            data = [f"{name}-{i}" for i in range(5)]
            futures = [rpc.submit({"type": "checksum", "data": d}, timeout=60) for d in data]
            results[name] = [
                (d, f.result()["hexdigest"]) for d, f in zip(data, futures, strict=True)
            ]

    threads = [threading.Thread(target=run, args=(f"client{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == ["client0", "client1", "client2"]  # no call timed out
    assert all(digest == sha256(data) for pairs in results.values() for data, digest in pairs)
    assert depth(sqs, shared) == 0


# ---------------------------------------------------------------- the response queue's policy


def test_the_response_queue_is_readable_by_its_creator_only_and_over_tls_only(
    sqs: Any, request_queue: str
) -> None:
    with client(sqs, request_queue) as rpc:
        url = rpc.response_queue_url
        assert url is not None
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy", "QueueArn"])
        policy = json.loads(attrs["Attributes"]["Policy"])
    arn = attrs["Attributes"]["QueueArn"]
    assert policy == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyItsCreatorReads",
                "Effect": "Deny",
                "Principal": "*",
                "Action": [
                    "sqs:ChangeMessageVisibility",
                    "sqs:DeleteMessage",
                    "sqs:PurgeQueue",
                    "sqs:ReceiveMessage",
                ],
                "Resource": arn,
                # Any caller but a role session is named by the ARN GetCallerIdentity gives
                # (moto's, an IAM user, says arn:aws:sts where AWS says arn:aws:iam).
                "Condition": {
                    "ArnNotLike": {"aws:PrincipalArn": [f"arn:aws:sts::{ACCOUNT}:user/moto"]}
                },
            },
            {
                "Sid": "TlsOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sqs:*",
                "Resource": arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


def test_a_role_session_is_named_by_its_role_arn_in_the_policy(
    sqs: Any, request_queue: str
) -> None:
    sts = boto3.client("sts", region_name="us-east-1")
    with Stubber(sts) as stub:
        stub.add_response(
            "get_caller_identity",
            {
                "UserId": "AROAEXAMPLE:worker-1",
                "Account": ACCOUNT,
                "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/rpc-client/worker-1",
            },
        )
        with client(sqs, request_queue, sts_client=sts) as rpc:
            assert rpc.response_queue_url is not None
            attrs = sqs.get_queue_attributes(
                QueueUrl=rpc.response_queue_url, AttributeNames=["Policy"]
            )
    statement = json.loads(attrs["Attributes"]["Policy"])["Statement"][0]
    # aws:PrincipalArn is the role's ARN, with its path if it has one; never the session's.
    assert statement["Condition"] == {
        "ArnNotLike": {
            "aws:PrincipalArn": [
                f"arn:aws:iam::{ACCOUNT}:role/rpc-client",
                f"arn:aws:iam::{ACCOUNT}:role/*/rpc-client",
            ]
        }
    }
    assert principal_arns(f"arn:aws-cn:iam::{ACCOUNT}:root") == [f"arn:aws-cn:iam::{ACCOUNT}:root"]


# ---------------------------------------------------------------- deadlines


def test_requests_carry_the_deadline_of_their_call(sqs: Any, request_queue: str) -> None:
    with client(sqs, request_queue) as rpc:
        before = time.time() * 1000
        rpc.submit({"type": "checksum", "data": "x"}, timeout=30)
        after = time.time() * 1000
        [message] = sqs.receive_message(QueueUrl=request_queue, MessageAttributeNames=["All"])[
            "Messages"
        ]
    deadline = message["MessageAttributes"]["Deadline"]
    assert deadline["DataType"] == "Number"
    assert before + 30_000 - 1 <= int(deadline["StringValue"]) <= after + 30_000


def test_a_request_past_its_deadline_is_dropped_unanswered_and_deleted(
    sqs: Any, request_queue: str, caplog: pytest.LogCaptureFixture
) -> None:
    responder = reference_responder(response_queue_prefix=PREFIX, sqs_client=sqs)
    reply = sqs.create_queue(QueueName=f"{PREFIX}manual")["QueueUrl"]
    past = str(int(time.time() * 1000) - 1)
    future = str(int(time.time() * 1000) + 3_600_000)
    body = json.dumps({"type": "checksum", "data": "x"})
    send_raw(sqs, request_queue, reply, body, Deadline={"DataType": "Number", "StringValue": past})

    with caplog.at_level(logging.WARNING, "sqs_blueprint.rpc"):
        assert serve_once(sqs, request_queue, responder) == []
    assert depth(sqs, request_queue) == 0 and answers(sqs, reply) == []  # answered by nobody
    assert "dropped unanswered: its caller's deadline has passed" in caplog.text

    send_raw(
        sqs, request_queue, reply, body, Deadline={"DataType": "Number", "StringValue": future}
    )
    send_raw(sqs, request_queue, reply, body)  # no deadline: an older client, always answered
    assert serve_once(sqs, request_queue, responder) == []
    assert [status for status, _ in answers(sqs, reply)] == ["ok", "ok"]


def test_a_malformed_deadline_is_answered_with_an_error(sqs: Any, request_queue: str) -> None:
    responder = reference_responder(response_queue_prefix=PREFIX, sqs_client=sqs)
    reply = sqs.create_queue(QueueName=f"{PREFIX}manual")["QueueUrl"]
    body = json.dumps({"type": "checksum", "data": "x"})
    send_raw(
        sqs, request_queue, reply, body, Deadline={"DataType": "String", "StringValue": "soon"}
    )
    assert serve_once(sqs, request_queue, responder) == []
    assert answers(sqs, reply) == [
        ("error", {"error": "Deadline 'soon' is not a time in epoch milliseconds"})
    ]


def test_the_creator_is_found_with_the_sqs_clients_own_endpoint_and_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No endpoint or credentials in the environment: only the SQS client knows them.
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()  # the server binds a free port itself and says which
    port = server.get_host_and_port()[1]
    try:
        sqs = boto3.client(
            "sqs",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="eu-west-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        requests = sqs.create_queue(QueueName="requests")["QueueUrl"]
        with client(sqs, requests) as rpc:
            assert rpc.response_queue_url is not None
            attrs = sqs.get_queue_attributes(
                QueueUrl=rpc.response_queue_url, AttributeNames=["Policy", "QueueArn"]
            )["Attributes"]
    finally:
        server.stop()
    statement = json.loads(attrs["Policy"])["Statement"][0]
    assert statement["Resource"] == attrs["QueueArn"]
    assert statement["Resource"].startswith(f"arn:aws:sqs:eu-west-1:{ACCOUNT}:{PREFIX}")
