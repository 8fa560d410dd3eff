"""Each SDK request, as botocore signs and sends it, attributed to its caller, IAM
actions and resource ARNs (the Service Authorization Reference's, written as literals)."""

from __future__ import annotations

import urllib.parse
from typing import Any

import boto3
import pytest

from sqs_blueprint.local.access.requests import Access, Parsed, parse, policy_written

ACCOUNT = "123456789012"
QUEUE_URL = f"http://127.0.0.1:5000/{ACCOUNT}/work"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:work"
TABLE = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/items"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:alerts"


class _Sent(Exception):
    def __init__(self, environ: dict[str, Any], body: bytes) -> None:
        self.environ, self.body = environ, body


def _stop(request: Any, **_: Any) -> None:
    url = urllib.parse.urlsplit(request.url)
    environ = {
        "REQUEST_METHOD": request.method,
        # as WSGI servers pass it: percent-decoded bytes, as latin-1 text
        "PATH_INFO": urllib.parse.unquote_to_bytes(url.path).decode("latin-1"),
        "QUERY_STRING": url.query,
    }
    for name, value in request.headers.items():
        value = value.decode() if isinstance(value, bytes) else value
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    body = request.body or b""
    if hasattr(body, "read"):  # a streamed S3 body
        body = body.read()
    raise _Sent(environ, body if isinstance(body, bytes) else body.encode())


def sent(service: str, operation: str, **kwargs: Any) -> Parsed:
    """What the local cloud reads from the request the SDK sends for ``operation``."""
    parsed = parse(*_request(service, operation, **kwargs), ACCOUNT)
    assert parsed is not None
    return parsed


