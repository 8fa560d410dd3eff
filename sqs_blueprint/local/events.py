"""ReceiveMessage results in the shape a Lambda SQS event carries
(docs/aws-facts.md#lambda-event-source-mapping)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

# What ReceiveMessage must be asked for so every Lambda record field can be filled.
RECEIVE_ARGS: dict[str, Any] = {
    "MessageSystemAttributeNames": ["All"],
    "MessageAttributeNames": ["All"],
}


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def lambda_attribute(attr: Mapping[str, Any]) -> dict[str, Any]:
    """A ReceiveMessage attribute in Lambda shape (lowercase keys, base64 binary)."""
    out: dict[str, Any] = {
        "stringListValues": list(attr.get("StringListValues", [])),
        "binaryListValues": [_b64(v) for v in attr.get("BinaryListValues", [])],
        "dataType": attr["DataType"],
    }
    if "StringValue" in attr:
        out["stringValue"] = attr["StringValue"]
    if "BinaryValue" in attr:
        out["binaryValue"] = _b64(attr["BinaryValue"])
    return out


def lambda_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One ReceiveMessage message as a record of a Lambda SQS event."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: lambda_attribute(attr)
            for name, attr in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record
