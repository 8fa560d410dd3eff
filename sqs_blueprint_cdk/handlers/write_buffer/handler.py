"""Write buffer: a batch of SQS records becomes batched, idempotent upserts.

The work is done by :class:`sqs_blueprint.write_buffer.WriteBuffer` (shared with
the EC2 worker and the local cloud), configured once per execution environment
from :meth:`WriteBufferSettings.from_env`. The batch is written first (one
BatchWriteItem takes 25 items, so records are not written one by one); Powertools'
``BatchProcessor`` then reports each failed record in the partial batch response.
A failed record's visibility is set by the retry backoff
(:mod:`sqs_blueprint.backoff`) before it is reported. A record the batch never
attempted (its write budget ran out before the deadline) is not at fault: it is
reported too, but made visible again at once, without a backoff, and logged as
deferred.
"""

from __future__ import annotations

from functools import cache, partial
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from sqs_blueprint import tracing
from sqs_blueprint.backoff import Retrier
from sqs_blueprint.records import split_event
from sqs_blueprint.write_buffer import RecordFailed, WriteBuffer, WriteBufferSettings, time_left_s

logger = Logger(service="write-buffer")
processor = BatchProcessor(event_type=EventType.SQS)
tracing.check()  # SQS_BLUEPRINT_TRACING=on without its packages fails the cold start


@cache
def buffer() -> WriteBuffer:
    return WriteBuffer(WriteBufferSettings.from_env())


@cache
def retrier() -> Retrier:
    return Retrier(buffer().settings.retry)


def report(
    record: SQSRecord, failed: dict[str, str], retry_in: dict[str, int], deferred: set[str]
) -> None:
    """Fail ``record`` in the partial batch response if the batch could not write it."""
    logger.set_correlation_id(record.message_id)
    logger.append_keys(trace_id=tracing.trace_id_of(record.attributes.aws_trace_header))
    if record.message_id in deferred:
        logger.info(
            "record deferred",
            extra={
                "receive_count": int(record.attributes.approximate_receive_count),
                "outcome": "deferred",
                "reason": failed[record.message_id],
            },
        )
        raise RecordFailed(failed[record.message_id])
    if record.message_id in failed:
        logger.warning(
            "record failed",
            extra={
                "receive_count": int(record.attributes.approximate_receive_count),
                "outcome": "failed",
                "reason": failed[record.message_id],
                "retry_in_s": retry_in.get(record.message_id),
            },
        )
        raise RecordFailed(failed[record.message_id])


def handle(
    event: dict[str, Any], context: LambdaContext, wb: WriteBuffer, retry: Retrier
) -> PartialItemFailureResponse:
    """Process one event with the given write buffer and backoff (tests pass their own)."""
    records, failed = split_event(event, resolver=wb.resolver)
    for raw in event.get("Records", []):  # not built: its payload or body refused
        if raw["messageId"] in failed:
            reason = {tracing.OUTCOME: "failed", tracing.REASON: failed[raw["messageId"]]}
            tracing.settled(raw.get("attributes") or {}, raw["messageId"], wb.consumer, **reason)
    outcome = wb.process(records, deadline_s=time_left_s(context.get_remaining_time_in_millis()))
    failed.update(outcome.failed)
    retry_in = retry.delay_event(event, failed, at_once=outcome.deferred)
    logger.info(
        "batch written",
        extra={
            "records": len(event.get("Records", [])),
            "written": outcome.written,
            "duplicates": outcome.duplicates,
            "failed": len(failed) - len(outcome.deferred),
            "deferred": len(outcome.deferred),
        },
    )
    return process_partial_response(
        event=event,
        record_handler=partial(report, failed=failed, retry_in=retry_in, deferred=outcome.deferred),
        processor=processor,
        context=context,
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return handle(event, context, buffer(), retrier())
