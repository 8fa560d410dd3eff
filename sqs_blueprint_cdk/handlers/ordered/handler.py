"""Ordered consumer: FIFO records become versioned upserts, in order.

Powertools' FIFO processor, with ``skip_group_on_error``, reports a failed record
and every later record of its message group, so order within the group holds,
while the other groups of the batch go on: a poison message holds back only its
own group. The write buffer is configured once per execution environment
(:meth:`WriteBufferSettings.from_env`). Any error tied to one record (its payload,
its body, its write) fails that record alone. Versioned mode (``VERSION_FIELD``)
keeps the highest version, so a replayed old or equal version is an acknowledged
no-op. The retry backoff (:mod:`sqs_blueprint.backoff`) delays each group's first
failed record; the group stays blocked behind it, in order.
"""

from __future__ import annotations

from functools import cache, partial
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    SqsFifoPartialProcessor,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from sqs_blueprint import tracing
from sqs_blueprint.backoff import Retrier
from sqs_blueprint.records import split_event
from sqs_blueprint.write_buffer import RecordFailed, WriteBuffer, WriteBufferSettings, time_left_s

logger = Logger(service="ordered")
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
tracing.check()  # SQS_BLUEPRINT_TRACING=on without its packages fails the cold start


@cache
def buffer() -> WriteBuffer:
    return WriteBuffer(WriteBufferSettings.from_env())


@cache
def retrier() -> Retrier:
    return Retrier(buffer().settings.retry)


def write_one(
    record: SQSRecord, lambda_context: LambdaContext, wb: WriteBuffer, seen: set[str]
) -> None:
    seen.add(record.message_id)
    logger.set_correlation_id(record.message_id)
    logger.append_keys(trace_id=tracing.trace_id_of(record.attributes.aws_trace_header))
    built, failed = split_event({"Records": [record.raw_event]}, resolver=wb.resolver)
    if built:
        deadline = time_left_s(lambda_context.get_remaining_time_in_millis())
        failed = wb.process(built, deadline_s=deadline).failed
    elif failed:  # not built: its payload or body refused
        refused = {tracing.OUTCOME: "failed", tracing.REASON: failed[record.message_id]}
        system = record.raw_event.get("attributes") or {}
        tracing.settled(system, record.message_id, wb.consumer, **refused)
    if failed:
        reason = failed[record.message_id]
        receives = int(record.attributes.approximate_receive_count)
        logger.warning(
            "record failed",
            extra={"receive_count": receives, "outcome": "failed", "reason": reason},
        )
        raise RecordFailed(reason)


def handle(
    event: dict[str, Any], context: LambdaContext, wb: WriteBuffer, retry: Retrier
) -> PartialItemFailureResponse:
    """Process one event with the given write buffer and backoff (tests pass their own)."""
    seen: set[str] = set()
    record_handler = partial(write_one, wb=wb, seen=seen)
    try:
        response = process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    except BatchProcessingError:  # every record failed
        retry.delay_event(event, (r["messageId"] for r in event.get("Records", [])))
        raise
    retry.delay_event(event, (f["itemIdentifier"] for f in response["batchItemFailures"]))
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    held_back(event, failed - seen, wb.consumer)
    return response


def held_back(event: dict[str, Any], held: set[str], consumer: str) -> None:
    """Log (and trace) each record held back behind an earlier failure of its group."""
    for raw in event.get("Records", []):
        if raw["messageId"] not in held:
            continue
        attributes = raw.get("attributes") or {}
        logger.set_correlation_id(raw["messageId"])
        logger.append_keys(trace_id=tracing.trace_id_of(attributes.get(tracing.HEADER)))
        group = attributes.get("MessageGroupId")
        logger.info("record held back in its group", extra={"outcome": "held", "group": group})
        outcome = {tracing.OUTCOME: "held", tracing.GROUP: group}
        tracing.settled(attributes, raw["messageId"], consumer, **outcome)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return handle(event, context, buffer(), retrier())
