"""The server's side: :class:`Responder` answers a request on the queue it names."""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from sqs_blueprint import tracing
from sqs_blueprint._clients import LazyClient
from sqs_blueprint.records import Record
from sqs_blueprint.rpc.protocol import (
    CORRELATION_ID,
    DEADLINE,
    NAME_CHARS,
    REPLY_TO,
    STATUS,
    STATUS_ERROR,
    STATUS_EXPIRED,
    STATUS_OK,
    HandlerFn,
    Payload,
    ReplyToRefused,
    RequestError,
    check_prefix,
    string_attribute,
)

RESPONSE_QUEUE_PREFIX = "RESPONSE_QUEUE_PREFIX"
_MISSING_QUEUE_CODES = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})

log = logging.getLogger(__name__)


# A queue URL as SQS returns it: printable ASCII without spaces. Checked on the whole
# text, because urlsplit drops tabs and newlines before it splits.
_URL_TEXT = re.compile(r"[!-~]+")
_ACCOUNT_ID = re.compile(r"[0-9]+")


def _account_of(source: str) -> str | None:
    """The account of a queue given by ARN (``arn:aws:sqs:REGION:ACCOUNT:NAME``) or URL."""
    if source.startswith("arn:"):
        parts = source.split(":")
        return parts[4] if len(parts) == 6 else None
    segments = urlsplit(source).path.split("/")
    return segments[1] if len(segments) == 3 and _ACCOUNT_ID.fullmatch(segments[1]) else None


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


@dataclass(frozen=True)
class ResponderSettings:
    """What a responder is configured with: the prefix every ``ReplyTo`` queue must have.

    The construct sets the function's environment from :meth:`to_env`; the handler
    reads it back with :meth:`from_env`, so the variable is named here only.
    """

    response_queue_prefix: str

    def __post_init__(self) -> None:
        """Refuse a prefix :meth:`from_env` would read back differently or refuse."""
        check_prefix(self.response_queue_prefix)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ResponderSettings:
        env = os.environ if env is None else env
        prefix = env.get(RESPONSE_QUEUE_PREFIX, "").strip()
        check_prefix(prefix, RESPONSE_QUEUE_PREFIX)
        return cls(response_queue_prefix=prefix)

    def to_env(self) -> dict[str, str]:
        return {RESPONSE_QUEUE_PREFIX: self.response_queue_prefix}


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
        check_prefix(response_queue_prefix)
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
            _URL_TEXT.fullmatch(reply_to or "") is not None
            and parts.scheme in ("http", "https")
            and bool(parts.netloc)
            and not parts.query
            and not parts.fragment
            and len(segments) == 3
            and segments[0] == ""
            and _ACCOUNT_ID.fullmatch(segments[1]) is not None
            and segments[2].startswith(self.response_queue_prefix)
            and NAME_CHARS.fullmatch(segments[2]) is not None
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
            # The request's trace goes on with its answer (sqs_blueprint.tracing).
            header = record.attributes.get(tracing.HEADER) if tracing.enabled() else None
            system = (
                {"MessageSystemAttributes": tracing.system_attributes(header)} if header else {}
            )
            self._sqs().send_message(
                QueueUrl=reply_to,
                MessageBody=json.dumps(body),
                MessageAttributes={
                    CORRELATION_ID: string_attribute(correlation_id),
                    STATUS: string_attribute(status),
                },
                **system,
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
