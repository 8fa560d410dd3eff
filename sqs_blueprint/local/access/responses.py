"""The AccessDenied answer each service's SDK expects, by protocol.

- SQS, JSON protocol: HTTP 403, ``x-amzn-query-error: AccessDenied;Sender`` (the
  SDKs read the query-compatible code from it) and a JSON ``__type``; query
  protocol: HTTP 403 and an XML ``ErrorResponse`` with ``Code`` AccessDenied;
- DynamoDB and KMS (JSON 1.0/1.1): HTTP 400, ``__type`` AccessDeniedException;
- SNS (query): HTTP 403, ``Code`` AuthorizationError, SNS's name for it;
- S3 (REST-XML): HTTP 403, ``Error`` with ``Code`` AccessDenied (no body for a HEAD).

See docs/aws-facts.md#iam-evaluation for the sources.
"""

from __future__ import annotations

import json
import uuid
from xml.sax.saxutils import escape

Response = tuple[str, list[tuple[str, str]], bytes]


def denied_message(principal: str, action: str, resource: str, result: str) -> str:
    why = (
        "with an explicit deny"
        if result == "ExplicitlyDenied"
        else f"because no policy allows the {action} action"
    )
    return f"User: {principal} is not authorized to perform: {action} on resource: {resource} {why}"


def access_denied(service: str, protocol_json: bool, method: str, message: str) -> Response:
    """(status, headers, body) of an AccessDenied for a request to ``service``."""
    request_id = str(uuid.uuid4())
    if service in ("dynamodb", "kms"):
        body = {"__type": "com.amazon.coral.service#AccessDeniedException", "message": message}
        if service == "kms":
            body["__type"] = "AccessDeniedException"
        return _json("400 Bad Request", body, request_id, "application/x-amz-json-1.1")
    if service == "sqs" and protocol_json:
        body = {"__type": "com.amazon.coral.service#AccessDeniedException", "message": message}
        response = _json("403 Forbidden", body, request_id, "application/x-amz-json-1.0")
        response[1].append(("x-amzn-query-error", "AccessDenied;Sender"))
        return response
    if service == "s3":
        headers = [("x-amz-request-id", request_id), ("Content-Type", "application/xml")]
        if method == "HEAD":
            return "403 Forbidden", headers, b""
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
            f"<Message>{escape(message)}</Message><RequestId>{request_id}</RequestId></Error>"
        )
        return "403 Forbidden", headers, xml.encode()
    code = "AuthorizationError" if service == "sns" else "AccessDenied"
    xml = (
        "<ErrorResponse><Error><Type>Sender</Type>"
        f"<Code>{code}</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    headers = [("x-amzn-RequestId", request_id), ("Content-Type", "text/xml")]
    return "403 Forbidden", headers, xml.encode()


def _json(status: str, body: dict[str, str], request_id: str, content_type: str) -> Response:
    headers = [("x-amzn-RequestId", request_id), ("Content-Type", content_type)]
    return status, headers, json.dumps(body).encode()
