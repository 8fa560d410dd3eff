"""Request/response over a request queue and per-client response queues.

Wire format. A request is a JSON object with a ``type`` field, sent to the
request queue with the message attributes ``ReplyTo`` (the response queue URL),
``CorrelationId`` and, optionally, ``Deadline`` (a Number: epoch milliseconds
after which the caller no longer waits; a request without it is always
answered). A response is a JSON object sent to ``ReplyTo`` with the same
``CorrelationId`` and ``Status`` (``ok`` or ``error``); an error response's
body is ``{"error": "<message>"}``.

Client: :class:`RpcClient`, one background receiver thread per client matches
responses to calls by correlation id. A correlation id is
``<client id>.<call id>``, so clients that share one response queue leave each
other's responses in it. Server: :class:`Responder` dispatches a
:class:`~sqs_blueprint.records.Record` to the function registered for its type.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from decimal import Decimal, DecimalException, InvalidOperation, getcontext
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.exceptions import ClientError

from sqs_blueprint._clients import LazyClient
from sqs_blueprint.errors import SqsBlueprintError, UsageError
from sqs_blueprint.records import Record

REPLY_TO = "ReplyTo"
CORRELATION_ID = "CorrelationId"
DEADLINE = "Deadline"
STATUS = "Status"
STATUS_OK = "ok"
STATUS_ERROR = "error"
STATUS_EXPIRED = "expired"  # what handle() returns for a request dropped past its deadline
MAX_QUEUE_NAME = 80  # SQS queue names: 1..80 letters, digits, '-' and '_'
_NAME_CHARS = re.compile(r"[A-Za-z0-9_-]+")
_MISSING_QUEUE_CODES = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})

log = logging.getLogger(__name__)

Payload = dict[str, Any]
HandlerFn = Callable[[Payload], Payload]


class RpcTimeout(SqsBlueprintError, TimeoutError):
    """No response arrived in time (the request may have ended in the request DLQ)."""


class RpcError(SqsBlueprintError):
    """The server answered with an error; the message is the server's."""


class RequestError(SqsBlueprintError):
    """Raised by a handler for a bad request: answered as an error, never retried."""


class ReplyToRefused(SqsBlueprintError):
    """A request cannot be answered: ``ReplyTo`` is missing or names a queue outside the
    allowed prefix, or ``CorrelationId`` is missing. Nothing is sent anywhere."""


def _check_prefix(prefix: str) -> None:
    if not prefix or not _NAME_CHARS.fullmatch(prefix) or len(prefix) > MAX_QUEUE_NAME - 32:
        raise UsageError(
            f"response_queue_prefix must be 1..{MAX_QUEUE_NAME - 32} letters, digits, "
            f"'-' or '_' (a 32-character id is appended), got {prefix!r}"
        )


