"""Lambda SQS events (FACTS §2 shape) built from messages really received from moto."""

from __future__ import annotations

import base64
import importlib.util
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"


def load_handler(name: str) -> ModuleType:
    """A fresh copy of ``lambdas/<name>/handler.py`` (its clients are created lazily)."""
    spec = importlib.util.spec_from_file_location(
        f"{name}_handler_{uuid.uuid4().hex}", LAMBDAS / name / "handler.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class FakeContext:
    function_name: str = "consumer"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:consumer"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    remaining_ms: int = 30_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def _attribute(attr: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "dataType": attr["DataType"],
        "stringListValues": [],
        "binaryListValues": [],
    }
    if "StringValue" in attr:
        out["stringValue"] = attr["StringValue"]
    if "BinaryValue" in attr:
        out["binaryValue"] = base64.b64encode(attr["BinaryValue"]).decode()
    return out


def receive_event(sqs: Any, queue_url: str, max_messages: int = 10) -> dict[str, Any]:
    """Receive up to ``max_messages`` and shape them as one Lambda event."""
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    messages: list[dict[str, Any]] = []
    while len(messages) < max_messages:
        got = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(10, max_messages - len(messages)),
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not got:
            break
        messages.extend(got)
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {
                    k: _attribute(v) for k, v in m.get("MessageAttributes", {}).items()
                },
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


def failed_ids(response: dict[str, Any]) -> list[str]:
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]
