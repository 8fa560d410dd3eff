"""An outgoing message, what SQS asks of it (group and deduplication ids), what became of it.

:class:`Message` is what :class:`~sqs_blueprint.producer.Producer` sends. A message's
``MessageGroupId`` comes from its own ``group_id`` or ``tenant``, or from the producer's
group or tenant key (:func:`message_group`); ids are checked against SQS's rule
(:func:`check_id`), and a FIFO message without a deduplication id gets one derived from
its group and body (:func:`deduplication_id`). A send's outcome is a :class:`SendResult`.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqs_blueprint.errors import UsageError
from sqs_blueprint.limits import SQS_MAX_ID_LENGTH

# MessageGroupId and MessageDeduplicationId: letters, digits and ASCII punctuation
# (limits.SQS_SEND_MESSAGE_URL).
_ID_PATTERN = re.compile(f"[A-Za-z0-9{re.escape(string.punctuation)}]{{1,{SQS_MAX_ID_LENGTH}}}")


@dataclass(frozen=True)
class Message:
    """One message to send; attributes in the SendMessage shape.

    ``group_id`` and ``tenant`` both become the ``MessageGroupId``: ``group_id``
    orders messages on a FIFO queue; ``tenant`` names who a message belongs to on a
    standard (fair) queue. Giving both with different values is refused.
    """

    body: str
    message_attributes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    group_id: str | None = None
    deduplication_id: str | None = None
    delay_seconds: int | None = None
    tenant: str | None = None


@dataclass(frozen=True)
class Sent:
    index: int
    message_id: str
    offloaded: bool
    sequence_number: str | None = None


@dataclass(frozen=True)
class Failed:
    """A message that was not sent. ``held_back``: never tried, because an earlier message
    of its FIFO group failed. ``maybe_sent``: the request's outcome is unknown (a timeout or
    a dropped connection), so the message may be in the queue; its payload object is kept.
    """

    index: int
    error: str
    held_back: bool = False
    maybe_sent: bool = False


@dataclass
class SendResult:
    """Every input appears exactly once, in ``sent`` or ``failed``, by its index.

    ``payloads_deleted`` counts the S3 objects offloaded for messages that were not sent
    and then deleted; ``payloads_not_deleted`` lists those a delete failed for, with why.
    """

    sent: list[Sent] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)
    payloads_deleted: int = 0
    payloads_not_deleted: list[str] = field(default_factory=list)


Key = str | Callable[[Message], str | int | None]
"""A group or tenant key: a field of the JSON object body, or a function of the message."""


def deduplication_id(body: str, group_id: str | None = None) -> str:
    """SHA-256 hex of the group and the original body: stable across retries, the same
    whether or not the body is offloaded, and distinct for one body in two groups."""
    salt = "" if group_id is None else f"{group_id}\n"
    return hashlib.sha256(f"{salt}{body}".encode()).hexdigest()


def check_id(value: str, what: str) -> str:
    """``value`` if it is a valid MessageGroupId / MessageDeduplicationId, else UsageError."""
    if not isinstance(value, str) or not _ID_PATTERN.fullmatch(value):
        raise UsageError(
            f"{what} must be 1..{SQS_MAX_ID_LENGTH} ASCII letters, digits or punctuation, "
            f"got {value!r}"
        )
    return value


def key_value(key: Key, message: Message, what: str) -> str | None:
    """The value ``key`` gives for ``message``, as text (None: the key gives none)."""
    value = key(message) if callable(key) else _field(message.body, key, what)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise UsageError(f"{what} {key!r} must give a string or an integer, got {value!r}")
    return str(value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, list):
        return "array"
    return "string" if isinstance(value, str) else "number"


def _field(body: str, key: str, what: str) -> Any:
    """Field ``key`` of a JSON object body; a UsageError saying which of the three is wrong:
    the body is not JSON, not an object, or has no such field."""
    try:
        record = json.loads(body)
    except ValueError:
        raise UsageError(
            f"{what} {key!r} needs a JSON object body; this body is not JSON (starts {body[:20]!r})"
        ) from None
    if not isinstance(record, dict):
        raise UsageError(
            f"{what} {key!r} needs a JSON object body; this body is a JSON {_json_type(record)}"
        )
    if key not in record:
        raise UsageError(f"{what} field {key!r} is missing from this JSON object")
    return record[key]


def message_group(
    message: Message, *, fifo: bool, group_key: Key | None, tenant_key: Key | None
) -> str | None:
    """The message's ``MessageGroupId``: its group id or tenant, or the producer's keys."""
    group, tenant = message.group_id, message.tenant
    if group is None and group_key is not None:
        group = key_value(group_key, message, "group key")
    if tenant is None and tenant_key is not None:
        tenant = key_value(tenant_key, message, "tenant key")
    if tenant is not None:
        if group is not None and group != tenant:
            raise UsageError(
                f"tenant {tenant!r} and group id {group!r} disagree: both set the "
                "MessageGroupId; give one of them, or the same value"
            )
        if fifo and group is None:
            raise UsageError(
                f"tenant {tenant!r} given for a FIFO queue, where the message group orders "
                "messages: give a group id (the tenant itself for one ordered group per "
                "tenant); tenants are for standard (fair) queues"
            )
        group = tenant
    if fifo and group is None:
        raise UsageError(
            "a FIFO queue needs a message group id: Message(body, group_id=...) "
            "or Producer(..., group_key=...)"
        )
    return None if group is None else check_id(group, "message group id")
