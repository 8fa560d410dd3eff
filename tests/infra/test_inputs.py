"""SNS, EventBridge and S3 inputs: each queue policy lets exactly its one source in,
and every invalid call fails at synth with one clear line."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk.assertions import Match, Template

from sqs_blueprint_cdk import InvalidPropsError, QueueWithDlq
from sqs_blueprint_cdk.inputs import BucketInput, RuleInput, TopicInput

NewStack = Callable[[], Stack]


def queue_statements(template: Template, queue: QueueWithDlq, stack: Stack) -> list[Any]:
    """The Allow statements of the source queue's policy."""
    queue_ref = stack.resolve(queue.queue.queue_url)
    policies = template.find_resources("AWS::SQS::QueuePolicy")
    (policy,) = [p for p in policies.values() if p["Properties"]["Queues"] == [queue_ref]]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    return [s for s in statements if s["Effect"] == "Allow"]


def test_topic_subscription_is_raw_filtered_and_redriven(new_stack: NewStack) -> None:
    stack = new_stack()
    pair = QueueWithDlq(stack, "Pair")
    TopicInput(
        stack,
        "Orders",
        queue=pair,
        filter_policy={"kind": ["order"]},
        filter_scope="body",
        known_fields=("kind", "id"),
    )
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {
            "Protocol": "sqs",
            "RawMessageDelivery": True,
            "FilterPolicy": {"kind": ["order"]},
            "FilterPolicyScope": "MessageBody",
            "RedrivePolicy": {
                "deadLetterTargetArn": Match.object_like({"Fn::GetAtt": Match.any_value()})
            },
        },
    )
    (topic_id,) = template.find_resources("AWS::SNS::Topic")
    (allow,) = queue_statements(template, pair, stack)
    assert allow["Principal"] == {"Service": "sns.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": topic_id}}}


def test_topic_dead_letter_queue_takes_only_that_topic_and_alarms(new_stack: NewStack) -> None:
    stack = new_stack()
    pair = QueueWithDlq(stack, "Pair")
    topic_input = TopicInput(stack, "Orders", queue=pair)
    template = Template.from_stack(stack)
    (topic_id,) = template.find_resources("AWS::SNS::Topic")
    dlq_id = stack.get_logical_id(topic_input.dead_letter_queue.node.default_child)  # type: ignore[arg-type]
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [{"Ref": dlq_id}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "sns.amazonaws.com"},
                                "Condition": {"ArnEquals": {"aws:SourceArn": {"Ref": topic_id}}},
                            }
                        )
                    ]
                )
            },
        },
    )
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {"QueueName": Match.string_like_regexp("-dlq$"), "MessageRetentionPeriod": 1_209_600},
    )
    for metric in ("NumberOfNotificationsFailed", "NumberOfNotificationsRedrivenToDlq"):
        template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "Metrics": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "MetricStat": Match.object_like(
                                    {
                                        "Metric": Match.object_like(
                                            {"MetricName": metric, "Namespace": "AWS/SNS"}
                                        )
                                    }
                                )
                            }
                        )
                    ]
                )
            },
        )
    assert sorted(topic_input.alarms) == ["InputDlqDepth", "NotificationsFailed", "RedrivenToDlq"]


def test_topic_message_size_is_set_when_raised(new_stack: NewStack) -> None:
    stack = new_stack()
    TopicInput(stack, "Big", queue=QueueWithDlq(stack, "Pair"), max_message_bytes=1_048_576)
    Template.from_stack(stack).has_resource_properties(
        "AWS::SNS::Topic", {"MaximumMessageSize": 1_048_576, "KmsMasterKeyId": Match.any_value()}
    )


def test_fifo_topic_feeds_a_fifo_queue_with_a_fifo_dlq(new_stack: NewStack) -> None:
    stack = new_stack()
    TopicInput(stack, "Ordered", queue=QueueWithDlq(stack, "Pair", fifo=True), fifo=True)
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::SNS::Topic", {"FifoTopic": True})
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {"QueueName": Match.string_like_regexp(r"-in-[0-9a-f]{8}-dlq\.fifo$"), "FifoQueue": True},
    )


