"""What every capacity plan shares: month lengths, sizes, input checks, a rounded-down share.

Standard library only (CDK patterns call the plans at synth time).
"""

from __future__ import annotations

import math

from sqs_blueprint import limits
from sqs_blueprint.errors import UsageError

# Share of the function timeout a batch may spend writing; the rest is left for
# start-up, payload fetches and retries of unprocessed items.
TIMEOUT_HEADROOM = 0.8
DEFAULT_RECORD_MS = 10.0  # unpaced time one record takes (parse + its share of a batch write)
HOURS_PER_MONTH = 730
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
KIB = 1024
BILLING_CHUNK_KB = limits.SQS_BILLING_CHUNK_BYTES / KIB
MAX_MESSAGE_KB = limits.SQS_MAX_MESSAGE_BYTES / KIB


def check_number(name: str, value: float, *, minimum: float = 0.0, inclusive: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UsageError(f"{name} must be a finite number, got {value!r}")
    if value < minimum or (value == minimum and not inclusive):
        rule = "at least" if inclusive else "greater than"
        raise UsageError(f"{name} must be {rule} {minimum:g}, got {value!r}")


def check_at_most(name: str, value: float, maximum: float, source: str) -> None:
    if value > maximum:
        raise UsageError(f"{name} must be at most {maximum:g} ({source}), got {value!r}")


def visibility_timeout(function_timeout_s: float, batching_window_s: float = 0) -> int:
    """Visibility timeout for a queue consumed by a Lambda function.

    ``6 x function timeout + batching window``, rounded up to whole seconds
    (``limits.LAMBDA_SQS_CONFIGURE_URL``).
    """
    check_number("function_timeout_s", function_timeout_s)
    check_at_most("function_timeout_s", function_timeout_s, limits.LAMBDA_MAX_TIMEOUT_S, "Lambda")
    check_number("batching_window_s", batching_window_s, inclusive=True)
    check_at_most(
        "batching_window_s", batching_window_s, limits.LAMBDA_MAX_BATCHING_WINDOW_S, "Lambda"
    )
    return math.ceil(limits.LAMBDA_VISIBILITY_FACTOR * function_timeout_s + batching_window_s)


def wcu_per_item(item_kb: float) -> int:
    """Write capacity units one write of an item costs: 1 per KB, rounded up (DynamoDB)."""
    check_number("item_kb", item_kb)
    check_at_most("item_kb", item_kb, limits.DYNAMODB_MAX_ITEM_KB, "DynamoDB item limit")
    return math.ceil(item_kb)


def share(total: float, parts: int) -> float:
    """``total / parts`` rounded down to 3 decimals, so ``parts * share <= total``.

    The one rounding of a budget split between consumers (WCU per invocation or per
    instance): three decimals print exactly as given, so the invariant holds for the
    value written into a function's or an instance's environment too.
    """
    value = math.floor(total / parts * 1000) / 1000
    while parts * value > total:
        value = math.nextafter(value, 0.0)
    return value


def chunks_per_message(body_kb: float, per_call: int) -> float:
    """Billed requests per message when ``per_call`` such messages share one call.

    Every 64 KiB chunk of a call's payload is billed as one request
    (``limits.SQS_PRICING_URL``).
    """
    return math.ceil(per_call * body_kb / BILLING_CHUNK_KB) / per_call


def check_whole(name: str, value: int, minimum: int, maximum: float, rule: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UsageError(f"{name} must be a whole number of at least {minimum}, got {value!r}")
    check_at_most(name, value, maximum, rule)
