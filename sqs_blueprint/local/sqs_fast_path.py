"""The SQS data plane answered at the WSGI layer, straight from moto's backend.

A request through moto's server pays for werkzeug's routing, Flask, moto's
``BaseResponse`` (which also lists moto's service folders on disk to find the
backend) and its model-driven JSON serializer: about 0.5 ms a call, while the
indexed queues (:mod:`sqs_blueprint.local.fast_sqs`) answer in about 50 us. This
layer reads the JSON-protocol actions a producer and a consumer call, in the shape
boto3 sends them (``X-Amz-Target: AmazonSQS.<Action>``), calls the same backend
methods moto's ``SQSResponse`` calls, and writes the same response body. So every
semantic stays moto's as the local cloud fixes it: visibility, receive counts,
redrive to the DLQ, FIFO groups and deduplication, fair queues, the 1 MiB limits,
message attributes and the system attributes (``AWSTraceHeader``).

Everything else goes to moto: other actions, the query protocol, requests without
a SigV4 ``Authorization`` header, and every request the backend refuses. A refusal
(moto's ``ServiceException``: a missing queue, an invalid receipt handle, a bad
parameter) is raised before the backend changes anything, so the request is
handed to moto whole and moto writes its own error response, byte for byte.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import os
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Handler = Callable[[Any, dict[str, Any]], dict[str, Any]]

TARGET_PREFIX = "AmazonSQS."
CONTENT_TYPE = "application/x-amz-json-1.0"
_SCOPE = re.compile(r"Credential=([^/,\s]+)/[^/]+/([^/]+)/")
_SYSTEM_ATTRIBUTES = (  # what moto's ReceiveMessage can return, in its order
    "SenderId",
    "SentTimestamp",
    "ApproximateReceiveCount",
    "ApproximateFirstReceiveTimestamp",
    "MessageDeduplicationId",
    "MessageGroupId",
    "AWSTraceHeader",
    "SequenceNumber",
)


_RUN = uuid.uuid4().hex[:20]  # request ids: unique in this server, cheaper than a uuid each
_REQUESTS = itertools.count()


class _ToMoto(Exception):
    """This request is moto's to answer (nothing has been changed)."""


def wsgi(app: WsgiApp) -> WsgiApp:
    """``app`` (moto's server) with the SQS data-plane actions answered before it."""

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        handler = (
            ACTIONS.get(target[len(TARGET_PREFIX) :]) if target.startswith(TARGET_PREFIX) else None
        )
        if handler is None:
            return app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)  # moto reads it again if it answers
        try:
            backend = _backend(environ)
            result = handler(backend, json.loads(body or b"{}"))
        except _ToMoto:
            return app(environ, start_response)
        payload = json.dumps(result).encode()
        start_response(
            "200 OK",
            [
                ("Content-Type", CONTENT_TYPE),
                ("Content-Length", str(len(payload))),
                ("x-amzn-RequestId", f"{_RUN}-{next(_REQUESTS):012x}"),
                ("server", "amazon.com"),
            ],
        )
        return [payload]

    return serve


def _backend(environ: dict[str, Any]) -> Any:
    """moto's SQS backend for the request's account and region, found as moto finds them:
    the region of the SigV4 credential scope; the account from ``MOTO_ACCOUNT_ID``, the
    ``x-moto-account-id`` header, or the access key."""
    from moto.core.responses import BaseResponse
    from moto.iam.models import get_account_id_from, mark_account_as_visited
    from moto.sqs.models import sqs_backends

    authorization = environ.get("HTTP_AUTHORIZATION", "")
    scope = _SCOPE.search(authorization)
    if not authorization.startswith("AWS4") or scope is None:
        raise _ToMoto
    host = environ.get("HTTP_HOST", "")
    if "amazonaws.com" in host or "region/" in environ.get("HTTP_USER_AGENT", ""):
        raise _ToMoto  # moto reads the region from these first
    region = scope.group(2)
    key = BaseResponse.access_key_regex.search(authorization)
    access_key = key.group(1) if key else "AKIAEXAMPLE"
    account = (
        os.environ.get("MOTO_ACCOUNT_ID")
        or environ.get("HTTP_X_MOTO_ACCOUNT_ID")
        or get_account_id_from(access_key)
    )
    mark_account_as_visited(account_id=account, access_key=access_key, service="sqs", region=region)
    return sqs_backends[account][region]


