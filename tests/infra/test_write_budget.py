"""The write budget at synth: every shipped stage fits a full batch of its largest items."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk.assertions import Template

from sqs_blueprint_cdk import DynamoWriteBuffer, InvalidPropsError, QueueWithDlq
from stacks.config import load_stage
from tests.infra.conftest import cdk_context


def function(template: Template) -> dict[str, Any]:
    (props,) = [r["Properties"] for r in template.find_resources("AWS::Lambda::Function").values()]
    result: dict[str, Any] = props
    return result


@pytest.mark.parametrize("stage", ["dev", "prod", "local"])
def test_the_shipped_stages_fit_a_full_batch_of_their_largest_items(
    new_stack: Callable[[], Stack], stage: str
) -> None:
    overrides = {"account": "123456789012", "alarms_to": "arn:aws:sns:eu-west-1:123456789012:x"}
    config = load_stage(cdk_context()["sqs-blueprint"], stage, overrides)
    for table, fifo in ((config.write_buffer.table, False), (config.ordered.table, True)):
        stack = new_stack()
        extra: dict[str, Any] = {"handler": "ordered", "version_field": "version"} if fifo else {}
        built = DynamoWriteBuffer(
            stack, "Buffer", queue=QueueWithDlq(stack, "Pair", fifo=fifo), **table.props(), **extra
        )
        env = function(Template.from_stack(stack))["Environment"]
        largest = float(env["Variables"]["MAX_ITEM_KB"])
        budget = built.plan.budget_wcu_per_s * (0.8 * table.function_timeout_s - 1)
        assert built.plan.batch_size * -(-largest // 1) <= budget
        if table.max_item_kb is None:  # the largest whole KB that fits
            assert built.plan.batch_size * (largest + 1) > budget
        else:
            assert largest == table.max_item_kb


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"batch_size": 100, "max_item_kb": 20},
            # 50 WCU/s for 24 s less 1 s: 1,150 WCU; 174 WCU is the least giving 87 WCU/s.
            "max_item_kb=20: a full batch of 100 items of 20 KB costs 2,000 WCU, but one "
            "invocation writes at most 1,150 (50 WCU/s for its 24 s write deadline less the "
            "pacer's first 1 s), so its last records would return unwritten on every receive "
            "until the DLQ. Fix: use batch_size <= 57, or function_timeout >= 52 s, or "
            "write_capacity >= 174, or max_item_kb <= 11 (larger records then fail alone).",
        ),
        ({"max_item_kb": 0}, "max_item_kb=0: the largest item is more than 0"),
    ],
)
def test_a_batch_that_cannot_fit_the_budget_is_refused_saying_what_to_change(
    new_stack: Callable[[], Stack], props: dict[str, Any], message: str
) -> None:
    stack = new_stack()
    with pytest.raises(InvalidPropsError) as error:
        DynamoWriteBuffer(
            stack,
            "Buffer",
            queue=QueueWithDlq(stack, "Pair"),
            write_capacity=100,
            max_batching_window=Duration.seconds(1),
            **props,
        )
    assert message in str(error.value)
