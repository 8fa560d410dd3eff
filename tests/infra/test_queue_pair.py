"""Template assertions for QueueWithDlq, on the real app and on small stacks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Capture, Match, Template

from sqs_blueprint_cdk import QueueWithDlq

SECURE_TRANSPORT_DENY = Match.object_like(
    {
        "PolicyDocument": {
            "Statement": Match.array_with(
                [
                    Match.object_like(
                        {
                            "Effect": "Deny",
                            "Action": "sqs:*",
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    )
                ]
            ),
            "Version": "2012-10-17",
        }
    }
)


def queues(template: Template) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = template.find_resources("AWS::SQS::Queue")
    return {k: v["Properties"] for k, v in found.items()}


def source_and_dlq(template: Template) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The source queue's and the DLQ's properties, and the DLQ's logical id."""
    props = queues(template)
    source_id = next(k for k, p in props.items() if "RedrivePolicy" in p)
    dlq_id = props[source_id]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    return props[source_id], props[dlq_id], dlq_id


def test_write_buffer_pair_is_standard_with_longer_dlq_retention(synthesized: Any) -> None:
    source, dlq, _ = source_and_dlq(synthesized.templates["WriteBuffer"])
    assert "FifoQueue" not in source and "FifoQueue" not in dlq
    assert source["MessageRetentionPeriod"] == 4 * 86_400
    assert dlq["MessageRetentionPeriod"] == 14 * 86_400
    assert source["RedrivePolicy"]["maxReceiveCount"] == 5
    assert dlq["QueueName"] == source["QueueName"] + "-dlq"


def test_ordered_pair_is_fifo_with_fifo_dlq(synthesized: Any) -> None:
    source, dlq, _ = source_and_dlq(synthesized.templates["Ordered"])
    assert source["FifoQueue"] is True and dlq["FifoQueue"] is True
    assert source["QueueName"].endswith(".fifo")
    assert dlq["QueueName"] == source["QueueName"].removesuffix(".fifo") + "-dlq.fifo"


def test_dlq_allows_redrive_only_from_its_source(synthesized: Any) -> None:
    for template in synthesized.templates.values():
        source, dlq, _ = source_and_dlq(template)
        policy = dlq["RedriveAllowPolicy"]
        assert policy["redrivePermission"] == "byQueue"
        (arn,) = policy["sourceQueueArns"]
        parts = arn["Fn::Join"][1]
        assert parts[-1] == f":{source['QueueName']}"
        assert ":sqs:" in parts


def test_every_queue_is_encrypted_and_tls_only(synthesized: Any) -> None:
    for template in synthesized.templates.values():
        for props in queues(template).values():
            assert props.get("SqsManagedSseEnabled") is True
        template.resource_count_is("AWS::SQS::QueuePolicy", len(queues(template)))
        template.all_resources_properties("AWS::SQS::QueuePolicy", SECURE_TRANSPORT_DENY)


def test_prod_uses_a_rotating_customer_key_and_high_throughput(synthesized_prod: Any) -> None:
    template = synthesized_prod.templates["Ordered"]
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    key = Capture()
    template.all_resources_properties(
        "AWS::SQS::Queue",
        {
            "KmsMasterKeyId": {"Fn::GetAtt": [key, "Arn"]},
            "DeduplicationScope": "messageGroup",
            "FifoThroughputLimit": "perMessageGroupId",
            "FifoQueue": True,
        },
    )


def test_stacks_export_queue_urls_and_arns(synthesized: Any) -> None:
    for name, prefix in (("WriteBuffer", "Ingest"), ("Ordered", "Events")):
        outputs = synthesized.templates[name].find_outputs("*")
        for suffix in ("QueueUrl", "QueueArn", "DeadLetterQueueUrl", "DeadLetterQueueArn"):
            assert f"{prefix}{suffix}" in outputs


def test_given_key_encrypts_both_queues(new_stack: Callable[[], Stack]) -> None:
    from aws_cdk import aws_kms as kms

    stack = new_stack()
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    QueueWithDlq(stack, "Pair", encryption_key=key)
    template = Template.from_stack(stack)
    template.all_resources_properties(
        "AWS::SQS::Queue",
        {"KmsMasterKeyId": {"Fn::GetAtt": [Match.string_like_regexp("^Key"), "Arn"]}},
    )


def test_fifo_content_based_dedup_and_explicit_settings(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    pair = QueueWithDlq(
        stack,
        "Pair",
        fifo=True,
        content_based_deduplication=True,
        max_receive_count=3,
        visibility_timeout=Duration.minutes(5),
        queue_name="orders.fifo",
    )
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "QueueName": "orders.fifo",
            "ContentBasedDeduplication": True,
            "VisibilityTimeout": 300,
            "RedrivePolicy": {"maxReceiveCount": 3, "deadLetterTargetArn": Match.any_value()},
        },
    )
    template.has_resource_properties("AWS::SQS::Queue", {"QueueName": "orders-dlq.fifo"})
    assert pair.fifo and pair.visibility_given


def test_imported_dlq_of_matching_type_is_used(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    existing = sqs.Queue.from_queue_arn(
        stack, "Existing", "arn:aws:sqs:us-east-1:111111111111:shared-dlq"
    )
    pair = QueueWithDlq(stack, "Pair", dead_letter_queue=existing)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SQS::Queue", 1)
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {"RedrivePolicy": {"deadLetterTargetArn": "arn:aws:sqs:us-east-1:111111111111:shared-dlq"}},
    )
    assert pair.dead_letter_queue is existing


def test_derived_visibility_is_raised_and_given_one_is_kept(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    derived = QueueWithDlq(stack, "Derived")
    derived.ensure_visibility_at_least(Duration.seconds(190), reason="6 x 30 s + 10 s")
    given = QueueWithDlq(stack, "Given", visibility_timeout=Duration.seconds(600))
    given.ensure_visibility_at_least(Duration.seconds(190), reason="6 x 30 s + 10 s")
    template = Template.from_stack(stack)
    names = {p["QueueName"]: p.get("VisibilityTimeout") for p in queues(template).values()}
    visibilities = sorted(v for v in names.values() if v is not None)
    assert visibilities == [190, 600]
    assert derived.visibility_timeout.to_seconds() == 190


def test_grant_redrive_gives_exactly_the_move_task_actions(new_stack: Callable[[], Stack]) -> None:
    from aws_cdk import aws_iam as iam

    stack = new_stack()
    pair = QueueWithDlq(stack, "Pair")
    role = iam.Role(stack, "Operator", assumed_by=iam.AccountRootPrincipal())
    pair.grant_redrive(role)
    template = Template.from_stack(stack)
    statements = Capture()
    template.has_resource_properties(
        "AWS::IAM::Policy", {"PolicyDocument": {"Statement": statements}}
    )
    by_resource = {
        s["Resource"]["Fn::GetAtt"][0]: sorted(s["Action"]) for s in statements.as_array()
    }
    dlq_id = next(k for k in by_resource if k.startswith("PairDeadLetterQueue"))
    source_id = next(k for k in by_resource if k.startswith("PairQueue"))
    assert by_resource[dlq_id] == sorted(
        [
            "sqs:CancelMessageMoveTask",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ListDeadLetterSourceQueues",
            "sqs:ListMessageMoveTasks",
            "sqs:ReceiveMessage",
            "sqs:StartMessageMoveTask",
        ]
    )
    assert by_resource[source_id] == sorted(
        ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"]
    )