def _refused(call: Callable[[], Any]) -> Any:
    """``call()``, or this request handed to moto if the backend refuses it."""
    from moto.core.exceptions import ServiceException

    try:
        return call()
    except ServiceException as refusal:
        raise _ToMoto from refusal


def _queue_name(request: dict[str, Any]) -> str:
    """The queue a request names, by URL or by name, as moto reads it."""
    url = request.get("QueueUrl")
    if not isinstance(url, str) or not url:
        raise _ToMoto
    return url.split("/")[-1] if url.startswith(("http://", "https://")) else url


def _validated_attributes(request: dict[str, Any], name: str) -> Any:
    """A request's message (or system) attributes as moto's parser hands them to the
    backend, binary values decoded from base64; moto's check refuses bad ones."""
    from moto.sqs.utils import validate_message_attributes

    given = request.get(name)
    if given is None:
        return None
    if not isinstance(given, dict):
        raise _ToMoto
    attributes = {key: _binary(value, base64.b64decode) for key, value in given.items()}
    _refused(lambda: validate_message_attributes(attributes))
    return attributes


def _binary(value: Any, convert: Callable[[Any], Any]) -> Any:
    """An attribute value with its binary fields converted (to bytes in, base64 out)."""
    if not isinstance(value, dict):
        return value
    out = dict(value)
    if "BinaryValue" in out:
        out["BinaryValue"] = convert(out["BinaryValue"])
    if "BinaryListValues" in out:
        out["BinaryListValues"] = [convert(v) for v in out["BinaryListValues"]]
    return out


def _base64(value: Any) -> str:
    return base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else str(value)


def _sent(message: Any, fifo: bool) -> dict[str, Any]:
    out = {"MessageId": message.id, "MD5OfMessageBody": message.body_md5}
    if message.message_attributes:
        out["MD5OfMessageAttributes"] = message.attribute_md5
    if fifo and message.sequence_number:
        out["SequenceNumber"] = message.sequence_number
    return out


def send_message(backend: Any, request: dict[str, Any]) -> dict[str, Any]:
    name = _queue_name(request)
    attributes = _validated_attributes(request, "MessageAttributes") or {}
    system = _validated_attributes(request, "MessageSystemAttributes")
    queue = _refused(lambda: backend.get_queue(name))
    message = _refused(
        lambda: backend.send_message(
            name,
            request.get("MessageBody"),
            message_attributes=attributes,
            delay_seconds=request.get("DelaySeconds"),
            deduplication_id=request.get("MessageDeduplicationId"),
            group_id=request.get("MessageGroupId"),
            system_attributes=system,
        )
    )
    sent = _sent(message, queue.fifo_queue)
    return {"MD5OfMessageBody": sent.pop("MD5OfMessageBody"), **sent}


def send_message_batch(backend: Any, request: dict[str, Any]) -> dict[str, Any]:
    name = _queue_name(request)
    queue = _refused(lambda: backend.get_queue(name))
    entries = {str(i): dict(entry) for i, entry in enumerate(request.get("Entries") or [])}
    if not entries:
        raise _ToMoto  # EmptyBatchRequest
    for entry in entries.values():
        entry["MessageAttributes"] = _validated_attributes(entry, "MessageAttributes") or {}
        _validated_attributes(entry, "MessageSystemAttributes")
        entry.setdefault("DelaySeconds", None)
    messages, failed = _refused(lambda: backend.send_message_batch(name, entries))
    successful = [{"Id": m.user_id, **_sent(m, queue.fifo_queue)} for m in messages]
    return {"Successful": successful, "Failed": failed}


