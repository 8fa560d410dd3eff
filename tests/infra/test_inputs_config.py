"""A pipeline's ``inputs`` in cdk.json: read into specs, refused with one line per
problem, and built into the shipped stage that lists them."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from app import build_app
from sqs_blueprint_cdk import InvalidPropsError
from sqs_blueprint_cdk.inputs import TopicInput
from stacks.config import ConfigError, load_stage
from stacks.config.inputs import BucketSpec, RuleSpec, TopicSpec, parse_inputs
from stacks.write_buffer_stack import WriteBufferStack
from tests.infra.conftest import cdk_context

WHERE = "sqs-blueprint.stages.dev.write_buffer.inputs"


def refusal(inputs: Any, block: str = "write_buffer") -> str:
    stage = {"alarms_to": "none", block: {"inputs": inputs}}
    with pytest.raises(ConfigError) as error:
        load_stage({"stages": {"dev": stage}})
    return str(error.value)


def test_each_kind_is_read_with_its_defaults() -> None:
    errors: list[str] = []
    specs = parse_inputs(
        [
            {"topic": {"filter": {"kind": ["order"]}}},
            {"rule": {"pattern": {"source": ["shop"]}, "input_path": "$.detail"}},
            {"bucket": {"prefix": "in/"}},
        ],
        "inputs",
        errors,
    )
    assert errors == []
    assert specs == [
        TopicSpec(filter={"kind": ["order"]}, max_message_bytes=262_144, filter_on="attributes"),
        RuleSpec(pattern={"source": ["shop"]}, input_path="$.detail", bus="default"),
        BucketSpec(prefix="in/"),
    ]


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (
            [{"queue": {}}],
            f"'{WHERE}[0]' must be an object with one key, one of ['bucket', 'rule', 'topic'], "
            "got {'queue': {}}",
        ),
        (
            [{"topic": {}, "rule": {}}],
            f"'{WHERE}[0]' must be an object with one key",
        ),
        (
            [{"topic": {"filters": {}}}],
            f"unknown key '{WHERE}[0].topic.filters'; allowed keys: ['fifo', 'filter', "
            "'filter_on', 'max_message_bytes']",
        ),
        (
            [{"topic": {"max_message_bytes": "1MiB"}}],
            f"'{WHERE}[0].topic.max_message_bytes' must be int, got '1MiB'",
        ),
        (
            [{"topic": {"max_message_bytes": True}}],
            f"'{WHERE}[0].topic.max_message_bytes' must be int, got True",
        ),
        (
            [{"topic": {"filter": ["kind"]}}],
            f"'{WHERE}[0].topic.filter' must be an object, got ['kind']",
        ),
        (
            [{"rule": {"bus": "orders"}}],
            f"'{WHERE}[0].rule.pattern' is required: the events this rule delivers",
        ),
        (
            [{"bucket": "drop"}],
            f"'{WHERE}[0].bucket' must be an object, got 'drop'",
        ),
        (
            [{"bucket": {}}, {"bucket": {"suffix": ".json"}}],
            f"'{WHERE}' has more than one bucket: one bucket input per pipeline",
        ),
    ],
)
def test_bad_inputs_are_refused_with_their_path(inputs: Any, message: str) -> None:
    assert message in refusal(inputs)


def test_inputs_that_are_not_a_list_are_refused() -> None:
    assert f"'{WHERE}' must be a list of objects, got {{'topic': {{}}}}" in refusal({"topic": {}})


def test_what_the_pipeline_rules_out_is_refused_when_the_app_is_built() -> None:
    context = cdk_context("dev")
    stage = context["sqs-blueprint"]["stages"]["dev"]
    stage["ordered"]["inputs"] = [{"topic": {}}]  # a standard topic into the FIFO queue
    stage["write_buffer"]["inputs"] = []
    with pytest.raises(InvalidPropsError) as error:
        build_app({**context, "aws:cdk:bundling-stacks": []})
    assert "TopicInput 'Ordered/Input0': 1 invalid setting:" in str(error.value)
    assert "fifo=False: a standard topic cannot deliver to a FIFO queue" in str(error.value)


def test_the_local_write_buffer_takes_a_filtered_topic() -> None:
    context = {**cdk_context("local"), "aws:cdk:bundling-stacks": []}
    _, stacks = build_app(context)
    (stack,) = [s for s in stacks if s.node.id == "WriteBuffer"]
    assert isinstance(stack, WriteBufferStack)
    template = Template.from_stack(stack)
    queue_arn = stack.resolve(stack.queues.queue.queue_arn)
    (topic_input,) = stack.inputs
    assert isinstance(topic_input, TopicInput)
    topic_ref = stack.resolve(topic_input.topic.topic_arn)
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {
            "Endpoint": queue_arn,
            "TopicArn": topic_ref,
            "RawMessageDelivery": True,
            "FilterPolicy": {"kind": ["order", "refund"]},
        },
    )
    template.has_output("Input0TopicArn", {"Value": topic_ref})
    assert list(topic_ref) == ["Ref"]
