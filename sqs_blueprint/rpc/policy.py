"""Who may read a client's response queue: its creator only, over TLS."""

from __future__ import annotations

from typing import Any

# What only a response queue's creator may do to it; SendMessage stays the responder's.
PRIVATE_ACTIONS = (
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:PurgeQueue",
    "sqs:ReceiveMessage",
)


def principal_arns(caller_arn: str) -> list[str]:
    """The ``aws:PrincipalArn`` values that name the caller of ``sts:GetCallerIdentity``.

    For a role session, GetCallerIdentity says
    ``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`` while ``aws:PrincipalArn``
    is the role's ARN, ``arn:aws:iam::ACCOUNT:role/PATH/ROLE``
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn).
    The path is not in the session ARN; role names are unique in an account
    whatever their path, so ``role/ROLE`` and ``role/*/ROLE`` name that role only.
    Any other caller (an IAM user, the root user) is its own ARN.
    """
    parts = caller_arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        role = parts[5].split("/")[1]
        base = f"arn:{parts[1]}:iam::{parts[4]}:role/"
        return [f"{base}{role}", f"{base}*/{role}"]
    return [caller_arn]


def response_queue_policy(queue_arn: str, caller_arn: str) -> dict[str, Any]:
    """The queue policy of a client's response queue: only its creator reads it, over TLS.

    Deny statements, so no identity policy elsewhere in the account can widen them
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyItsCreatorReads",
                "Effect": "Deny",
                "Principal": "*",
                "Action": list(PRIVATE_ACTIONS),
                "Resource": queue_arn,
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": principal_arns(caller_arn)}},
            },
            {
                "Sid": "TlsOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sqs:*",
                "Resource": queue_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }
