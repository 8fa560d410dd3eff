"""How the local event-source mapping reads a function's partial-batch response.

Lambda's documented rules (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html):
an empty or null ``batchItemFailures`` list, or an empty or null response, is a
complete success; an invalid response, an empty or null ``itemIdentifier``, a bad
key name, or an id that is not in the batch is a complete failure.
"""

from __future__ import annotations

from typing import Any

import pytest

from sqs_blueprint.local.runner import InvalidResponse, failed_ids

BATCH = ["m-1", "m-2", "m-3"]


@pytest.mark.parametrize(
    "response",
    [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}, {"statusCode": 200}],
)
def test_an_empty_or_null_report_is_a_complete_success(response: Any) -> None:
    assert failed_ids(response, BATCH, report_failures=True) == set()


def test_reported_ids_are_the_ones_left_in_the_queue() -> None:
    response = {"batchItemFailures": [{"itemIdentifier": "m-3"}, {"itemIdentifier": "m-1"}]}
    assert failed_ids(response, BATCH, report_failures=True) == {"m-1", "m-3"}


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (
            {"batchItemFailures": [{"itemIdentifier": "m-9"}]},
            "invalid batch item failure: {'itemIdentifier': 'm-9'}",
        ),
        (
            {"batchItemFailures": [{"itemIdentifier": "m-1"}, {"itemIdentifier": ""}]},
            "invalid batch item failure: {'itemIdentifier': ''}",
        ),
        (
            {"batchItemFailures": [{"itemIdentifier": None}]},
            "invalid batch item failure: {'itemIdentifier': None}",
        ),
        (
            {"batchItemFailures": [{"messageId": "m-1"}]},
            "invalid batch item failure: {'messageId': 'm-1'}",
        ),
        (
            {"batchItemFailures": [{"itemIdentifier": 2}]},
            "invalid batch item failure: {'itemIdentifier': 2}",
        ),
        ({"batchItemFailures": ["m-1"]}, "invalid batch item failure: 'm-1'"),
        ({"batchItemFailures": "m-1"}, "batchItemFailures is not a list: 'm-1'"),
        ("m-1", "response is not an object: 'm-1'"),
        (["m-1"], "response is not an object: ['m-1']"),
    ],
    ids=[
        "unknown-id",
        "empty-id",
        "null-id",
        "bad-key-name",
        "wrong-type",
        "bare-id",
        "not-a-list",
        "string",
        "list",
    ],
)
def test_a_malformed_report_fails_the_whole_batch(response: Any, message: str) -> None:
    with pytest.raises(InvalidResponse) as error:
        failed_ids(response, BATCH, report_failures=True)
    assert str(error.value) == message


def test_without_report_batch_item_failures_any_return_is_a_success() -> None:
    response = {"batchItemFailures": [{"itemIdentifier": "m-9"}]}
    assert failed_ids(response, BATCH, report_failures=False) == set()
