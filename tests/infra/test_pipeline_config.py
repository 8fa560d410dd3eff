"""A stage's own pipelines in cdk.json: parsed, defaulted, and refused with exact messages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from stacks.config import (
    AlarmsConfig,
    ConfigError,
    OwnTableConfig,
    PipelineConfig,
    QueueConfig,
    load_stage,
)
from tests.infra.own_pipeline import BLOCK, own_handler

NAME = "own-config-test"
WHERE = "sqs-blueprint.stages.dev.pipelines"


@pytest.fixture(scope="module", autouse=True)
def handler() -> Iterator[str]:
    with own_handler(NAME) as name:
        yield name


def load(pipelines: Any, **stage: Any) -> Any:
    return load_stage({"stages": {"dev": {"alarms_to": "none", "pipelines": pipelines, **stage}}})


def refusal(pipelines: Any, **stage: Any) -> str:
    with pytest.raises(ConfigError) as error:
        load(pipelines, **stage)
    return str(error.value)


def test_the_walkthrough_block_is_read_with_its_table_and_the_stage_alarms() -> None:
    config = load({NAME: BLOCK})
    assert config.pipelines == {
        NAME: PipelineConfig(
            queue=QueueConfig(max_receive_count=3),
            function_timeout_s=10,
            batch_size=10,
            max_concurrency=2,
            table=OwnTableConfig(write_capacity=20, key_fields=("order_id",)),
            alarms=AlarmsConfig(to="none"),
        )
    }


def test_an_empty_block_takes_the_defaults_and_has_no_table() -> None:
    config = load({NAME: {"fifo": True}})
    assert config.pipelines[NAME] == PipelineConfig(fifo=True, alarms=AlarmsConfig(to="none"))
    assert config.pipelines[NAME].table is None


def test_no_pipelines_by_default() -> None:
    assert load_stage({"stages": {"dev": {"alarms_to": "none"}}}).pipelines == {}


@pytest.mark.parametrize("name", ["My_Orders", "orders_v2", "2orders", "", "o" * 41])
def test_a_name_that_cannot_name_a_folder_and_a_stack_is_refused(name: str) -> None:
    assert refusal({name: {}}) == (
        "invalid stage configuration:\n"
        f"  - '{WHERE}.{name}': a pipeline name must be 1..40 lowercase letters, digits and "
        "hyphens, starting with a letter (it names the folder lambdas/<name>/ and the stack "
        f"sqs-blueprint-<stage>-<name>), got {name!r}"
    )


def test_a_name_with_a_trailing_newline_is_refused_on_one_line() -> None:
    """A pattern anchored with ``$`` matches before a final newline: the name must match
    whole, although the pipeline's handler exists under the name without the newline."""
    assert refusal({f"{NAME}\n": {}}) == (
        "invalid stage configuration:\n"
        f"  - '{WHERE}.{NAME}\\n': a pipeline name must be 1..40 lowercase letters, digits "
        "and hyphens, starting with a letter (it names the folder lambdas/<name>/ and the "
        f"stack sqs-blueprint-<stage>-<name>), got '{NAME}\\n'"
    )


def test_a_shipped_pipeline_name_is_refused() -> None:
    assert refusal({"ordered": {}}) == (
        "invalid stage configuration:\n"
        f"  - '{WHERE}.ordered': 'ordered' is the name of a shipped pipeline or handler "
        "['write-buffer', 'ordered', 'request-response', 'workers', 'responder']; "
        "give your own pipeline another name"
    )


def test_a_pipeline_without_its_handler_is_refused() -> None:
    assert refusal({"no-such-handler": {}}) == (
        "invalid stage configuration:\n"
        f"  - '{WHERE}.no-such-handler': there is no lambdas/no-such-handler/handler.py; "
        "create it with the function lambda_handler(event, context), or correct the name"
    )


def test_unknown_keys_name_their_path_and_the_allowed_keys() -> None:
    text = refusal({NAME: {"batchsize": 5, "table": {"wcu": 5}}})
    assert text == (
        "invalid stage configuration:\n"
        f"  - unknown key '{WHERE}.{NAME}.batchsize'; allowed keys: ['queue', 'fifo', "
        "'function_timeout_s', 'batch_size', 'batching_window_s', 'max_concurrency', "
        "'table', 'acceptable_latency_s', 'alarms', 'inputs']\n"
        f"  - unknown key '{WHERE}.{NAME}.table.wcu'; allowed keys: ['write_capacity', "
        "'read_capacity', 'key_fields', 'extra_actions']"
    )


@pytest.mark.parametrize(
    ("pipelines", "message"),
    [
        (["orders"], f"'{WHERE}' must be an object of named blocks, got ['orders']"),
        ({NAME: 5}, f"'{WHERE}.{NAME}' must be an object, got int"),
        ({NAME: {"table": "yes"}}, f"'{WHERE}.{NAME}.table' must be an object, got str"),
        ({NAME: {"batch_size": "10"}}, f"'{WHERE}.{NAME}.batch_size' must be int, got '10'"),
        (
            {NAME: {"fifo": True, "queue": {"tenants": True}}},
            f"'{WHERE}.{NAME}.queue.tenants' is true on a FIFO pipeline, where MessageGroupId "
            "orders each group and fair queues do not apply: remove 'tenants' or 'fifo'",
        ),
        (
            {NAME: {"table": {"write_capacity": 0}}},
            f"'{WHERE}.{NAME}.table': a provisioned table needs at least 1 write and 1 read "
            "capacity unit, got write_capacity=0, read_capacity=1",
        ),
    ],
)
def test_wrong_shapes_are_refused(pipelines: Any, message: str) -> None:
    assert refusal(pipelines) == f"invalid stage configuration:\n  - {message}"


@pytest.mark.parametrize("key_fields", [["pk"], [""], ["order_id", " region"]])
def test_key_fields_no_record_could_carry_are_refused_in_one_line(key_fields: list[str]) -> None:
    assert refusal({NAME: {"table": {"key_fields": key_fields}}}) == (
        "invalid stage configuration:\n"
        f"  - '{WHERE}.{NAME}.table.key_fields' is {key_fields!r}: each names a top-level body "
        "field: not empty, without surrounding spaces, and not 'pk', the table's partition "
        "key, which a body may not carry (every record would be refused). Fix: name the body "
        "fields, e.g. ['order_id'], and rename a body field called 'pk'"
    )


def test_a_pipeline_alarms_nobody_is_refused_once_with_the_shipped_ones() -> None:
    text = refusal({NAME: {}}, alarms_to=None)
    assert text.count("alarms reach nobody") == 1


def test_a_pipeline_may_send_its_alarms_elsewhere() -> None:
    config = load({NAME: {"alarms": {"to": ["orders@yourcompany.com"]}}})
    assert config.pipelines[NAME].alarms.emails == ("orders@yourcompany.com",)
    assert refusal({NAME: {"alarms": {"to": ["nobody"]}}}) == (
        "invalid stage configuration:\n"
        f"  - '{WHERE}.{NAME}.alarms.to': 'nobody' is not an e-mail address"
    )
