"""A queue policy that lets a function's role consume a queue a test makes itself.

The local cloud enforces IAM (sqs_blueprint.local.access): a queue made by a test is
in no role's policy, so, as in AWS, a function mapped to it needs a grant to poll it.
"""

from __future__ import annotations

import json
from typing import Any

CONSUME = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
]


def let_consume(sqs: Any, url: str, role_arn: str) -> str:
    """Give ``role_arn`` the consumer's actions on the queue at ``url``; its ARN."""
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    statement = {"Effect": "Allow", "Principal": {"AWS": role_arn}, "Action": CONSUME}
    policy = {"Version": "2012-10-17", "Statement": [statement | {"Resource": arn}]}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    return arn
