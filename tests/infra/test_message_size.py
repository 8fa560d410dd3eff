"""Every queue states its MaximumMessageSize; cdk.json sets the source's, the DLQ takes 1 MiB."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from app import build_app
from sqs_blueprint.limits import SQS_MAX_MESSAGE_BYTES
from sqs_blueprint_cdk import InvalidPropsError, QueueWithDlq
from stacks.config import ConfigError, QueueConfig, load_stage
from tests.infra.conftest import cdk_context
from tests.infra.test_queue_pair import queues, source_and_dlq


def test_every_queue_of_the_app_states_one_mib(synthesized: Any) -> None:
    for name, template in synthesized.templates.items():
        for logical_id, props in queues(template).items():
            assert props.get("MaximumMessageSize") == SQS_MAX_MESSAGE_BYTES, (name, logical_id)


def test_a_smaller_source_keeps_a_one_mib_dlq(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    pair = QueueWithDlq(stack, "Pair", max_message_bytes=262_144)
    source, dlq, _ = source_and_dlq(Template.from_stack(stack))
    assert source["MaximumMessageSize"] == 262_144 == pair.max_message_bytes
    assert dlq["MaximumMessageSize"] == SQS_MAX_MESSAGE_BYTES


@pytest.mark.parametrize("size", [1_024, SQS_MAX_MESSAGE_BYTES])
def test_the_bounds_are_accepted(new_stack: Callable[[], Stack], size: int) -> None:
    stack = new_stack()
    QueueWithDlq(stack, "Pair", fifo=True, max_message_bytes=size)
    source, dlq, _ = source_and_dlq(Template.from_stack(stack))
    assert (source["MaximumMessageSize"], dlq["MaximumMessageSize"]) == (
        size,
        SQS_MAX_MESSAGE_BYTES,
    )


RULE = (
    "must be a whole number of bytes, 1,024..1,048,576 (SQS MaximumMessageSize, "
    "docs/aws-facts.md#sqs-limits). Fix: leave it unset for 1,048,576 (1 MiB), or choose a "
    "size in that range."
)


@pytest.mark.parametrize("size", [1_023, 1_048_577, 0, 2.5, True])
def test_sizes_outside_the_range_are_refused_at_synth(
    new_stack: Callable[[], Stack], size: Any
) -> None:
    with pytest.raises(InvalidPropsError) as error:
        QueueWithDlq(new_stack(), "Pair", max_message_bytes=size)
    assert str(error.value) == (
        f"QueueWithDlq 'Test/Pair': 1 invalid setting:\n  - max_message_bytes={size!r}: {RULE}"
    )


def stage_with(size: Any) -> dict[str, Any]:
    context = cdk_context("dev")
    dev = context["sqs-blueprint"]["stages"]["dev"]
    dev.setdefault("write_buffer", {}).setdefault("queue", {})["max_message_bytes"] = size
    return context


def test_cdk_json_sets_the_source_size() -> None:
    assert QueueConfig().max_message_bytes == SQS_MAX_MESSAGE_BYTES
    config = load_stage(stage_with(65_536)["sqs-blueprint"], "dev")
    assert config.write_buffer.queue.props()["max_message_bytes"] == 65_536


def test_cdk_json_size_reaches_the_template(tmp_path: Any) -> None:
    app, stacks = build_app(stage_with(65_536), outdir=str(tmp_path))
    [stack] = [s for s in stacks if s.node.id == "WriteBuffer"]
    source, dlq, _ = source_and_dlq(Template.from_stack(stack))
    assert (source["MaximumMessageSize"], dlq["MaximumMessageSize"]) == (65_536, 1_048_576)
    assert isinstance(app, App)


def test_cdk_json_size_out_of_range_is_refused_at_synth(tmp_path: Any) -> None:
    with pytest.raises(InvalidPropsError, match=r"max_message_bytes=512: must be a whole number"):
        build_app(stage_with(512), outdir=str(tmp_path))


def test_cdk_json_size_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(ConfigError) as error:
        load_stage(stage_with("1MiB")["sqs-blueprint"], "dev")
    assert (
        "'sqs-blueprint.stages.dev.write_buffer.queue.max_message_bytes' must be int, got '1MiB'"
        in str(error.value)
    )
