"""The README walkthrough's own pipeline: its handler and its cdk.json block.

``HANDLER`` and ``BLOCK`` are the README's text; tests write the handler where a
user would (``lambdas/<name>/handler.py``) and remove it afterwards.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from stacks.config.checks import LAMBDAS_DIR
from tests.infra.conftest import cdk_context

HANDLER = '''\
"""Orders: each message is one order; it becomes one item in the pipeline's table."""

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from sqs_blueprint.upsert import parse_body, to_item
from sqs_blueprint.write_buffer import WriteBuffer, WriteBufferSettings

logger = Logger(service="orders")
processor = BatchProcessor(event_type=EventType.SQS)


@cache
def table() -> WriteBuffer:  # TABLE_NAME, KEY_FIELDS, WCU_PER_SECOND... set by the stack
    return WriteBuffer(WriteBufferSettings.from_env())


def record_handler(record: SQSRecord) -> None:
    logger.set_correlation_id(record.message_id)
    order = parse_body(record.body)
    if not order.get("quantity", 0) > 0:  # raising fails this record alone
        raise ValueError(f"order {order.get('order_id')!r}: quantity must be above 0")
    item = to_item({**order, "status": "accepted"}, table().settings.key_fields)
    result = table().upserter().put_many([item])
    if result.failed:
        raise RuntimeError(result.failed[0])


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Any:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
'''

# Added under "sqs-blueprint" > "stages" > "<stage>" in cdk.json.
BLOCK: dict[str, Any] = {
    "queue": {"max_receive_count": 3},
    "function_timeout_s": 10,
    "batch_size": 10,
    "max_concurrency": 2,
    "table": {"write_capacity": 20, "key_fields": ["order_id"]},
}


@contextmanager
def own_handler(name: str, text: str = HANDLER) -> Iterator[str]:
    """``lambdas/<name>/handler.py`` holding ``text`` while the block runs."""
    folder = LAMBDAS_DIR / name
    shutil.rmtree(folder, ignore_errors=True)  # what an interrupted run left
    folder.mkdir(parents=True)
    try:
        (folder / "handler.py").write_text(text)
        yield name
    finally:
        shutil.rmtree(folder)


def context_with(stage: str, pipelines: dict[str, Any], **overrides: str) -> dict[str, Any]:
    """cdk.json's context with ``pipelines`` added to ``stage``, as the user adds them."""
    context = copy.deepcopy(cdk_context(stage, **overrides))
    context["sqs-blueprint"]["stages"][stage]["pipelines"] = pipelines
    return context