def test_rule_target_has_dlq_retries_and_policy_scoped_to_the_rule(new_stack: NewStack) -> None:
    stack = new_stack()
    pair = QueueWithDlq(stack, "Pair")
    RuleInput(
        stack,
        "Shop",
        queue=pair,
        pattern={"source": ["shop"]},
        message=events.RuleTargetInput.from_event_path("$.detail"),
        retry_attempts=5,
        max_event_age=Duration.hours(2),
    )
    template = Template.from_stack(stack)
    (rule_id,) = template.find_resources("AWS::Events::Rule")
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {"source": ["shop"]},
            "Targets": [
                Match.object_like(
                    {
                        "InputPath": "$.detail",
                        "DeadLetterConfig": {"Arn": Match.any_value()},
                        "RetryPolicy": {
                            "MaximumRetryAttempts": 5,
                            "MaximumEventAgeInSeconds": 7200,
                        },
                    }
                )
            ],
        },
    )
    (allow,) = queue_statements(template, pair, stack)
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}}
    for metric in ("FailedInvocations", "DeadLetterInvocations"):
        template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "Metrics": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "MetricStat": Match.object_like(
                                    {
                                        "Metric": Match.object_like(
                                            {"MetricName": metric, "Namespace": "AWS/Events"}
                                        )
                                    }
                                )
                            }
                        )
                    ]
                )
            },
        )


def test_rule_into_fifo_queue_sets_its_message_group(new_stack: NewStack) -> None:
    stack = new_stack()
    RuleInput(
        stack,
        "Shop",
        queue=QueueWithDlq(stack, "Pair", fifo=True),
        pattern={"source": ["shop"]},
        message_group_id="shop",
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::Events::Rule",
        {"Targets": [Match.object_like({"SqsParameters": {"MessageGroupId": "shop"}})]},
    )