def receive_message(backend: Any, request: dict[str, Any]) -> dict[str, Any]:
    from moto.sqs.constants import MAXIMUM_VISIBILITY_TIMEOUT

    name = _queue_name(request)
    queue = _refused(lambda: backend.get_queue(name))
    count = request.get("MaxNumberOfMessages", 1)
    wait = request.get("WaitTimeSeconds")
    wait = int(queue.receive_message_wait_time_seconds) if wait is None else int(wait)
    visibility = request.get("VisibilityTimeout")
    visibility = queue.visibility_timeout if visibility is None else int(visibility)
    if not 1 <= count <= 10 or not 0 <= wait <= 20 or visibility > MAXIMUM_VISIBILITY_TIMEOUT:
        raise _ToMoto  # moto's InvalidParameterValue or MaxVisibilityTimeout
    asked = set(request.get("AttributeNames", [])) | set(
        request.get("MessageSystemAttributeNames", [])
    )
    shown = [a for a in _SYSTEM_ATTRIBUTES if "All" in asked or a in asked]
    received = backend.receive_message(
        name, count, wait, visibility, request.get("MessageAttributeNames", [])
    )
    messages = [_received(message, shown) for message in received]
    return {"Messages": messages} if messages else {}


def _received(message: Any, shown: list[str]) -> dict[str, Any]:
    """One message as moto's ReceiveMessage writes it, with the system attributes asked."""
    out: dict[str, Any] = {
        "MessageId": message.id,
        "ReceiptHandle": message.receipt_handle,
        "MD5OfBody": message.body_md5,
        "Body": message.body,
    }
    if message.message_attributes:
        out["MessageAttributes"] = {
            key: _binary(value, _base64) for key, value in message.message_attributes.items()
        }
        out["MD5OfMessageAttributes"] = message.attribute_md5
    trace = (message.system_attributes or {}).get("AWSTraceHeader") or {}
    values = {
        "SenderId": message.sender_id,
        "SentTimestamp": str(message.sent_timestamp),
        "ApproximateReceiveCount": str(message.approximate_receive_count),
        "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
        "MessageDeduplicationId": message.deduplication_id,
        "MessageGroupId": message.group_id,
        "AWSTraceHeader": trace.get("StringValue"),
        "SequenceNumber": message.sequence_number,
    }
    if shown:
        out["Attributes"] = {a: values[a] for a in shown if values[a] is not None}
    return out


def delete_message(backend: Any, request: dict[str, Any]) -> dict[str, Any]:
    name = _queue_name(request)
    handle = request.get("ReceiptHandle")
    _refused(lambda: backend.delete_message(name, handle))
    return {}


def delete_message_batch(backend: Any, request: dict[str, Any]) -> dict[str, Any]:
    name = _queue_name(request)
    entries = request.get("Entries") or []
    handles = [entry.get("ReceiptHandle") for entry in entries]
    if not entries or len(set(handles)) < len(handles):
        raise _ToMoto  # EmptyBatchRequest, BatchEntryIdsNotDistinct
    _refused(lambda: backend.get_queue(name))
    done, failed = backend.delete_message_batch(name, entries)
    return {"Successful": [{"Id": i} for i in done], "Failed": failed}


def change_message_visibility(backend: Any, request: dict[str, Any]) -> dict[str, Any]:
    from moto.sqs.constants import MAXIMUM_VISIBILITY_TIMEOUT

    name = _queue_name(request)
    timeout = request.get("VisibilityTimeout")
    if not isinstance(timeout, int) or timeout > MAXIMUM_VISIBILITY_TIMEOUT:
        raise _ToMoto
    handle = request.get("ReceiptHandle")
    _refused(lambda: backend.change_message_visibility(name, handle, timeout))
    return {}


def change_message_visibility_batch(backend: Any, request: dict[str, Any]) -> dict[str, Any]:
    name = _queue_name(request)
    _refused(lambda: backend.get_queue(name))
    done, failed = backend.change_message_visibility_batch(name, request.get("Entries") or [])
    return {"Successful": [{"Id": i} for i in done], "Failed": failed}


def get_queue_attributes(backend: Any, request: dict[str, Any]) -> dict[str, Any]:
    name = _queue_name(request)
    names = request.get("AttributeNames") or []
    found = _refused(lambda: backend.get_queue_attributes(name, names))
    attributes = {key: str(value) for key, value in found.items() if value is not None}
    return {"Attributes": attributes} if attributes else {}


ACTIONS: dict[str, Handler] = {
    "SendMessage": send_message,
    "SendMessageBatch": send_message_batch,
    "ReceiveMessage": receive_message,
    "DeleteMessage": delete_message,
    "DeleteMessageBatch": delete_message_batch,
    "ChangeMessageVisibility": change_message_visibility,
    "ChangeMessageVisibilityBatch": change_message_visibility_batch,
    "GetQueueAttributes": get_queue_attributes,
}
