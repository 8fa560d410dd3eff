"""The local cloud's indexed SQS queues keep the semantics the pipelines rely on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sqs_blueprint.local import moto_fixes
from sqs_blueprint.local.server import LocalCloud

FIFO = {"FifoQueue": "true", "ContentBasedDeduplication": "true"}


@pytest.fixture(scope="module")
def server() -> Iterator[LocalCloud]:
    with LocalCloud.start() as cloud:
        yield cloud


@pytest.fixture(params=["in process", "through the local server"])
def sqs(request: pytest.FixtureRequest) -> Any:
    """moto's backend called in this process, and the local cloud's server over HTTP
    (where the data-plane actions take its fast path): both must keep SQS's semantics."""
    if request.param == "in process":
        request.getfixturevalue("aws")
        moto_fixes.apply()  # as the local cloud does when it starts
        return boto3.client("sqs")
    cloud: LocalCloud = request.getfixturevalue("server")
    cloud.reset()
    return cloud.client("sqs")


def send(sqs: Any, url: str, bodies: list[str], group: str | None = None) -> None:
    for start in range(0, len(bodies), 10):
        entries = [
            {"Id": str(i), "MessageBody": body, **({"MessageGroupId": group} if group else {})}
            for i, body in enumerate(bodies[start : start + 10])
        ]
        assert not sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed")


def receive(sqs: Any, url: str, n: int = 10, visibility: int = 600, wait: int = 0) -> list[Any]:
    got: list[Any] = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=n,
        VisibilityTimeout=visibility,
        WaitTimeSeconds=wait,
        MessageSystemAttributeNames=["ApproximateReceiveCount"],
    ).get("Messages", [])
    return got


def delete(sqs: Any, url: str, messages: list[Any]) -> None:
    entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
    assert not sqs.delete_message_batch(QueueUrl=url, Entries=entries).get("Failed")


def counts(sqs: Any, url: str) -> tuple[int, int, int]:
    names = ["Messages", "MessagesNotVisible", "MessagesDelayed"]
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=[f"ApproximateNumberOf{n}" for n in names]
    )["Attributes"]
    visible, hidden, delayed = (int(attributes[f"ApproximateNumberOf{n}"]) for n in names)
    return visible, hidden, delayed


def bodies(messages: list[Any]) -> list[str]:
    return [m["Body"] for m in messages]


def test_a_deep_queue_delivers_each_message_once_in_arrival_order(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="deep")["QueueUrl"]
    sent = [f"m-{i:04d}" for i in range(2_000)]
    send(sqs, url, sent)
    assert counts(sqs, url) == (2_000, 0, 0)
    first = receive(sqs, url)
    assert counts(sqs, url) == (1_990, 10, 0)
    delivered = bodies(first)
    delete(sqs, url, first)
    while batch := receive(sqs, url):
        delivered += bodies(batch)
        delete(sqs, url, batch)
    assert delivered == sent
    assert counts(sqs, url) == (0, 0, 0)


def test_a_message_not_deleted_returns_after_its_visibility_timeout(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="visibility")["QueueUrl"]
    send(sqs, url, ["a", "b"])
    (a,) = receive(sqs, url, n=1, visibility=1)
    assert bodies(receive(sqs, url)) == ["b"]  # a is in flight
    again = receive(sqs, url, wait=5)  # the long poll ends when a is visible again
    assert bodies(again) == ["a"]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    assert again[0]["ReceiptHandle"] != a["ReceiptHandle"]


def test_change_visibility_to_zero_frees_a_message_and_bad_handles_are_refused(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="change")["QueueUrl"]
    send(sqs, url, ["a"])
    (a,) = receive(sqs, url)
    assert receive(sqs, url) == []
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=a["ReceiptHandle"], VisibilityTimeout=0
    )
    (again,) = receive(sqs, url, wait=2)
    assert again["Body"] == "a"
    with pytest.raises(ClientError, match="ReceiptHandleIsInvalid"):
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle")
    sqs.delete_message(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"])  # again: accepted
    assert counts(sqs, url) == (0, 0, 0)


def test_a_delayed_message_is_counted_as_delayed(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="delayed")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=600)
    sqs.send_message(QueueUrl=url, MessageBody="now")
    assert counts(sqs, url) == (1, 0, 1)
    assert bodies(receive(sqs, url)) == ["now"]


def test_a_message_received_max_receive_count_times_moves_to_the_dlq(sqs: Any) -> None:
    dlq = sqs.create_queue(QueueName="poison-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])
    policy = {"deadLetterTargetArn": dlq_arn["Attributes"]["QueueArn"], "maxReceiveCount": 2}
    url = sqs.create_queue(QueueName="poison", Attributes={"RedrivePolicy": json.dumps(policy)})[
        "QueueUrl"
    ]
    send(sqs, url, ["poison", "fine"])
    assert bodies(receive(sqs, url, n=1, visibility=0)) == ["poison"]
    assert bodies(receive(sqs, url, n=1, visibility=0)) == ["poison"]
    # The third receive finds it received twice: it moves, and "fine" is delivered.
    assert bodies(receive(sqs, url, n=1, visibility=600)) == ["fine"]
    assert counts(sqs, url) == (0, 1, 0)
    assert bodies(receive(sqs, dlq)) == ["poison"]


def test_a_fifo_group_is_held_while_one_of_its_messages_is_in_flight(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="groups.fifo", Attributes=FIFO)["QueueUrl"]
    send(sqs, url, ["a-1", "a-2"], group="a")
    send(sqs, url, ["b-1"], group="b")
    (a1,) = receive(sqs, url, n=1)
    assert a1["Body"] == "a-1"
    assert bodies(receive(sqs, url)) == ["b-1"]  # a is held: a-2 waits
    assert receive(sqs, url) == []
    delete(sqs, url, [a1])
    assert bodies(receive(sqs, url)) == ["a-2"]


def test_a_fifo_groups_timed_out_messages_return_in_order(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="redeliver.fifo", Attributes=FIFO)["QueueUrl"]
    send(sqs, url, ["a-1", "a-2", "a-3"], group="a")
    assert bodies(receive(sqs, url, n=2, visibility=1)) == ["a-1", "a-2"]
    assert receive(sqs, url) == []  # a-3 waits behind its group
    assert bodies(receive(sqs, url, wait=5)) == ["a-1", "a-2", "a-3"]


def test_fifo_deduplication_drops_a_repeat_within_five_minutes(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="dedup.fifo", Attributes=FIFO)["QueueUrl"]
    send(sqs, url, ["same", "same", "other"], group="g")
    sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d")
    sqs.send_message(QueueUrl=url, MessageBody="y", MessageGroupId="g", MessageDeduplicationId="d")
    assert counts(sqs, url) == (3, 0, 0)
    assert bodies(receive(sqs, url)) == ["same", "other", "x"]


def test_purge_empties_the_queue(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="purged")["QueueUrl"]
    send(sqs, url, [f"m-{i}" for i in range(30)])
    receive(sqs, url)
    sqs.purge_queue(QueueUrl=url)
    assert counts(sqs, url) == (0, 0, 0)
    assert receive(sqs, url) == []
