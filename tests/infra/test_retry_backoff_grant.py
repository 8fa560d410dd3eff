"""The retry backoff sets a failed record's visibility: every consumer may change the
visibility of its own queue's messages, and no wider SQS right comes with it."""

from __future__ import annotations

from typing import Any


def sqs_statements(synthesized: Any) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for stack, template in synthesized.templates.items():
        for policy in template.find_resources("AWS::IAM::Policy").values():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions = statement["Action"]
                actions = actions if isinstance(actions, list) else [actions]
                if any(a.startswith("sqs:") for a in actions):
                    found.append((stack, {**statement, "Action": actions}))
    return found


def test_every_consumer_may_change_its_own_messages_visibility(synthesized: Any) -> None:
    consumers = [
        (stack, s)
        for stack, s in sqs_statements(synthesized)
        if "sqs:ReceiveMessage" in s["Action"]
    ]
    assert {stack for stack, _ in consumers} >= {"WriteBuffer", "Ordered", "Workers"}
    for stack, statement in consumers:
        assert "sqs:ChangeMessageVisibility" in statement["Action"], stack
        assert isinstance(statement["Resource"], dict), (stack, statement["Resource"])  # one queue
        assert statement["Resource"]["Fn::GetAtt"][1] == "Arn"


def test_no_sqs_wildcard_is_granted(synthesized: Any) -> None:
    for stack, statement in sqs_statements(synthesized):
        assert not [a for a in statement["Action"] if "*" in a], (stack, statement["Action"])
        assert statement.get("Resource") != "*", stack
