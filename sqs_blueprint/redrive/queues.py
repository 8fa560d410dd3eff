"""The queues of a redrive: finding them, describing them, receiving from them.

Shared by inspect, the native move and the client-side move: queue URLs from
names or ARNs, a DLQ's source queues, the destination rules, and receiving
with a short visibility and handing messages back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sqs_blueprint._clients import LazyClient
from sqs_blueprint.errors import SqsBlueprintError, UsageError
from sqs_blueprint.limits import (
    SQS_BATCH_MAX_ENTRIES,
    SQS_MAX_MOVE_RATE,
    SQS_MAX_VISIBILITY_TIMEOUT_S,
    SQS_MAX_WAIT_TIME_S,
)

log = logging.getLogger(__name__)

MAX_VISIBILITY = SQS_MAX_VISIBILITY_TIMEOUT_S
MAX_WAIT = SQS_MAX_WAIT_TIME_S
MAX_RATE = SQS_MAX_MOVE_RATE
RECEIVE_MAX = SQS_BATCH_MAX_ENTRIES
_MISSING_QUEUE_CODES = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})


class RedriveError(SqsBlueprintError):
    """A DLQ operation failed at run time (exit 1); the base of every redrive error."""


class RedriveUsageError(RedriveError, UsageError):
    """A DLQ request that cannot be carried out as asked (exit 2): fix the input."""


class QueueNotFound(RedriveError):
    """A queue named by the caller does not exist in this account and region."""


def brief(error: Exception) -> str:
    """One short line for an error: a ClientError's code, else its text on one line."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        return f"{error.operation_name} answered {code}" if code else type(error).__name__
    text = " ".join(str(error).split())
    text = text if len(text) <= 160 else text[:159] + "…"
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


@dataclass(frozen=True)
class Queue:
    url: str
    arn: str
    fifo: bool
    redrive_allow_policy: str | None


