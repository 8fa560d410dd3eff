"""Lambda SQS events (docs/aws-facts.md#lambda-event-source-mapping shape) built from messages
really received from moto."""

from __future__ import annotations

import importlib.util
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from sqs_blueprint.local.events import RECEIVE_ARGS, lambda_record

LAMBDAS = Path(__file__).resolve().parents[2] / "sqs_blueprint_cdk" / "handlers"


def load_handler(name: str) -> ModuleType:
    """A fresh copy of a shipped ``handlers/<name>/handler.py`` (clients created lazily)."""
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


def receive_event(sqs: Any, queue_url: str, max_messages: int = 10) -> dict[str, Any]:
    """Receive up to ``max_messages`` and shape them as one Lambda event."""
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    messages: list[dict[str, Any]] = []
    while len(messages) < max_messages:
        got = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(10, max_messages - len(messages)),
            WaitTimeSeconds=0,  # docs/aws-facts.md#local-cloud
            **RECEIVE_ARGS,
        ).get("Messages", [])
        if not got:
            break
        messages.extend(got)
    queue_arn = arn["Attributes"]["QueueArn"]
    return {"Records": [lambda_record(m, queue_arn, "us-east-1") for m in messages]}


def failed_ids(response: dict[str, Any]) -> list[str]:
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]
