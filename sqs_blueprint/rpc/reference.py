"""The reference service: two small request types, ``checksum`` and ``quote``."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from decimal import Decimal, DecimalException, InvalidOperation, getcontext
from typing import Any

from sqs_blueprint.rpc.protocol import HandlerFn, Payload, RequestError
from sqs_blueprint.rpc.responder import Responder


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
