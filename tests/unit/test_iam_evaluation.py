"""The local cloud's IAM evaluator against documented IAM evaluation cases.

Each row is a case the AWS documentation states, with its link; the expected
decision is the documentation's, written here as a literal.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sqs_blueprint.local.access.evaluator import Evaluator, Request

ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/consumer"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/consumer/local"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:work"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TLS = (("aws:SecureTransport", "true"),)
PLAIN = (("aws:SecureTransport", "false"),)

EVALUATION = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html"
SAME_ACCOUNT = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html"
KEY_POLICIES = "https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html"
DEFAULT_KEY_POLICY = "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html"
CONDITIONS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-securetransport"


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(action: str, resource: str, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def _deny(action: str, resource: str, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


ANYONE = {"Principal": {"AWS": "*"}}
ACCOUNT_ROOT = {"Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}
ROOT_KEY_POLICY = _doc(_allow("kms:*", "*", **ACCOUNT_ROOT))

# (what the documentation says, its link, action, resource, context, identity, resource
# policy, the documented decision)
CASES = [
    (
        "no policy allows: implicit deny",
        EVALUATION,
        "sqs:SendMessage",
        QUEUE,
        TLS,
        {},
        None,
        "ImplicitlyDenied",
    ),
    (
        "an identity policy alone allows within the account",
        SAME_ACCOUNT,
        "sqs:SendMessage",
        QUEUE,
        TLS,
        {"p": _doc(_allow("sqs:SendMessage", QUEUE))},
        None,
        "Allowed",
    ),
    (
        "a resource policy alone allows within the account",
        SAME_ACCOUNT,
        "sqs:SendMessage",
        QUEUE,
        TLS,
        {},
        _doc(_allow("sqs:SendMessage", QUEUE, Principal={"AWS": SESSION})),
        "Allowed",
    ),
    (
        "an explicit deny in the resource policy wins over the identity policy's allow",
        EVALUATION,
        "sqs:SendMessage",
        QUEUE,
        TLS,
        {"p": _doc(_allow("sqs:*", "*"))},
        _doc(_deny("sqs:SendMessage", QUEUE, **ANYONE)),
        "ExplicitlyDenied",
    ),
    (
        "an explicit deny in the identity policy wins over the resource policy's allow",
        EVALUATION,
        "sqs:SendMessage",
        QUEUE,
        TLS,
        {"p": _doc(_deny("sqs:SendMessage", "*"))},
        _doc(_allow("sqs:SendMessage", QUEUE, Principal={"AWS": SESSION})),
        "ExplicitlyDenied",
    ),
    (
        "a deny conditioned on aws:SecureTransport false refuses a plain HTTP request",
        CONDITIONS,
        "sqs:SendMessage",
        QUEUE,
        PLAIN,
        {"p": _doc(_allow("sqs:*", "*"))},
        _doc(_deny("sqs:*", QUEUE, Condition={"Bool": {"aws:SecureTransport": "false"}}, **ANYONE)),
        "ExplicitlyDenied",
    ),
    (
        "... and lets a TLS request through",
        CONDITIONS,
        "sqs:SendMessage",
        QUEUE,
        TLS,
        {"p": _doc(_allow("sqs:*", "*"))},
        _doc(_deny("sqs:*", QUEUE, Condition={"Bool": {"aws:SecureTransport": "false"}}, **ANYONE)),
        "Allowed",
    ),
    (
        "KMS: an identity policy grants nothing unless the key policy lets IAM policies grant",
        KEY_POLICIES,
        "kms:Decrypt",
        KEY,
        TLS,
        {"p": _doc(_allow("kms:Decrypt", KEY))},
        _doc(_allow("kms:*", "*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:role/admin"})),
        "ImplicitlyDenied",
    ),
    (
        "KMS: the default key policy (the account root) lets the identity policy grant",
        DEFAULT_KEY_POLICY,
        "kms:Decrypt",
        KEY,
        TLS,
        {"p": _doc(_allow("kms:Decrypt", KEY))},
        ROOT_KEY_POLICY,
        "Allowed",
    ),
    (
        "KMS: the default key policy alone grants nothing to a role without an identity grant",
        DEFAULT_KEY_POLICY,
        "kms:Decrypt",
        KEY,
        TLS,
        {},
        ROOT_KEY_POLICY,
        "ImplicitlyDenied",
    ),
    (
        "KMS: a key policy naming the role grants without an identity policy",
        KEY_POLICIES,
        "kms:Decrypt",
        KEY,
        TLS,
        {},
        _doc(_allow("kms:Decrypt", "*", Principal={"AWS": ROLE_ARN})),
        "Allowed",
    ),
]


@pytest.fixture(scope="module")
def evaluator() -> Iterator[Evaluator]:
    started = Evaluator()
    yield started
    started.close()


@pytest.mark.parametrize(
    ("case", "source", "action", "resource", "context", "identity", "policy", "expected"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_the_evaluator_decides_as_the_documentation_says(
    evaluator: Evaluator,
    case: str,
    source: str,
    action: str,
    resource: str,
    context: tuple[tuple[str, str], ...],
    identity: dict[str, Any],
    policy: dict[str, Any] | None,
    expected: str,
) -> None:
    evaluator.clear()
    decision = evaluator.decide(
        Request(SESSION, action, resource, context), ACCOUNT, identity, policy
    )
    assert decision.result == expected, f"{case} ({source}): {decision}"


def test_a_cached_decision_is_reused_until_the_policies_change(evaluator: Evaluator) -> None:
    request = Request(SESSION, "sqs:SendMessage", QUEUE, TLS)
    allow = {"p": _doc(_allow("sqs:SendMessage", QUEUE))}
    evaluator.clear()
    asked = evaluator.asked
    assert evaluator.decide(request, ACCOUNT, allow, None).allowed
    assert evaluator.decide(request, ACCOUNT, {}, None).allowed  # cached: not asked again
    assert evaluator.asked == asked + 1
    evaluator.clear()  # the policies changed
    assert not evaluator.decide(request, ACCOUNT, {}, None).allowed