def test_bucket_notifications_reach_the_queue_from_that_bucket_and_account_only(
    new_stack: NewStack,
) -> None:
    stack = new_stack()
    pair = QueueWithDlq(stack, "Pair")
    bucket_input = BucketInput(stack, "Drop", queue=pair, prefix="in/")
    template = Template.from_stack(stack)
    bucket_name = stack.resolve(bucket_input.bucket_name)
    queue_arn = stack.resolve(pair.queue.queue_arn)
    template.has_resource(
        "AWS::S3::Bucket",
        {
            "Properties": Match.object_like(
                {
                    "BucketName": bucket_name,
                    "NotificationConfiguration": {
                        "QueueConfigurations": [
                            {
                                "Event": "s3:ObjectCreated:*",
                                "Queue": queue_arn,
                                "Filter": {
                                    "S3Key": {"Rules": [{"Name": "prefix", "Value": "in/"}]}
                                },
                            }
                        ]
                    },
                }
            ),
            "DependsOn": Match.array_with([Match.string_like_regexp("^PairQueuePolicy")]),
        },
    )
    (allow,) = queue_statements(template, pair, stack)
    assert allow["Principal"] == {"Service": "s3.amazonaws.com"}
    source_arn = allow["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert source_arn["Fn::Join"][1][-1] == bucket_name  # arn:<partition>:s3:::<that bucket>
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda s: TopicInput(s, "In", queue=QueueWithDlq(s, "Pair"), fifo=True),
            "fifo=True: a FIFO topic cannot deliver to a standard queue. Fix: subscribe FIFO "
            "queues to FIFO topics and standard queues to standard topics.",
        ),
        (
            lambda s: TopicInput(s, "In", queue=QueueWithDlq(s, "Pair", fifo=True)),
            "fifo=False: a standard topic cannot deliver to a FIFO queue.",
        ),
        (
            lambda s: TopicInput(
                s, "In", queue=QueueWithDlq(s, "Pair"), max_message_bytes=2_000_000
            ),
            "max_message_bytes=2000000: an SNS topic's MaximumMessageSize is "
            "1,024..1,048,576 bytes",
        ),
        (
            lambda s: TopicInput(
                s,
                "In",
                queue=QueueWithDlq(s, "Pair", max_message_bytes=262_144),
                max_message_bytes=524_288,
            ),
            "max_message_bytes=524288: above the queue's MaximumMessageSize (262,144), so SNS "
            "would accept messages the queue refuses. Fix: lower it to 262,144",
        ),
        (
            lambda s: TopicInput(
                s,
                "In",
                queue=QueueWithDlq(s, "Pair"),
                filter_policy={"colour": ["red"]},
                filter_scope="body",
                known_fields=("account", "version"),
            ),
            "filter_policy.colour='colour': the pipeline's records are only known to carry "
            "['account', 'version']",
        ),
        (
            lambda s: TopicInput(s, "In", queue=QueueWithDlq(s, "Pair"), filter_policy={}),
            "filter_policy={}: a filter policy is a non-empty JSON object",
        ),
        (
            lambda s: TopicInput(
                s,
                "In",
                queue=QueueWithDlq(s, "Pair"),
                filter_scope="headers",  # type: ignore[arg-type]
            ),
            "filter_scope='headers': a filter applies to the message 'attributes' or",
        ),
        (
            lambda s: RuleInput(
                s, "In", queue=QueueWithDlq(s, "Pair", fifo=True), pattern={"source": ["a"]}
            ),
            "message_group_id=None: a FIFO queue target needs a message group",
        ),
        (
            lambda s: RuleInput(
                s,
                "In",
                queue=QueueWithDlq(s, "Pair"),
                pattern={"source": ["a"]},
                message_group_id="g",
            ),
            "message_group_id='g': a FIFO queue target needs a message group and a standard "
            "queue takes none",
        ),
        (
            lambda s: RuleInput(s, "In", queue=QueueWithDlq(s, "Pair"), pattern={}),
            "pattern={}: an event pattern is a non-empty JSON object",
        ),
        (
            lambda s: RuleInput(s, "In", queue=QueueWithDlq(s, "Pair"), pattern={"kind": ["a"]}),
            "pattern=['kind']: an event pattern matches the event's top-level fields",
        ),
        (
            lambda s: RuleInput(
                s,
                "In",
                queue=QueueWithDlq(s, "Pair"),
                pattern={"source": ["a"]},
                retry_attempts=186,
            ),
            "retry_attempts=186: EventBridge retries 0..185 times",
        ),
        (
            lambda s: RuleInput(
                s,
                "In",
                queue=QueueWithDlq(s, "Pair"),
                pattern={"source": ["a"]},
                max_event_age=Duration.days(2),
            ),
            "max_event_age='172800s': EventBridge keeps retrying an event 60..86400 s",
        ),
        (
            lambda s: BucketInput(s, "In", queue=QueueWithDlq(s, "Pair", fifo=True)),
            "queue='Test/Pair': S3 event notifications go to standard queues only",
        ),
        (
            lambda s: BucketInput(s, "In", queue=QueueWithDlq(s, "Pair"), prefix=""),
            "prefix='': an object key filter is 1..1,024 characters",
        ),
    ],
)
def test_invalid_inputs_fail_with_one_clear_line(
    new_stack: NewStack, build: Callable[[Stack], Any], message: str
) -> None:
    with pytest.raises(InvalidPropsError) as error:
        build(new_stack())
    text = str(error.value)
    assert "1 invalid setting:" in text
    assert message in text


def test_a_queue_key_lets_s3_encrypt_for_that_bucket_only(new_stack: NewStack) -> None:
    stack = new_stack()
    pair = QueueWithDlq(stack, "Pair", customer_managed_key=True)
    bucket_input = BucketInput(stack, "Drop", queue=pair)
    template = Template.from_stack(stack)
    (key,) = template.find_resources("AWS::KMS::Key").values()
    (s3_statement,) = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s["Principal"] == {"Service": "s3.amazonaws.com"}
    ]
    source_arn = s3_statement["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert source_arn["Fn::Join"][1][-1] == stack.resolve(bucket_input.bucket_name)
    assert "kms:GenerateDataKey*" in s3_statement["Action"]
