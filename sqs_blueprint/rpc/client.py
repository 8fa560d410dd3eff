"""The caller's side: :class:`RpcClient` sends requests and matches their responses.

One background receiver thread per client matches responses to calls by
correlation id (:mod:`sqs_blueprint.rpc.protocol`).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import boto3

from sqs_blueprint import tracing
from sqs_blueprint._clients import LazyClient
from sqs_blueprint.errors import UsageError
from sqs_blueprint.limits import (
    SQS_BATCH_MAX_ENTRIES,
    SQS_MAX_RETENTION_S,
    SQS_MAX_WAIT_TIME_S,
    SQS_MIN_RETENTION_S,
)
from sqs_blueprint.rpc.policy import response_queue_policy
from sqs_blueprint.rpc.protocol import (
    CORRELATION_ID,
    DEADLINE,
    REPLY_TO,
    STATUS,
    STATUS_ERROR,
    STATUS_OK,
    Payload,
    RpcError,
    RpcTimeout,
    check_prefix,
    string_attribute,
)

log = logging.getLogger(__name__)


def _sts_like(sqs: Any) -> Any:
    """An STS client that signs as ``sqs`` does, so the identity found is the queue's creator.

    It uses the SQS client's credentials and, when that client talks to an
    emulator rather than AWS (one endpoint for every service), its endpoint.
    """
    host = urlsplit(sqs.meta.endpoint_url).hostname or ""
    on_aws = host.endswith((".amazonaws.com", ".amazonaws.com.cn", ".api.aws"))
    settings: dict[str, Any] = {"region_name": sqs.meta.region_name}
    if not on_aws:
        settings["endpoint_url"] = sqs.meta.endpoint_url
    credentials = sqs._get_credentials()  # botocore's one way to read a client's credentials
    if credentials is not None:
        frozen = credentials.get_frozen_credentials()
        settings.update(
            aws_access_key_id=frozen.access_key,
            aws_secret_access_key=frozen.secret_key,
            aws_session_token=frozen.token,
        )
    return boto3.client("sts", **settings)


class RpcClient:
    """Sends requests and waits for their responses on its own response queue.

    Use it as a context manager: on enter it creates the response queue
    ``<response_queue_prefix><client id>`` (or uses ``response_queue_url``) and
    starts the receiver; on exit it stops the receiver, cancels calls still
    waiting and deletes the queue it created. A queue it creates has
    :func:`response_queue_policy`: only the principal that created it may read it.

    Several clients may share one ``response_queue_url``: each recognizes its
    own responses by the client id in their correlation id and gives the others
    back at once (visibility 0) for their owner; on a queue of its own, a client
    deletes whatever is not its own. Every call carries a ``Deadline`` so a
    responder drops the requests its caller no longer waits for.
    """

    def __init__(
        self,
        *,
        request_queue_url: str,
        response_queue_prefix: str,
        sqs_client: Any = None,
        response_queue_url: str | None = None,
        wait_time_seconds: int = SQS_MAX_WAIT_TIME_S,
        response_retention_s: int = 300,
        sts_client: Any = None,
    ) -> None:
        check_prefix(response_queue_prefix)
        if not 1 <= wait_time_seconds <= SQS_MAX_WAIT_TIME_S:  # docs/aws-facts.md#sqs-limits
            raise UsageError(
                f"wait_time_seconds must be 1..{SQS_MAX_WAIT_TIME_S}, got {wait_time_seconds!r}"
            )
        retention = (SQS_MIN_RETENTION_S, SQS_MAX_RETENTION_S)  # docs/aws-facts.md#sqs-limits
        if not retention[0] <= response_retention_s <= retention[1]:
            raise UsageError(
                f"response_retention_s must be {retention[0]}..{retention[1]}, "
                f"got {response_retention_s!r}"
            )
        self.request_queue_url = request_queue_url
        self.response_queue_prefix = response_queue_prefix
        self.response_queue_url = response_queue_url
        self._owns_queue = response_queue_url is None
        self._sqs = LazyClient("sqs", sqs_client)
        self._sts = sts_client
        self._client_id = uuid.uuid4().hex
        self._wait = wait_time_seconds
        self._retention = response_retention_s
        self._pending: dict[str, tuple[Future[Payload], float]] = {}
        self._lock = threading.Condition()  # guards _pending; notified on submit and exit
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> RpcClient:
        if self._owns_queue:
            self.response_queue_url = self._create_queue()
        self._stop.clear()
        self._thread = threading.Thread(target=self._receive_loop, name="rpc-receiver", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._lock:
            self._stop.set()
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            pending, self._pending = self._pending, {}
        for future, _ in pending.values():
            future.cancel()
        if self._owns_queue and self.response_queue_url is not None:
            self._sqs().delete_queue(QueueUrl=self.response_queue_url)
            self.response_queue_url = None

    def _create_queue(self) -> str:
        """Create this client's response queue, readable by its creator only."""
        sqs = self._sqs()
        caller = (self._sts or _sts_like(sqs)).get_caller_identity()
        partition = caller["Arn"].split(":")[1]
        name = f"{self.response_queue_prefix}{self._client_id}"
        arn = f"arn:{partition}:sqs:{sqs.meta.region_name}:{caller['Account']}:{name}"
        attributes = {
            "MessageRetentionPeriod": str(self._retention),
            "SqsManagedSseEnabled": "true",
            "Policy": json.dumps(response_queue_policy(arn, caller["Arn"])),
        }
        url: str = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        return url

    def submit(self, payload: Payload, timeout: float) -> Future[Payload]:
        """Send ``payload``; the future holds the response, or raises
        :class:`RpcError` / :class:`RpcTimeout` (checked at least every receive wait)."""
        return self._submit(payload, timeout)[1]

    def call(self, payload: Payload, timeout: float) -> Payload:
        """Send ``payload`` and wait for its response; raises RpcError or RpcTimeout."""
        correlation_id, future = self._submit(payload, timeout)
        try:
            return future.result(timeout)
        except FutureTimeout:
            self._expire(correlation_id)
            return future.result()

    def _submit(self, payload: Payload, timeout: float) -> tuple[str, Future[Payload]]:
        if self._thread is None or self.response_queue_url is None:
            raise RuntimeError("use RpcClient as a context manager: `with RpcClient(...) as c:`")
        if not (isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0):
            raise UsageError(f"timeout must be a positive number of seconds, got {timeout!r}")
        correlation_id = f"{self._client_id}.{uuid.uuid4().hex}"
        future: Future[Payload] = Future()
        with self._lock:
            self._pending[correlation_id] = (future, time.monotonic() + timeout)
            self._lock.notify_all()
        request: dict[str, Any] = {
            "QueueUrl": self.request_queue_url,
            "MessageBody": json.dumps(payload),
            "MessageAttributes": {
                REPLY_TO: string_attribute(self.response_queue_url),
                CORRELATION_ID: string_attribute(correlation_id),
                DEADLINE: {
                    "DataType": "Number",
                    "StringValue": str(int((time.time() + timeout) * 1000)),
                },
            },
        }
        if self.request_queue_url.endswith(".fifo"):
            request["MessageGroupId"] = correlation_id
            request["MessageDeduplicationId"] = correlation_id
        span = tracing.start_send(self.request_queue_url)
        if span is not None and span.header:
            request["MessageSystemAttributes"] = tracing.system_attributes(span.header)
        try:
            sent = self._sqs().send_message(**request)
        except BaseException as error:
            with self._lock:
                self._pending.pop(correlation_id, None)
            if span is not None:
                span.end(**{tracing.OUTCOME: "failed", tracing.REASON: type(error).__name__})
            raise
        if span is not None:
            span.end(**{tracing.MESSAGE_ID: sent.get("MessageId"), tracing.OUTCOME: "sent"})
        return correlation_id, future

    def _expire(self, correlation_id: str) -> None:
        with self._lock:
            entry = self._pending.pop(correlation_id, None)
        if entry is not None:
            entry[0].set_exception(
                RpcTimeout(f"no response to request {correlation_id} within the timeout")
            )

    def _expire_overdue(self) -> float | None:
        """Fail overdue calls; return seconds until the next deadline (None: none left)."""
        now = time.monotonic()
        with self._lock:
            overdue = [cid for cid, (_, deadline) in self._pending.items() if deadline <= now]
            upcoming = [deadline for _, deadline in self._pending.values() if deadline > now]
        for correlation_id in overdue:
            self._expire(correlation_id)
        return min(upcoming) - now if upcoming else None

    def _receive_loop(self) -> None:
        while True:
            with self._lock:  # no calls waiting: no polling (a late response waits for the next)
                while not self._pending and not self._stop.is_set():
                    self._lock.wait()
                if self._stop.is_set():
                    return
            until_deadline = self._expire_overdue()
            if until_deadline is None:
                continue
            try:
                self._receive_once(min(self._wait, math.ceil(until_deadline)))
            except Exception:
                log.exception("receiving responses failed; retrying")
                self._stop.wait(1)

    def _receive_once(self, wait: int) -> None:
        response = self._sqs().receive_message(
            QueueUrl=self.response_queue_url,
            MaxNumberOfMessages=SQS_BATCH_MAX_ENTRIES,
            WaitTimeSeconds=wait,
            MessageAttributeNames=["All"],
            **({"MessageSystemAttributeNames": [tracing.HEADER]} if tracing.enabled() else {}),
        )
        messages = response.get("Messages", [])
        mine = [m for m in messages if self._is_mine(m)]
        others = [m for m in messages if not self._is_mine(m)]
        if others and not self._owns_queue:  # a shared queue: leave them to their owner
            self._batch("change_message_visibility_batch", others, VisibilityTimeout=0)
        elif others:
            log.info("dropped %d responses of no client of this queue", len(others))
            mine += others
        if not mine:
            return
        # Delete first: a late or unknown response is dropped, never redelivered.
        self._batch("delete_message_batch", mine)
        for message in mine:
            self._deliver(message)

    def _is_mine(self, message: Mapping[str, Any]) -> bool:
        attributes = message.get("MessageAttributes") or {}
        correlation_id = attributes.get(CORRELATION_ID, {}).get("StringValue", "")
        return isinstance(correlation_id, str) and correlation_id.startswith(f"{self._client_id}.")

    def _batch(self, action: str, messages: list[Mapping[str, Any]], **fields: Any) -> None:
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], **fields}
            for i, m in enumerate(messages)
        ]
        getattr(self._sqs(), action)(QueueUrl=self.response_queue_url, Entries=entries)

    def _deliver(self, message: Mapping[str, Any]) -> None:
        attributes = message.get("MessageAttributes") or {}
        correlation_id = attributes.get(CORRELATION_ID, {}).get("StringValue", "")
        with self._lock:
            entry = self._pending.pop(correlation_id, None)
        if entry is None:
            log.info("dropped a late or unknown response %r", correlation_id)
            return
        future = entry[0]
        status = attributes.get(STATUS, {}).get("StringValue")
        span = tracing.start_record(
            message.get("Attributes") or {}, message["MessageId"], "rpc-client"
        )
        if span is not None:
            span.end(**{tracing.OUTCOME: f"response {status}"})
        try:
            body = json.loads(message["Body"])
        except ValueError:
            future.set_exception(RpcError(f"response {correlation_id} is not JSON"))
            return
        if status == STATUS_OK and isinstance(body, dict):
            future.set_result(body)
        elif status == STATUS_ERROR and isinstance(body, dict):
            future.set_exception(RpcError(str(body.get("error", "error without a message"))))
        else:
            future.set_exception(RpcError(f"malformed response {correlation_id}: {status!r}"))
