"""The local cloud's internal clients (the pollers'): answered in this process by the
same app chain as a socket client, so the answers, the errors and the IAM check are
the same."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

from sqs_blueprint.local import DeployedStack, LocalCloud

pytestmark = pytest.mark.e2e


def test_an_internal_client_gets_what_a_socket_client_gets(cloud: LocalCloud) -> None:
    sqs, internal = cloud.client("sqs"), cloud.internal_client("sqs")
    url = sqs.create_queue(QueueName=f"in-process-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    binary = bytes(range(256))
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {
                "Id": str(i),
                "MessageBody": f"body {i} é",
                "MessageAttributes": {"raw": {"DataType": "Binary", "BinaryValue": binary}},
            }
            for i in range(3)
        ],
    )
    got = internal.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
    )["Messages"]
    assert sorted(m["Body"] for m in got) == ["body 0 é", "body 1 é", "body 2 é"]
    assert {m["MessageAttributes"]["raw"]["BinaryValue"] for m in got} == {binary}
    deleted = internal.delete_message_batch(
        QueueUrl=url,
        Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)],
    )
    assert len(deleted["Successful"]) == 3
    count = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert count["Attributes"]["ApproximateNumberOfMessages"] == "0"

    missing = url + "-missing"
    codes = []
    for client in (sqs, internal):
        with pytest.raises(ClientError) as refused:
            client.receive_message(QueueUrl=missing, WaitTimeSeconds=0)
        codes.append(refused.value.response["Error"]["Code"])
    assert codes[0] == codes[1] and "NonExistentQueue" in codes[0]


def test_an_internal_client_streams_an_object_and_reads_rest_paths(cloud: LocalCloud) -> None:
    s3, internal = cloud.client("s3"), cloud.internal_client("s3")
    bucket = f"in-process-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    payload = bytes(range(256)) * 1024
    s3.put_object(Bucket=bucket, Key="a b/c:d.bin", Body=payload)
    body = internal.get_object(Bucket=bucket, Key="a b/c:d.bin")["Body"]
    assert body.read(10) == payload[:10]
    assert body.read() == payload[10:]
    listed = internal.list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in listed] == ["a b/c:d.bin"]


def test_an_internal_client_signed_as_a_role_is_checked_by_iam(
    cloud: LocalCloud, deployed: DeployedStack
) -> None:
    """A deployed function's role has no grant on a queue the test makes (as in AWS)."""
    assert cloud.access is not None and cloud.access.mode == "enforce"
    url = cloud.client("sqs").create_queue(QueueName=f"in-process-{uuid.uuid4().hex[:8]}")[
        "QueueUrl"
    ]
    role_name = min(cloud.access.policies.identity)
    role = f"arn:aws:iam::{cloud.account_id}:role/{role_name}"
    internal = cloud.internal_client("sqs", role=role)
    with pytest.raises(ClientError) as refused:
        internal.receive_message(QueueUrl=url, WaitTimeSeconds=0)
    assert refused.value.response["Error"]["Code"] in {"AccessDenied", "AccessDeniedException"}
    assert any(
        role_name in str(d) and "sqs:ReceiveMessage" in str(d) for d in cloud.access.report().denied
    )
