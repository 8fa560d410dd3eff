"""Grants never used: a grant is an action pattern on a resource pattern of an Allow
statement; a call uses the grants the simulator names as having allowed it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sqs_blueprint.local.access.evaluator import Evaluator, Request
from sqs_blueprint.local.access.usage import grants, unused_grants

ACCOUNT = "123456789012"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/consumer/local"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:work"
TABLE = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/items"
POLICIES: dict[str, Any] = {
    "Default": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueUrl"],
                "Effect": "Allow",
                "Resource": QUEUE,
            },
            {
                "Sid": "Write",
                "Action": "dynamodb:BatchWriteItem",
                "Effect": "Allow",
                "Resource": TABLE,
            },
            {"Action": ["logs:PutLogEvents"], "Effect": "Allow", "Resource": "*"},
            {"Action": "sqs:SendMessage", "Effect": "Deny", "Resource": "*"},
        ],
    }
}


@pytest.fixture(scope="module")
def evaluator() -> Iterator[Evaluator]:
    started = Evaluator()
    yield started
    started.close()


def test_grants_are_the_allowed_actions_on_resources_the_local_cloud_observes() -> None:
    assert grants(POLICIES) == [
        ("Default", "1", "sqs:ReceiveMessage", QUEUE),
        ("Default", "1", "sqs:DeleteMessage", QUEUE),
        ("Default", "1", "sqs:GetQueueUrl", QUEUE),
        ("Default", "Write", "dynamodb:BatchWriteItem", TABLE),
    ]  # logs: not observable locally; a Deny grants nothing


def test_the_grants_the_calls_used_are_not_listed(evaluator: Evaluator) -> None:
    used = set()
    for action, resource in (("sqs:ReceiveMessage", QUEUE), ("dynamodb:BatchWriteItem", TABLE)):
        decision = evaluator.decide(Request(SESSION, action, resource), ACCOUNT, POLICIES, None)
        assert decision.allowed
        used |= {
            ("consumer", (p, s, a, r))
            for p, s, actions, rs in decision.grants
            for a in actions
            for r in rs
        }
    assert unused_grants({"consumer": POLICIES, "idle": {}}, used) == {
        "consumer": (
            ("Default", "1", "sqs:DeleteMessage", QUEUE),
            ("Default", "1", "sqs:GetQueueUrl", QUEUE),
        )
    }
