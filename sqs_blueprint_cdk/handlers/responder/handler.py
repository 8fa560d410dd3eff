"""Responder Lambda: answers requests of the reference service (checksum, quote).

Configured once per execution environment from :meth:`ResponderSettings.from_env`
(the name prefix every ``ReplyTo`` queue must have). A record whose ``ReplyTo`` is
refused, or that hits an infrastructure error, is reported in
``batchItemFailures`` so it is retried and ends in the request DLQ; bad requests
are answered with an error response; a request past its ``Deadline`` is dropped
unanswered (and deleted).
"""

from __future__ import annotations

import os
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
from sqs_blueprint.records import Record
from sqs_blueprint.rpc import STATUS_EXPIRED, Responder, ResponderSettings, reference_responder

logger = Logger(service="responder")
processor = BatchProcessor(event_type=EventType.SQS)
tracing.check()  # SQS_BLUEPRINT_TRACING=on without its packages fails the cold start
NAME = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "responder")


@cache
def responder() -> Responder:
    settings = ResponderSettings.from_env()
    return reference_responder(response_queue_prefix=settings.response_queue_prefix)


def answer(record: SQSRecord, service: Responder) -> None:
    logger.set_correlation_id(record.message_id)
    logger.append_keys(trace_id=tracing.trace_id_of(record.attributes.aws_trace_header))
    receives = int(record.attributes.approximate_receive_count)
    span = tracing.start_record(record.raw_event.get("attributes") or {}, record.message_id, NAME)
    try:
        status = service.handle(Record.from_lambda(record.raw_event))
    except Exception as error:
        extra = {"receive_count": receives, "outcome": "failed"}
        logger.exception("request failed; it will be retried", extra=extra)
        if span is not None:
            span.end(**{tracing.OUTCOME: "failed", tracing.REASON: f"{type(error).__name__}"})
        raise
    if span is not None:
        span.end(**{tracing.OUTCOME: status})
    if status == STATUS_EXPIRED:
        extra = {"receive_count": receives, "outcome": "dropped"}
        logger.warning("dropped unanswered: the caller's deadline has passed", extra=extra)
    else:
        extra = {"receive_count": receives, "outcome": "processed", "status": status}
        logger.info("answered", extra=extra)


def handle(
    event: dict[str, Any], context: LambdaContext, service: Responder
) -> PartialItemFailureResponse:
    """Answer one event's requests with the given responder (tests pass their own)."""
    return process_partial_response(
        event=event,
        record_handler=partial(answer, service=service),
        processor=processor,
        context=context,
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return handle(event, context, responder())
