"""Retry backoff: the delay rule, and the visibility really set on moto."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sqs_blueprint.backoff import Backoff, BackoffError, Failure, Retrier, queue_url_from_arn
from sqs_blueprint.write_buffer import SettingsError, WriteBufferSettings

ARN = "arn:aws:sqs:us-east-1:123456789012:orders"


def test_delay_doubles_per_receive_up_to_the_cap_with_full_jitter() -> None:
    backoff = Backoff(base_s=2, max_s=10)
    top = [backoff.delay(n, lambda: 1.0) for n in (1, 2, 3, 4, 5, 10**6)]
    assert top == [2, 4, 8, 10, 10, 10]
    assert [backoff.delay(n, lambda: 0.5) for n in (1, 2, 3)] == [1, 2, 4]
    assert backoff.delay(3, lambda: 0.0) == 0
    assert backoff.delay(0, lambda: 1.0) == 2  # an absent or odd count is the first receive
    assert Backoff(1, 43_200).delay(100, lambda: 1.0) == 43_200


@pytest.mark.parametrize(
    ("base", "cap", "message"),
    [
        (
            0,
            10,
            "retry backoff: base 0 s must be greater than 0",
        ),
        (
            20,
            10,
            "retry backoff: cap 10 s must be at least the base (20 s) and at most 43200 s, "
            "the longest SQS visibility timeout",
        ),
        (
            1,
            43_201,
            "retry backoff: cap 43201 s must be at least the base (1 s) and at most 43200 s, "
            "the longest SQS visibility timeout",
        ),
    ],
)
def test_bad_backoff_settings_are_refused(base: float, cap: float, message: str) -> None:
    with pytest.raises(BackoffError) as raised:
        Backoff(base, cap)
    assert str(raised.value) == message


def test_settings_read_the_backoff_from_the_environment() -> None:
    env = {"TABLE_NAME": "t", "RETRY_BASE_S": "5", "RETRY_MAX_S": "60"}
    assert WriteBufferSettings.from_env(env).retry == Backoff(5, 60)
    assert WriteBufferSettings.from_env({"TABLE_NAME": "t"}).retry == Backoff(60, 900)
    with pytest.raises(SettingsError) as raised:
        WriteBufferSettings.from_env({**env, "RETRY_MAX_S": "50000"})
    assert str(raised.value) == (
        "RETRY_BASE_S=5, RETRY_MAX_S=50000: retry backoff: cap 50000.0 s must be at least "
        "the base (5.0 s) and at most 43200 s, the longest SQS visibility timeout; "
        "set RETRY_MAX_S between RETRY_BASE_S and 43200"
    )
    with pytest.raises(SettingsError) as raised:
        WriteBufferSettings.from_env({**env, "RETRY_BASE_S": "-1"})
    assert str(raised.value) == "RETRY_BASE_S='-1': must be a number greater than 0"


def test_queue_url_from_an_arn_at_aws_and_at_a_local_endpoint() -> None:
    assert queue_url_from_arn(ARN, "https://sqs.us-east-1.amazonaws.com") == (
        "https://sqs.us-east-1.amazonaws.com/123456789012/orders"
    )
    assert queue_url_from_arn(ARN + ".fifo", "http://127.0.0.1:4566/") == (
        "http://127.0.0.1:4566/123456789012/orders.fifo"
    )
    with pytest.raises(BackoffError) as raised:
        queue_url_from_arn("arn:aws:sns:us-east-1:1:topic", "https://x")
    assert str(raised.value) == (
        "eventSourceARN 'arn:aws:sns:us-east-1:1:topic' is not an SQS queue ARN "
        "(arn:aws:sqs:region:account:name)"
    )


# ---------------------------------------------------------------- on moto


def record_changes(sqs: Any) -> list[dict[str, Any]]:
    """The parameters of every ChangeMessageVisibilityBatch the client sends."""
    calls: list[dict[str, Any]] = []

    def keep(params: dict[str, Any], **_: Any) -> None:
        calls.append(params)

    sqs.meta.events.register("provide-client-params.sqs.ChangeMessageVisibilityBatch", keep)
    return calls


def refuse_changes(sqs: Any) -> None:
    def refuse(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "InternalError", "Message": "injected"}},
            "ChangeMessageVisibilityBatch",
        )

    sqs.meta.events.register("before-call.sqs.ChangeMessageVisibilityBatch", refuse)


def received(sqs: Any, url: str, n: int, visibility: int = 600) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while len(messages) < n:
        got = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=visibility,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        assert got, f"only {len(messages)} of {n} messages received"
        messages += got
    return messages


def failures(messages: list[dict[str, Any]]) -> list[Failure]:
    return [
        Failure(
            m["MessageId"],
            m["ReceiptHandle"],
            int(m["Attributes"]["ApproximateReceiveCount"]),
            m["Attributes"].get("MessageGroupId"),
        )
        for m in messages
    ]


def depth(sqs: Any, url: str) -> tuple[int, int]:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return int(attrs[names[0]]), int(attrs[names[1]])


@pytest.fixture
def sqs(aws: None) -> Any:
    return boto3.client("sqs")


def fill(sqs: Any, url: str, n: int, group: Callable[[int], str] | None = None) -> None:
    for i in range(n):
        extra = {"MessageGroupId": group(i), "MessageDeduplicationId": str(i)} if group else {}
        sqs.send_message(QueueUrl=url, MessageBody=str(i), **extra)


def test_failures_get_their_delay_ten_entries_a_call(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="work")["QueueUrl"]
    fill(sqs, url, 12)
    calls = record_changes(sqs)
    # rand 0: every delay is 0 s, so every message is visible again at once
    retry_in = Retrier(Backoff(1, 8), sqs_client=sqs, rand=lambda: 0.0).delay(
        url, failures(received(sqs, url, 12)), fifo=False
    )
    assert len(retry_in) == 12 and set(retry_in.values()) == {0}
    assert [len(c["Entries"]) for c in calls] == [10, 2]
    assert depth(sqs, url) == (12, 0)


def test_the_delay_grows_with_the_receive_count(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="work")["QueueUrl"]
    fill(sqs, url, 1)
    retrier = Retrier(Backoff(100, 10_000), sqs_client=sqs, rand=lambda: 0.0)
    for _ in range(3):  # received three times, each failure given back at once
        retrier.delay(url, failures(received(sqs, url, 1)), fifo=False)
    calls = record_changes(sqs)
    third = failures(received(sqs, url, 1))
    assert third[0].receive_count == 4
    half = Retrier(Backoff(100, 10_000), sqs_client=sqs, rand=lambda: 0.5)
    assert half.delay(url, third, fifo=False) == {third[0].message_id: 400}
    assert calls[0]["Entries"][0]["VisibilityTimeout"] == 400
    assert depth(sqs, url) == (0, 1)  # not visible: the 400 s hold, not a 0


def test_fifo_delays_only_the_first_failure_of_each_group(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="work.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    fill(sqs, url, 6, group=lambda i: "ab"[i % 2])  # a0 b1 a2 b3 a4 b5
    messages = received(sqs, url, 6)
    calls = record_changes(sqs)
    failed = failures(messages)[1:]  # b1 a2 b3 a4 b5: b1 and a2 are each group's first
    retry_in = Retrier(Backoff(1, 8), sqs_client=sqs, rand=lambda: 1.0).delay(
        url, failed, fifo=True
    )
    assert list(retry_in) == [failed[0].message_id, failed[1].message_id]
    handles = [e["ReceiptHandle"] for c in calls for e in c["Entries"]]
    assert handles == [failed[0].receipt_handle, failed[1].receipt_handle]


def test_a_refused_change_is_logged_and_reported_as_not_set(
    sqs: Any, caplog: pytest.LogCaptureFixture
) -> None:
    url = sqs.create_queue(QueueName="work")["QueueUrl"]
    fill(sqs, url, 2)
    refuse_changes(sqs)
    retrier = Retrier(Backoff(1, 8), sqs_client=sqs, rand=lambda: 0.0)
    assert retrier.delay(url, failures(received(sqs, url, 2)), fifo=False) == {}
    assert "retry delay not set" in caplog.text
    assert depth(sqs, url) == (0, 2)  # left as received: back after their own timeout


def test_an_entry_sqs_refuses_is_not_reported_as_set(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="work")["QueueUrl"]
    fill(sqs, url, 1)
    (good,) = failures(received(sqs, url, 1))
    stale = Failure("gone", "not-a-receipt-handle", 1)
    retrier = Retrier(Backoff(1, 8), sqs_client=sqs, rand=lambda: 0.0)
    assert retrier.delay(url, [stale, good], fifo=False) == {good.message_id: 0}


def test_a_lambda_event_finds_its_queue_at_the_clients_endpoint(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    local = boto3.client("sqs")
    urls: list[str] = []

    def answer(params: dict[str, Any], **_: Any) -> None:
        urls.append(params["QueueUrl"])

    local.meta.events.register("provide-client-params.sqs.ChangeMessageVisibilityBatch", answer)
    refuse_changes(local)  # nothing listens there: stop the call before it is sent
    event = {
        "Records": [
            {
                "messageId": "m1",
                "receiptHandle": "rh",
                "attributes": {"ApproximateReceiveCount": "1"},
                "eventSourceARN": ARN,
            }
        ]
    }
    assert Retrier(Backoff(), sqs_client=local).delay_event(event, ["m1"]) == {}
    assert urls == ["http://127.0.0.1:4566/123456789012/orders"]