CASES = [
    (
        "sqs",
        "send_message",
        {"QueueUrl": QUEUE_URL, "MessageBody": "x"},
        [("sqs:SendMessage", QUEUE)],
    ),
    (
        "sqs",
        "send_message_batch",
        {"QueueUrl": QUEUE_URL, "Entries": [{"Id": "1", "MessageBody": "x"}]},
        [("sqs:SendMessage", QUEUE)],
    ),
    (
        "sqs",
        "delete_message_batch",
        {"QueueUrl": QUEUE_URL, "Entries": [{"Id": "1", "ReceiptHandle": "r"}]},
        [("sqs:DeleteMessage", QUEUE)],
    ),
    ("sqs", "get_queue_url", {"QueueName": "work"}, [("sqs:GetQueueUrl", QUEUE)]),
    ("sqs", "list_queues", {}, [("sqs:ListQueues", "*")]),
    (
        "dynamodb",
        "batch_write_item",
        {
            "RequestItems": {
                "items": [{"PutRequest": {"Item": {"pk": {"S": "a"}}}}],
                "other": [{"DeleteRequest": {"Key": {"pk": {"S": "b"}}}}],
            }
        },
        [
            ("dynamodb:BatchWriteItem", TABLE),
            ("dynamodb:BatchWriteItem", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/other"),
        ],
    ),
    (
        "dynamodb",
        "query",
        {
            "TableName": "items",
            "IndexName": "by-date",
            "KeyConditionExpression": "d = :d",
            "ExpressionAttributeValues": {":d": {"S": "x"}},
        },
        [("dynamodb:Query", f"{TABLE}/index/by-date")],
    ),
    (
        "dynamodb",
        "transact_write_items",
        {
            "TransactItems": [
                {"Put": {"TableName": "items", "Item": {"pk": {"S": "a"}}}},
                {
                    "ConditionCheck": {
                        "TableName": "items",
                        "Key": {"pk": {"S": "b"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        },
        [("dynamodb:PutItem", TABLE), ("dynamodb:ConditionCheckItem", TABLE)],
    ),
    (
        "s3",
        "get_object",
        {"Bucket": "payloads", "Key": "a/b.json"},
        [("s3:GetObject", "arn:aws:s3:::payloads/a/b.json")],
    ),
    (
        "s3",
        "get_object",
        {"Bucket": "payloads", "Key": "späť/a b+c.json"},
        [("s3:GetObject", "arn:aws:s3:::payloads/späť/a b+c.json")],
    ),
    (
        "s3",
        "head_object",
        {"Bucket": "payloads", "Key": "k"},
        [("s3:GetObject", "arn:aws:s3:::payloads/k")],
    ),
    (
        "s3",
        "put_object",
        {"Bucket": "payloads", "Key": "k", "Body": b"x"},
        [("s3:PutObject", "arn:aws:s3:::payloads/k")],
    ),
    (
        "s3",
        "delete_object",
        {"Bucket": "payloads", "Key": "k"},
        [("s3:DeleteObject", "arn:aws:s3:::payloads/k")],
    ),
    ("s3", "list_objects_v2", {"Bucket": "payloads"}, [("s3:ListBucket", "arn:aws:s3:::payloads")]),
    (
        "s3",
        "delete_objects",
        {"Bucket": "payloads", "Delete": {"Objects": [{"Key": "a"}, {"Key": "b"}]}},
        [
            ("s3:DeleteObject", "arn:aws:s3:::payloads/a"),
            ("s3:DeleteObject", "arn:aws:s3:::payloads/b"),
        ],
    ),
    (
        "s3",
        "put_bucket_policy",
        {"Bucket": "payloads", "Policy": "{}"},
        [("s3:PutBucketPolicy", "arn:aws:s3:::payloads")],
    ),
    (
        "kms",
        "decrypt",  # no KeyId: moto's ciphertext starts with the key id
        {"CiphertextBlob": KEY_ID.encode() + b"\0" * 40},
        [("kms:Decrypt", f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY_ID}")],
    ),
    (
        "kms",
        "generate_data_key",
        {"KeyId": "alias/payloads", "KeySpec": "AES_256"},
        [("kms:GenerateDataKey", f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/payloads")],
    ),
    ("sns", "publish", {"TopicArn": TOPIC, "Message": "x"}, [("sns:Publish", TOPIC)]),
    (
        "sns",
        "publish_batch",
        {"TopicArn": TOPIC, "PublishBatchRequestEntries": [{"Id": "1", "Message": "x"}]},
        [("sns:Publish", TOPIC)],
    ),
]


@pytest.mark.parametrize(
    ("service", "operation", "kwargs", "needed"), CASES, ids=[f"{c[0]}.{c[1]}" for c in CASES]
)
def test_a_request_is_attributed_to_its_caller_actions_and_resources(
    service: str, operation: str, kwargs: dict[str, Any], needed: list[tuple[str, str]]
) -> None:
    parsed = sent(service, operation, **kwargs)
    assert parsed.access_key == "consumer-role"
    assert parsed.region == "us-east-1"
    assert list(parsed.accesses) == [Access(a, r) for a, r in needed]


def test_a_policy_set_through_the_api_is_read_from_the_request() -> None:
    document = '{"Version": "2012-10-17", "Statement": []}'
    cases = [
        (
            "sqs",
            "set_queue_attributes",
            {"QueueUrl": QUEUE_URL, "Attributes": {"Policy": document}},
            QUEUE,
        ),
        (
            "sns",
            "set_topic_attributes",
            {"TopicArn": TOPIC, "AttributeName": "Policy", "AttributeValue": document},
            TOPIC,
        ),
        (
            "kms",
            "put_key_policy",
            {"KeyId": KEY_ID, "PolicyName": "default", "Policy": document},
            f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY_ID}",
        ),
    ]
    for service, operation, kwargs, resource in cases:
        environ_body = _request(service, operation, **kwargs)
        parsed = parse(*environ_body, ACCOUNT)
        assert parsed is not None
        assert policy_written(parsed, environ_body[1]) == (
            resource,
            {"Version": "2012-10-17", "Statement": []},
        ), operation
    unrelated = _request(
        "sqs", "set_queue_attributes", QueueUrl=QUEUE_URL, Attributes={"VisibilityTimeout": "5"}
    )
    parsed = parse(*unrelated, ACCOUNT)
    assert parsed is not None and policy_written(parsed, unrelated[1]) is None


def _request(service: str, operation: str, **kwargs: Any) -> tuple[dict[str, Any], bytes]:
    client = boto3.session.Session().client(
        service,
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:5000",
        aws_access_key_id="consumer-role",
        aws_secret_access_key="local",
    )
    client.meta.events.register("before-send", _stop)
    with pytest.raises(_Sent) as captured:
        getattr(client, operation)(**kwargs)
    return captured.value.environ, captured.value.body


def test_an_unsigned_or_unchecked_request_is_not_attributed() -> None:
    assert parse({"PATH_INFO": "/moto-api/reset", "REQUEST_METHOD": "POST"}, b"", ACCOUNT) is None
    environ, body = _request("lambda", "list_functions")
    assert parse(environ, body, ACCOUNT) is None