def _string_attribute(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


# What only a response queue's creator may do to it; SendMessage stays the responder's.
PRIVATE_ACTIONS = (
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:PurgeQueue",
    "sqs:ReceiveMessage",
)


def principal_arns(caller_arn: str) -> list[str]:
    """The ``aws:PrincipalArn`` values that name the caller of ``sts:GetCallerIdentity``.

    For a role session, GetCallerIdentity says
    ``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`` while ``aws:PrincipalArn``
    is the role's ARN, ``arn:aws:iam::ACCOUNT:role/PATH/ROLE``
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn).
    The path is not in the session ARN; role names are unique in an account
    whatever their path, so ``role/ROLE`` and ``role/*/ROLE`` name that role only.
    Any other caller (an IAM user, the root user) is its own ARN.
    """
    parts = caller_arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        role = parts[5].split("/")[1]
        base = f"arn:{parts[1]}:iam::{parts[4]}:role/"
        return [f"{base}{role}", f"{base}*/{role}"]
    return [caller_arn]


def response_queue_policy(queue_arn: str, caller_arn: str) -> dict[str, Any]:
    """The queue policy of a client's response queue: only its creator reads it, over TLS.

    Deny statements, so no identity policy elsewhere in the account can widen them
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyItsCreatorReads",
                "Effect": "Deny",
                "Principal": "*",
                "Action": list(PRIVATE_ACTIONS),
                "Resource": queue_arn,
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": principal_arns(caller_arn)}},
            },
            {
                "Sid": "TlsOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sqs:*",
                "Resource": queue_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


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


def _account_of(source: str) -> str | None:
    """The account of a queue given by ARN (``arn:aws:sqs:REGION:ACCOUNT:NAME``) or URL."""
    if source.startswith("arn:"):
        parts = source.split(":")
        return parts[4] if len(parts) == 6 else None
    segments = urlsplit(source).path.split("/")
    return segments[1] if len(segments) == 3 and segments[1].isdigit() else None


def _expired(deadline: Mapping[str, Any] | None) -> bool:
    """Whether a request's ``Deadline`` attribute (epoch ms) has passed; none never does."""
    if deadline is None:
        return False
    raw = deadline.get("StringValue")
    try:
        milliseconds = float(raw) if isinstance(raw, str) else math.nan
    except ValueError:
        milliseconds = math.nan
    if not math.isfinite(milliseconds):
        raise RequestError(f"{DEADLINE} {raw!r} is not a time in epoch milliseconds")
    return milliseconds < time.time() * 1000


def _refuse_constant(name: str) -> Any:
    raise RequestError(f"the request is not JSON: {name} is not a JSON number")


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
        wait_time_seconds: int = 20,
        response_retention_s: int = 300,
        sts_client: Any = None,
    ) -> None:
        _check_prefix(response_queue_prefix)
        if not 1 <= wait_time_seconds <= 20:  # docs/aws-facts.md#sqs-limits: long polling 0..20 s
            raise UsageError(f"wait_time_seconds must be 1..20, got {wait_time_seconds!r}")
        if not 60 <= response_retention_s <= 1_209_600:  # docs/aws-facts.md#sqs-limits
            raise UsageError(
                f"response_retention_s must be 60..1209600, got {response_retention_s!r}"
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
                REPLY_TO: _string_attribute(self.response_queue_url),
                CORRELATION_ID: _string_attribute(correlation_id),
                DEADLINE: {
                    "DataType": "Number",
                    "StringValue": str(int((time.time() + timeout) * 1000)),
                },
            },
        }
        if self.request_queue_url.endswith(".fifo"):
            request["MessageGroupId"] = correlation_id
            request["MessageDeduplicationId"] = correlation_id
        try:
            self._sqs().send_message(**request)
        except BaseException:
            with self._lock:
                self._pending.pop(correlation_id, None)
            raise
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
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait,
            MessageAttributeNames=["All"],
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


