"""The local cloud refuses what SQS refuses: UTF-8 body plus attribute bytes over the queue's
MaximumMessageSize, and batches over 1 MiB in total (docs/aws-facts.md#sqs-limits)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sqs_blueprint.local import LocalCloud
from sqs_blueprint.payload import PayloadStore
from sqs_blueprint.producer import Message, Producer

pytestmark = pytest.mark.e2e

KIND = {"k": {"DataType": "String", "StringValue": "v"}}  # 1 + 6 + 1 = 8 bytes


def too_long(limit: int) -> str:
    return (
        f"One or more parameters are invalid. Reason: Message must be shorter than {limit} bytes."
    )


@pytest.fixture
def sqs(cloud: LocalCloud) -> Any:
    return cloud.client("sqs")


def new_queue(sqs: Any, limit: int | None = None) -> str:
    attributes = {"MaximumMessageSize": str(limit)} if limit else {}
    name = f"size-{uuid.uuid4().hex[:12]}"
    url: str = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url


def bodies(sqs: Any, url: str) -> list[str]:
    found: list[str] = []
    while messages := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0
    ).get("Messages", []):
        found += [m["Body"] for m in messages]
    return sorted(found)


def refused(call: Any, **params: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as error:
        call(**params)
    answer: dict[str, Any] = error.value.response["Error"]
    return answer


@pytest.mark.parametrize(
    ("limit", "fits", "over"),
    [
        (1_024, "é" * 512, "é" * 512 + "a"),  # 1,024 bytes fits; 1,025 bytes in 513 characters
        (1_048_576, "é" * 524_288, "é" * 524_288 + "a"),  # the 1 MiB maximum
    ],
    ids=["1-KiB-queue", "1-MiB-queue"],
)
def test_send_message_counts_utf8_bytes(sqs: Any, limit: int, fits: str, over: str) -> None:
    url = new_queue(sqs, limit if limit != 1_048_576 else None)
    sqs.send_message(QueueUrl=url, MessageBody=fits)
    error = refused(sqs.send_message, QueueUrl=url, MessageBody=over)
    assert (error["Code"], error["Message"]) == ("InvalidParameterValue", too_long(limit))
    assert bodies(sqs, url) == [fits]


def test_attribute_bytes_count_towards_the_limit(sqs: Any) -> None:
    url = new_queue(sqs, 1_024)
    sqs.send_message(QueueUrl=url, MessageBody="a" * 1_016, MessageAttributes=KIND)
    error = refused(sqs.send_message, QueueUrl=url, MessageBody="a" * 1_017, MessageAttributes=KIND)
    assert error["Message"] == too_long(1_024)
    assert bodies(sqs, url) == ["a" * 1_016]


def test_a_batch_entry_over_the_limit_fails_alone(sqs: Any) -> None:
    url = new_queue(sqs, 1_024)
    response = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "ok", "MessageBody": "a" * 1_016, "MessageAttributes": KIND},
            {"Id": "big", "MessageBody": "a" * 1_017, "MessageAttributes": KIND},
        ],
    )
    assert [e["Id"] for e in response["Successful"]] == ["ok"]
    assert response["Failed"] == [
        {
            "Id": "big",
            "SenderFault": True,
            "Code": "InvalidParameterValue",
            "Message": too_long(1_024),
        }
    ]
    assert bodies(sqs, url) == ["a" * 1_016]


def test_a_batch_over_one_mib_in_total_fails_whole(sqs: Any) -> None:
    url = new_queue(sqs)
    entries = [{"Id": str(i), "MessageBody": "é" * 200_000} for i in range(3)]  # 1,200,000 bytes
    error = refused(sqs.send_message_batch, QueueUrl=url, Entries=entries)
    assert error["Code"] == "AWS.SimpleQueueService.BatchRequestTooLong"
    assert error["Message"] == (
        "Batch requests cannot be longer than 1048576 bytes. You have sent 1200000 bytes."
    )
    assert bodies(sqs, url) == []


def test_queue_threshold_sends_up_to_the_limit_inline(cloud: LocalCloud, sqs: Any) -> None:
    """The producer's boundary holds against a server that counts as SQS does."""
    s3 = cloud.client("s3")
    bucket = f"size-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    url = new_queue(sqs, 4_096)
    store = PayloadStore(bucket, s3_client=s3, threshold="queue")
    inline, over = "é" * 2_044, "é" * 2_044 + "a"  # 4,088 + 8 bytes; one more
    result = Producer(url, sqs_client=sqs, payloads=store).send_many(
        [Message(inline, KIND), Message(over, KIND)]
    )
    assert result.failed == []
    assert [s.offloaded for s in result.sent] == [False, True]


def test_producer_batches_stay_within_one_mib_of_bytes(sqs: Any) -> None:
    """Three 400,000-byte messages (200,000 characters each): packed by bytes, two batches."""
    url = new_queue(sqs)
    calls: list[int] = []
    sqs.meta.events.register(
        "provide-client-params.sqs.SendMessageBatch",
        lambda params, **_: calls.append(len(params["Entries"])),
    )
    result = Producer(url, sqs_client=sqs).send_many(["é" * 200_000] * 3)
    assert result.failed == [] and len(result.sent) == 3
    assert calls == [2, 1]


@pytest.fixture(scope="module")
def small_pair(cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A QueueWithDlq of 2,048 bytes, synthesized and deployed into the local cloud."""
    from aws_cdk import App, CfnOutput, Stack

    from sqs_blueprint_cdk import QueueWithDlq

    outdir = Path(tmp_path_factory.mktemp("size-fixture.out"))
    app = App(outdir=str(outdir))
    stack = Stack(app, "SizeFixture", stack_name=f"size-{uuid.uuid4().hex[:8]}")
    pair = QueueWithDlq(stack, "Small", max_message_bytes=2_048)
    CfnOutput(stack, "Url", value=pair.queue.queue_url)
    CfnOutput(stack, "DlqUrl", value=pair.dead_letter_queue.queue_url)
    app.synth()
    [deployed] = cloud.deploy(outdir)
    return dict(deployed.outputs)


def test_a_deployed_pair_enforces_its_stated_sizes(sqs: Any, small_pair: dict[str, str]) -> None:
    source, dlq = small_pair["Url"], small_pair["DlqUrl"]
    body = "a" * 2_049
    error = refused(sqs.send_message, QueueUrl=source, MessageBody=body)
    assert error["Message"] == too_long(2_048)
    sqs.send_message(QueueUrl=dlq, MessageBody=body)  # the DLQ takes up to 1 MiB
    assert bodies(sqs, dlq) == [body]
