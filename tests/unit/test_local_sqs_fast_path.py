"""The local cloud's server answers SQS's data-plane actions as SQS does: attributes and
system attributes round-trip, only what is asked is returned, and refusals keep SQS's
errors (real boto3 over HTTP against the embedded server)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sqs_blueprint.local.server import LocalCloud

TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
ATTRIBUTES = {
    "tenant": {"DataType": "String", "StringValue": "acme"},
    "count": {"DataType": "Number", "StringValue": "42"},
    "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xfe"},
}
SYSTEM = {"AWSTraceHeader": {"DataType": "String", "StringValue": TRACE}}


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud.start() as started:
        yield started


@pytest.fixture
def sqs(cloud: LocalCloud) -> Any:
    cloud.reset()
    return cloud.client("sqs")


def receive_all(sqs: Any, url: str, **kwargs: Any) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = sqs.receive_message(
        QueueUrl=url, **{"MaxNumberOfMessages": 10, **kwargs}
    ).get("Messages", [])
    return messages


def code(error: pytest.ExceptionInfo[ClientError]) -> str:
    found: str = error.value.response["Error"]["Code"]
    return found


def test_message_and_system_attributes_round_trip_single_and_batched(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="attributes")["QueueUrl"]
    one = sqs.send_message(
        QueueUrl=url,
        MessageBody="one",
        MessageAttributes=ATTRIBUTES,
        MessageSystemAttributes=SYSTEM,
    )
    batch = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {
                "Id": "two",
                "MessageBody": "two",
                "MessageAttributes": ATTRIBUTES,
                "MessageSystemAttributes": SYSTEM,
            }
        ],
    )
    assert [s["Id"] for s in batch["Successful"]] == ["two"]
    got = receive_all(
        sqs, url, MessageAttributeNames=["All"], MessageSystemAttributeNames=["AWSTraceHeader"]
    )
    assert sorted(m["Body"] for m in got) == ["one", "two"]
    sent_md5 = {one["MD5OfMessageAttributes"], batch["Successful"][0]["MD5OfMessageAttributes"]}
    for message in got:
        assert message["MessageAttributes"] == ATTRIBUTES
        assert message["Attributes"] == {"AWSTraceHeader": TRACE}
        assert {message["MD5OfMessageAttributes"]} == sent_md5


def test_only_the_system_attributes_asked_for_are_returned(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="asked.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    sqs.send_message(
        QueueUrl=url, MessageBody="a", MessageGroupId="g", MessageDeduplicationId="d-1"
    )
    sqs.send_message(
        QueueUrl=url, MessageBody="b", MessageGroupId="g", MessageDeduplicationId="d-2"
    )
    (first,) = receive_all(sqs, url, MaxNumberOfMessages=1, VisibilityTimeout=0)
    assert "Attributes" not in first and "MessageAttributes" not in first
    (again,) = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=1,
        MessageSystemAttributeNames=["MessageGroupId", "ApproximateReceiveCount"],
    )["Messages"]
    assert again["Attributes"] == {"MessageGroupId": "g", "ApproximateReceiveCount": "2"}
    sqs.delete_message(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"])
    (second,) = receive_all(sqs, url, MessageSystemAttributeNames=["All"])
    assert second["Body"] == "b"
    assert {"MessageDeduplicationId", "SequenceNumber", "SentTimestamp"} <= second[
        "Attributes"
    ].keys()
    assert second["Attributes"]["MessageDeduplicationId"] == "d-2"


def test_refusals_keep_sqs_errors(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="refusals")["QueueUrl"]
    missing = url.rsplit("/", 1)[0] + "/no-such-queue"
    with pytest.raises(ClientError) as gone:
        sqs.receive_message(QueueUrl=missing)
    assert code(gone) == "AWS.SimpleQueueService.NonExistentQueue"
    with pytest.raises(ClientError) as invalid:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle="nope", VisibilityTimeout=5)
    assert code(invalid) == "ReceiptHandleIsInvalid"
    with pytest.raises(ClientError) as empty:
        sqs.send_message_batch(QueueUrl=url, Entries=[])
    assert code(empty) == "AWS.SimpleQueueService.EmptyBatchRequest"
    with pytest.raises(ClientError) as too_many:
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11)
    assert code(too_many) == "InvalidParameterValue"
    with pytest.raises(ClientError) as same_ids:
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": "x", "MessageBody": "1"}, {"Id": "x", "MessageBody": "2"}]
        )
    assert code(same_ids) == "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
    assert receive_all(sqs, url) == []  # nothing refused was sent


def test_an_entry_over_the_size_limit_fails_alone(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="sizes", Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
    result = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "fits", "MessageBody": "x" * 1024},
            {"Id": "big", "MessageBody": "x" * 1025},
        ],
    )
    assert [s["Id"] for s in result["Successful"]] == ["fits"]
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in result["Failed"]] == [
        ("big", "InvalidParameterValue", True)
    ]
    with pytest.raises(ClientError) as whole:
        sqs.send_message(QueueUrl=url, MessageBody="x" * 1025)
    assert code(whole) == "InvalidParameterValue"
    assert [m["Body"] for m in receive_all(sqs, url)] == ["x" * 1024]


def test_batched_visibility_and_deletes_report_each_entry(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="entries")["QueueUrl"]
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m-{i}"} for i in range(3)]
    )
    got = receive_all(sqs, url, VisibilityTimeout=600)
    assert len(got) == 3
    changed = sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "ok", "ReceiptHandle": got[0]["ReceiptHandle"], "VisibilityTimeout": 0},
            {"Id": "bad", "ReceiptHandle": "nope", "VisibilityTimeout": 0},
        ],
    )
    assert [s["Id"] for s in changed["Successful"]] == ["ok"]
    assert [(f["Id"], f["Code"]) for f in changed["Failed"]] == [("bad", "ReceiptHandleIsInvalid")]
    (back,) = receive_all(sqs, url)  # only the one made visible again
    assert back["Body"] == got[0]["Body"]
    deleted = sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "a", "ReceiptHandle": back["ReceiptHandle"]},
            {"Id": "b", "ReceiptHandle": got[1]["ReceiptHandle"]},
            {"Id": "c", "ReceiptHandle": "nope"},
        ],
    )
    assert sorted(s["Id"] for s in deleted["Successful"]) == ["a", "b"]
    assert [f["Id"] for f in deleted["Failed"]] == ["c"]
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    assert attributes == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "1",
    }
