"""The wire format of request/response over SQS, and its errors.

A request is a JSON object with a ``type`` field, sent to the request queue
with the message attributes ``ReplyTo`` (the response queue URL),
``CorrelationId`` and, optionally, ``Deadline`` (a Number: epoch milliseconds
after which the caller no longer waits; a request without it is always
answered). A response is a JSON object sent to ``ReplyTo`` with the same
``CorrelationId`` and ``Status`` (``ok`` or ``error``); an error response's
body is ``{"error": "<message>"}``. A correlation id is
``<client id>.<call id>``, so clients that share one response queue leave each
other's responses in it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqs_blueprint.errors import SqsBlueprintError, UsageError
from sqs_blueprint.limits import SQS_MAX_QUEUE_NAME_LENGTH

REPLY_TO = "ReplyTo"
CORRELATION_ID = "CorrelationId"
DEADLINE = "Deadline"
STATUS = "Status"
STATUS_OK = "ok"
STATUS_ERROR = "error"
STATUS_EXPIRED = "expired"  # what handle() returns for a request dropped past its deadline
MAX_QUEUE_NAME = SQS_MAX_QUEUE_NAME_LENGTH  # letters, digits, '-' and '_'
CLIENT_ID_LENGTH = 32  # a uuid4 in hex: RpcClient names its queue <prefix><client id>
MAX_PREFIX_LENGTH = MAX_QUEUE_NAME - CLIENT_ID_LENGTH
NAME_CHARS = re.compile(r"[A-Za-z0-9_-]+")

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


def check_prefix(prefix: str, name: str = "response_queue_prefix") -> None:
    """Refuse a response queue prefix (given as ``name``) that cannot start a queue
    name with room for the client id."""
    if not prefix or not NAME_CHARS.fullmatch(prefix) or len(prefix) > MAX_PREFIX_LENGTH:
        raise UsageError(
            f"{name} must be 1..{MAX_PREFIX_LENGTH} letters, digits, "
            f"'-' or '_' (a {CLIENT_ID_LENGTH}-character id is appended), got {prefix!r}"
        )


def string_attribute(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}