def queue_url(queue: str, *, sqs_client: Any = None) -> str:
    """A queue URL from a URL, a name (GetQueueUrl) or an ARN."""
    if queue.startswith(("https://", "http://")):
        return queue
    kwargs = {"QueueName": queue}
    if queue.startswith("arn:"):
        parts = queue.split(":")
        if len(parts) != 6 or parts[2] != "sqs":
            raise RedriveUsageError(
                f"{queue!r} is not an SQS queue ARN (arn:aws:sqs:REGION:ACCOUNT:NAME); "
                "give the queue's URL, name or ARN"
            )
        kwargs = {"QueueName": parts[5], "QueueOwnerAWSAccountId": parts[4]}
    try:
        url: str = LazyClient("sqs", sqs_client)().get_queue_url(**kwargs)["QueueUrl"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in _MISSING_QUEUE_CODES:
            raise QueueNotFound(
                f"queue {queue!r} does not exist in this account and region "
                "(give its URL, name or ARN)"
            ) from error
        raise
    return url


def source_queues(dlq_url: str, *, sqs_client: Any = None) -> list[str]:
    """URLs of the queues whose RedrivePolicy names this DLQ (ListDeadLetterSourceQueues)."""
    pages = LazyClient("sqs", sqs_client)().get_paginator("list_dead_letter_source_queues")
    return [url for page in pages.paginate(QueueUrl=dlq_url) for url in page.get("queueUrls", [])]


def describe(sqs: Any, url: str) -> Queue:
    # "All": moto refuses RedriveAllowPolicy by name (docs/aws-facts.md#local-cloud: it does not
    # keep it).
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return Queue(
        url=url,
        arn=attrs["QueueArn"],
        fifo=attrs.get("FifoQueue") == "true",
        redrive_allow_policy=attrs.get("RedriveAllowPolicy"),
    )


def redrive_allowed(policy: str | None, destination_arn: str) -> bool:
    """True if a DLQ's RedriveAllowPolicy lets its messages go to ``destination_arn``.

    docs/aws-facts.md#sqs-limits: ``allowAll``, ``denyAll`` or ``byQueue`` with ``sourceQueueArns``.
    No policy (or one that cannot be read) allows nothing beyond the DLQ's sources.
    """
    try:
        value = json.loads(policy or "")
    except ValueError:
        return False
    if not isinstance(value, dict):
        return False
    permission = value.get("redrivePermission")
    if permission == "allowAll":
        return True
    return permission == "byQueue" and destination_arn in (value.get("sourceQueueArns") or [])


def destination(sqs: Any, dlq: Queue, to: str | None) -> Queue:
    """The queue to redrive into: the DLQ's one source, or ``to`` if it is allowed."""
    sources = source_queues(dlq.url, sqs_client=sqs)
    if to is None:
        if not sources:
            raise RedriveUsageError(
                f"DLQ {dlq.url} serves no source queue (no queue's RedrivePolicy names it); "
                "say where to redrive with --to"
            )
        if len(sources) > 1:
            raise RedriveUsageError(
                f"DLQ {dlq.url} serves {len(sources)} source queues, choose one with --to: "
                + ", ".join(sources)
            )
        url = sources[0]
    else:
        url = queue_url(to, sqs_client=sqs)
    target = describe(sqs, url)
    if url not in sources and not redrive_allowed(dlq.redrive_allow_policy, target.arn):
        raise RedriveUsageError(
            f"refusing to redrive DLQ {dlq.url} into {url}: it is not a source of the DLQ "
            f"(sources: {', '.join(sources) or 'none'}) and the DLQ's RedriveAllowPolicy "
            f"({dlq.redrive_allow_policy or 'not set'}) does not allow it; set it to "
            '{"redrivePermission": "allowAll"} or "byQueue" with that queue\'s ARN'
        )
    if target.fifo != dlq.fifo:
        kinds = {True: "FIFO", False: "standard"}
        raise RedriveUsageError(
            f"DLQ {dlq.url} is a {kinds[dlq.fifo]} queue but {url} is {kinds[target.fifo]}; "
            "messages can only be redriven into a queue of the same type"
        )
    return target


# --- receiving and handing back ------------------------------------------------


def check_receive(visibility: int, wait_seconds: int) -> None:
    if not 1 <= visibility <= MAX_VISIBILITY:
        raise RedriveUsageError(
            f"visibility must be 1 .. {MAX_VISIBILITY:,} seconds, got {visibility}"
        )
    if not 0 <= wait_seconds <= MAX_WAIT:
        raise RedriveUsageError(
            f"wait must be 0 .. {MAX_WAIT} seconds of long polling, got {wait_seconds}"
        )


def receive(sqs: Any, url: str, visibility: int, wait_seconds: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=RECEIVE_MAX,
        VisibilityTimeout=visibility,
        WaitTimeSeconds=wait_seconds,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", [])
    return messages


def visible(sqs: Any, url: str) -> int:
    """The queue's ApproximateNumberOfMessages: visible now, so not held by this run."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes.get("ApproximateNumberOfMessages", 0))


def chunks(items: list[str], size: int = RECEIVE_MAX) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def release(sqs: Any, url: str, receipt_handles: Iterable[str]) -> None:
    """Make held messages visible again now (visibility 0); never raises."""
    for chunk in chunks(list(receipt_handles)):
        try:
            response = sqs.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                    for i, handle in enumerate(chunk)
                ],
            )
        except (BotoCoreError, ClientError) as error:
            # Best effort: a message not handed back reappears when its visibility ends.
            log.warning(
                "could not hand %d message(s) back to %s: %s", len(chunk), url, brief(error)
            )
            continue
        for failure in response.get("Failed", []):
            log.warning("could not hand a message back to %s: %s", url, failure.get("Message"))


# --- the consumer's payload buckets ----------------------------------------------


@dataclass(frozen=True)
class PayloadBuckets:
    """The buckets a DLQ's consumers read S3 payloads from, and where they were found."""

    buckets: frozenset[str]
    found_in: tuple[str, ...] = ()  # the functions whose PAYLOAD_BUCKET named them
    problem: str | None = None  # why discovery stopped early, if it did


def _bucket_names(setting: str) -> set[str]:
    return {name.strip() for name in setting.split(",") if name.strip()}


def consumer_buckets(
    dlq_url: str, *, sqs_client: Any = None, lambda_client: Any = None
) -> PayloadBuckets:
    """The payload buckets of the Lambda consumers of a DLQ's source queues.

    The DLQ's sources (ListDeadLetterSourceQueues), each source's event-source
    mappings (ListEventSourceMappings by queue ARN), each mapped function's
    ``PAYLOAD_BUCKET`` environment variable (comma-separated). What cannot be
    read (no permission, no consumer) adds nothing: the result may be empty.
    """
    sqs = LazyClient("sqs", sqs_client)()
    lambdas = LazyClient("lambda", lambda_client)()
    buckets: set[str] = set()
    found_in: list[str] = []
    try:
        for source in source_queues(dlq_url, sqs_client=sqs):
            pages = lambdas.get_paginator("list_event_source_mappings")
            arn = describe(sqs, source).arn
            for page in pages.paginate(EventSourceArn=arn):
                for mapping in page.get("EventSourceMappings", []):
                    function = mapping["FunctionArn"]
                    config = lambdas.get_function_configuration(FunctionName=function)
                    variables = (config.get("Environment") or {}).get("Variables") or {}
                    names = _bucket_names(variables.get("PAYLOAD_BUCKET", ""))
                    if names:
                        buckets |= names
                        found_in.append(function.rsplit(":", 1)[-1])
    except (BotoCoreError, ClientError) as error:
        return PayloadBuckets(frozenset(buckets), tuple(found_in), brief(error))
    return PayloadBuckets(frozenset(buckets), tuple(found_in))
