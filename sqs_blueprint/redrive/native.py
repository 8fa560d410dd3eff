"""The native move: StartMessageMoveTask, followed and cancelled (docs/aws-facts.md#sqs-limits).

It moves every message of the DLQ. Where the service has no move tasks (moto,
docs/aws-facts.md#local-cloud) :class:`MoveTasksUnsupported` says so, and the caller moves
client-side.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from sqs_blueprint._clients import LazyClient
from sqs_blueprint.redrive.queues import RedriveError, brief
from sqs_blueprint.redrive.result import Progress, RedriveResult

_DONE = frozenset({"COMPLETED", "CANCELLED", "FAILED"})


class MoveTasksUnsupported(RedriveError):
    """The service has no message move tasks (docs/aws-facts.md#local-cloud: moto)."""


def _no_move_tasks(error: Exception) -> bool:
    """docs/aws-facts.md#local-cloud: moto has no move tasks: NotImplementedError in process, HTTP
    500 as a server."""
    if isinstance(error, NotImplementedError):
        return True
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return bool(status == 500)
    return False


def start_move(
    sqs: Any, dlq_arn: str, *, destination_arn: str | None = None, rate: int | None = None
) -> str:
    """Start a native move task; its handle. Raises MoveTasksUnsupported where there is none."""
    kwargs: dict[str, Any] = {"SourceArn": dlq_arn}
    if destination_arn is not None:
        kwargs["DestinationArn"] = destination_arn
    if rate is not None:
        kwargs["MaxNumberOfMessagesPerSecond"] = rate
    try:
        handle: str = sqs.start_message_move_task(**kwargs)["TaskHandle"]
    except (NotImplementedError, ClientError) as error:
        if _no_move_tasks(error):
            raise MoveTasksUnsupported(
                f"the service has no message move tasks ({brief(error)})"
            ) from error
        raise
    return handle


def follow(
    sqs: Any,
    dlq_arn: str,
    *,
    progress: Progress | None = None,
    poll_seconds: float = 2.0,
) -> dict[str, Any]:
    """Poll ListMessageMoveTasks until the DLQ's latest task ends; its last description."""
    while True:
        results = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=1).get("Results", [])
        if not results:
            raise RedriveError(f"no message move task found for {dlq_arn}")
        task: dict[str, Any] = results[0]
        if progress is not None:
            progress(
                task.get("ApproximateNumberOfMessagesMoved", 0),
                task.get("ApproximateNumberOfMessagesToMove"),
            )
        if task.get("Status") in _DONE:
            return task
        time.sleep(poll_seconds)


def move(
    sqs: Any,
    dlq_arn: str,
    *,
    destination_arn: str | None,
    rate: int | None,
    started: Callable[[str], None] | None,
    wait: bool,
    progress: Progress | None,
    poll_seconds: float,
) -> RedriveResult:
    """Start a move task, tell ``started`` its handle, follow it unless ``wait`` is False."""
    handle = start_move(sqs, dlq_arn, destination_arn=destination_arn, rate=rate)
    if started is not None:
        started(handle)
    if not wait:
        return RedriveResult(path="native", moved=0, task_handle=handle, status="RUNNING")
    task = follow(sqs, dlq_arn, progress=progress, poll_seconds=poll_seconds)
    return RedriveResult(
        path="native",
        moved=task.get("ApproximateNumberOfMessagesMoved", 0),
        task_handle=handle,
        status=task.get("Status", "COMPLETED"),
        failure_reason=task.get("FailureReason"),
    )


def cancel(task_handle: str, *, sqs_client: Any = None) -> int:
    """Cancel a running move task; about how many messages it had moved."""
    sqs = LazyClient("sqs", sqs_client)()
    try:
        response = sqs.cancel_message_move_task(TaskHandle=task_handle)
    except (NotImplementedError, ClientError) as error:
        if _no_move_tasks(error):
            raise MoveTasksUnsupported(
                f"the service has no message move tasks ({type(error).__name__})"
            ) from error
        raise
    moved: int = response.get("ApproximateNumberOfMessagesMoved", 0)
    return moved
