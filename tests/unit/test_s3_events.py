"""S3 object-created notifications through the write-buffer handler: the object a
notification names is the record, the test event is dropped, strangers are refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from sqs_blueprint.backoff import Retrier
from sqs_blueprint.payload import S3Pointer
from sqs_blueprint.s3_events import s3_event
from sqs_blueprint.write_buffer import WriteBuffer
from tests.unit.lambda_events import FakeContext, failed_ids, load_handler, receive_event
from tests.unit.tables import create_table

TABLE, INPUT, OTHER = "items", "drop-zone", "elsewhere"


@pytest.fixture
def env(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    ddb, s3, sqs = boto3.client("dynamodb"), boto3.client("s3"), boto3.client("sqs")
    create_table(ddb, TABLE, wcu=10)
    url = sqs.create_queue(QueueName="ingest")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    for bucket in (INPUT, OTHER):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_notification_configuration(
            Bucket=bucket,
            NotificationConfiguration={
                "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
            },
        )
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("KEY_FIELDS", "id")
    monkeypatch.setenv("INPUT_BUCKETS", INPUT)
    buffer = WriteBuffer.from_env(dynamodb_client=ddb, s3_client=s3)
    yield {"s3": s3, "sqs": sqs, "url": url, "ddb": ddb, "buffer": buffer}


def invoke(env: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    event = receive_event(env["sqs"], env["url"], max_messages=10)
    handler = load_handler("write_buffer")
    buffer = env["buffer"]
    return event, handler.handle(event, FakeContext(), buffer, Retrier(buffer.settings.retry))


def table_ids(env: dict[str, Any]) -> list[str]:
    return sorted(i["id"]["S"] for i in env["ddb"].scan(TableName=TABLE)["Items"])


def test_created_objects_become_records_and_the_test_events_are_dropped(
    env: dict[str, Any],
) -> None:
    env["s3"].put_object(Bucket=INPUT, Key="in/a b.json", Body=json.dumps({"id": "a"}))
    env["s3"].put_object(Bucket=INPUT, Key="in/c.json", Body=json.dumps({"id": "c"}))
    event, response = invoke(env)
    bodies = [json.loads(r["body"]) for r in event["Records"]]
    assert sum(b.get("Event") == "s3:TestEvent" for b in bodies) == 2  # one per bucket
    assert response == {"batchItemFailures": []}
    assert table_ids(env) == ["a", "c"]


def test_an_object_in_a_bucket_not_listed_fails_its_record_alone(env: dict[str, Any]) -> None:
    env["s3"].put_object(Bucket=OTHER, Key="x.json", Body=json.dumps({"id": "x"}))
    env["s3"].put_object(Bucket=INPUT, Key="y.json", Body=json.dumps({"id": "y"}))
    event, response = invoke(env)
    from_other = [
        r["messageId"]
        for r in event["Records"]
        if '"elsewhere"' in r["body"] and "x.json" in r["body"]
    ]
    assert failed_ids(response) == from_other and len(from_other) == 1
    assert table_ids(env) == ["y"]


def test_extended_client_pointers_and_plain_bodies_are_not_s3_events() -> None:
    assert s3_event(json.dumps({"id": "plain"})) is None
    assert s3_event(S3Pointer("aws:s3", "k").body()) is None
    assert s3_event(json.dumps({"Records": [{"eventSource": "aws:sqs"}]})) is None
    notification = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}]}
    assert s3_event(json.dumps(notification)) == notification
