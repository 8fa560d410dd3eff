"""Request/response over a request queue and per-client response queues.

- :mod:`~sqs_blueprint.rpc.protocol`: the wire format (message attributes,
  statuses) and the errors;
- :mod:`~sqs_blueprint.rpc.client`: :class:`RpcClient`, the caller's side;
- :mod:`~sqs_blueprint.rpc.policy`: the queue policy of a client's response queue;
- :mod:`~sqs_blueprint.rpc.responder`: :class:`Responder`, which dispatches a
  :class:`~sqs_blueprint.records.Record` to the function registered for its
  type, and :class:`ResponderSettings`, its configuration from the environment;
- :mod:`~sqs_blueprint.rpc.reference`: the reference service (``checksum``, ``quote``).
"""

from sqs_blueprint.rpc.client import RpcClient
from sqs_blueprint.rpc.policy import PRIVATE_ACTIONS, principal_arns, response_queue_policy
from sqs_blueprint.rpc.protocol import (
    CLIENT_ID_LENGTH,
    CORRELATION_ID,
    DEADLINE,
    MAX_PREFIX_LENGTH,
    MAX_QUEUE_NAME,
    REPLY_TO,
    STATUS,
    STATUS_ERROR,
    STATUS_EXPIRED,
    STATUS_OK,
    HandlerFn,
    Payload,
    ReplyToRefused,
    RequestError,
    RpcError,
    RpcTimeout,
)
from sqs_blueprint.rpc.reference import REFERENCE_HANDLERS, checksum, quote, reference_responder
from sqs_blueprint.rpc.responder import RESPONSE_QUEUE_PREFIX, Responder, ResponderSettings

__all__ = [
    "CLIENT_ID_LENGTH",
    "CORRELATION_ID",
    "DEADLINE",
    "MAX_PREFIX_LENGTH",
    "MAX_QUEUE_NAME",
    "PRIVATE_ACTIONS",
    "REFERENCE_HANDLERS",
    "REPLY_TO",
    "RESPONSE_QUEUE_PREFIX",
    "STATUS",
    "STATUS_ERROR",
    "STATUS_EXPIRED",
    "STATUS_OK",
    "HandlerFn",
    "Payload",
    "ReplyToRefused",
    "RequestError",
    "Responder",
    "ResponderSettings",
    "RpcClient",
    "RpcError",
    "RpcTimeout",
    "checksum",
    "principal_arns",
    "quote",
    "reference_responder",
    "response_queue_policy",
]