class Responder:
    """Answers requests by dispatching on their ``type`` field.

    ``handle(record)`` returns the status sent (``ok`` or ``error``), or
    ``expired`` when the request's ``Deadline`` has passed: nobody waits for
    it, so it is not answered and the caller deletes it. Bad requests (not a
    JSON object, NaN or Infinity, unknown type, a malformed ``Deadline``, a
    handler raising :class:`RequestError`) are answered with an error. It
    raises, so the record is retried and ends in the DLQ, when ``ReplyTo`` is
    missing, outside the prefix or outside the request queue's account
    (:class:`ReplyToRefused`, nothing is sent) and on any other exception of a
    handler or of SQS.
    """

    def __init__(
        self,
        *,
        response_queue_prefix: str,
        sqs_client: Any = None,
        handlers: Mapping[str, HandlerFn] | None = None,
    ) -> None:
        _check_prefix(response_queue_prefix)
        self.response_queue_prefix = response_queue_prefix
        self.handlers: dict[str, HandlerFn] = dict(handlers or {})
        self._sqs = LazyClient("sqs", sqs_client)

    def register(self, type_: str, handler: HandlerFn) -> None:
        self.handlers[type_] = handler

    def check_reply_to(self, reply_to: str | None, source: str | None = None) -> str:
        """``reply_to`` if it is a queue URL named with the prefix, else ReplyToRefused.

        When ``source`` (the request queue: an ARN from Lambda, a queue URL from
        a worker) is given, ``reply_to`` must be in its account too.
        """
        parts = urlsplit(reply_to or "")
        segments = parts.path.split("/")
        valid = (
            parts.scheme in ("http", "https")
            and bool(parts.netloc)
            and not parts.query
            and not parts.fragment
            and len(segments) == 3
            and segments[0] == ""
            and segments[1].isdigit()
            and segments[2].startswith(self.response_queue_prefix)
            and _NAME_CHARS.fullmatch(segments[2]) is not None
        )
        if valid and source:
            valid = _account_of(source) == segments[1]
        if not valid:
            raise ReplyToRefused(
                f"ReplyTo {reply_to!r} is not a queue URL of this account whose name starts "
                f"with {self.response_queue_prefix!r}; the request is not answered"
            )
        return reply_to or ""

    def handle(self, record: Record) -> str:
        """Answer ``record``; the status sent, or ``expired`` for a request dropped unanswered."""
        attributes = record.message_attributes
        reply_to = self.check_reply_to(
            attributes.get(REPLY_TO, {}).get("StringValue"), record.source
        )
        correlation_id = attributes.get(CORRELATION_ID, {}).get("StringValue")
        if not correlation_id:
            raise ReplyToRefused(f"request {record.message_id} has no {CORRELATION_ID}")
        try:
            if _expired(attributes.get(DEADLINE)):
                log.warning(
                    "request %s dropped unanswered: its caller's deadline has passed",
                    record.message_id,
                )
                return STATUS_EXPIRED
            status, body = STATUS_OK, self._dispatch(record.body)
        except RequestError as error:
            status, body = STATUS_ERROR, {"error": str(error)}
        try:
            self._sqs().send_message(
                QueueUrl=reply_to,
                MessageBody=json.dumps(body),
                MessageAttributes={
                    CORRELATION_ID: _string_attribute(correlation_id),
                    STATUS: _string_attribute(status),
                },
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in _MISSING_QUEUE_CODES:
                raise
            log.warning("response queue %s is gone; its client has left", reply_to)
        return status

    def _dispatch(self, body: str) -> Payload:
        try:
            request = json.loads(body, parse_constant=_refuse_constant)
        except ValueError:
            raise RequestError("the request is not JSON") from None
        if not isinstance(request, dict):
            raise RequestError("the request is not a JSON object")
        type_ = request.get("type")
        handler = self.handlers.get(type_) if isinstance(type_, str) else None
        if handler is None:
            known = ", ".join(sorted(self.handlers))
            raise RequestError(f"unknown request type {type_!r}; known: {known}")
        return handler(request)


# The reference service: two small request types.


def _content_errors(handler: HandlerFn) -> HandlerFn:
    """``handler`` with errors caused by the request's content answered as RequestError.

    A value no arithmetic can take (an overflowing or non-finite number, a
    decimal out of range) or text that cannot be encoded (a lone surrogate)
    says nothing about the service: retrying cannot help, the caller must
    change the request.
    """

    @functools.wraps(handler)
    def run(request: Payload) -> Payload:
        try:
            return handler(request)
        except (ArithmeticError, ValueError) as error:  # decimal's signals are ArithmeticErrors
            detail = "" if isinstance(error, DecimalException) else f": {error}"
            raise RequestError(
                f"{request.get('type')} cannot be computed from this request "
                f"({type(error).__name__}{detail}); change the values it carries"
            ) from None

    return run


@_content_errors
def checksum(request: Payload) -> Payload:
    """``{"type": "checksum", "data": str, "algorithm": "sha256"}`` -> hex digest."""
    algorithm = request.get("algorithm", "sha256")
    data = request.get("data")
    if algorithm not in ("md5", "sha1", "sha256", "sha512"):
        raise RequestError(f"unsupported algorithm {algorithm!r}; use md5, sha1, sha256 or sha512")
    if not isinstance(data, str):
        raise RequestError("checksum needs a string field 'data'")
    try:
        encoded = data.encode()
    except UnicodeEncodeError:
        raise RequestError(
            "checksum needs 'data' to be Unicode text: it has a lone surrogate "
            "(an unpaired \\ud800-\\udfff escape)"
        ) from None
    return {"algorithm": algorithm, "hexdigest": hashlib.new(algorithm, encoded).hexdigest()}


@_content_errors
def quote(request: Payload) -> Payload:
    """``{"type": "quote", "items": [{"sku", "quantity", "unit_price"}]}`` -> decimal total."""
    items = request.get("items")
    if not isinstance(items, list) or not items:
        raise RequestError("quote needs a non-empty list 'items'")
    total = Decimal(0)
    for item in items:
        try:
            quantity = int(item["quantity"])
            price = Decimal(str(item["unit_price"]))
        except (KeyError, TypeError, ValueError, ArithmeticError):
            raise RequestError(
                f"bad item {item!r}: needs an integer quantity and a decimal unit_price"
            ) from None
        if not price.is_finite() or quantity < 1 or price < 0:
            raise RequestError(f"bad item {item!r}: quantity >= 1 and a finite unit_price >= 0")
        total += quantity * price
    try:
        rounded = total.quantize(Decimal("0.01"))
    except InvalidOperation:
        raise RequestError(
            f"the total {total} has too many digits to round to cents "
            f"({getcontext().prec} significant digits at most)"
        ) from None
    return {"items": len(items), "total": str(rounded)}


REFERENCE_HANDLERS: Mapping[str, HandlerFn] = {"checksum": checksum, "quote": quote}


def reference_responder(*, response_queue_prefix: str, sqs_client: Any = None) -> Responder:
    """The reference service: ``checksum`` and ``quote``."""
    return Responder(
        response_queue_prefix=response_queue_prefix,
        sqs_client=sqs_client,
        handlers=REFERENCE_HANDLERS,
    )
