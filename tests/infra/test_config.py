"""cdk.json context parsing: stages, defaults, and clear refusals."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.config import ConfigError, QueueConfig, StageConfig, load_stage
from tests.infra.conftest import cdk_context


def block(**stages: Any) -> dict[str, Any]:
    return {"stages": stages}


def test_the_shipped_stages_parse() -> None:
    context = cdk_context()["sqs-blueprint"]
    dev = load_stage(context, "dev")
    prod = load_stage(context, "prod")
    assert dev.name == "dev" and prod.name == "prod"
    assert prod.ordered.high_throughput is True
    assert prod.write_buffer.queue.customer_managed_key is True


def test_stage_defaults_to_dev_and_missing_keys_take_defaults() -> None:
    config = load_stage(block(dev={}), None)
    assert config == StageConfig(name="dev")
    assert config.write_buffer.queue == QueueConfig()


def test_nested_values_are_read() -> None:
    config = load_stage(block(dev={"write_buffer": {"queue": {"max_receive_count": 9}}}))
    assert config.write_buffer.queue.max_receive_count == 9


def test_unknown_stage_names_the_known_ones() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown stage 'qa'; cdk.json defines \['dev', 'prod'\]"
    ):
        load_stage(block(dev={}, prod={}), "qa")


def test_unknown_key_names_its_path_and_the_allowed_keys() -> None:
    with pytest.raises(ConfigError) as error:
        load_stage(block(dev={"write_buffer": {"queue": {"max_recieve_count": 3}}}))
    text = str(error.value)
    assert "unknown key 'sqs-blueprint.stages.dev.write_buffer.queue.max_recieve_count'" in text
    assert "'max_receive_count'" in text


def test_wrong_types_are_refused_all_at_once() -> None:
    with pytest.raises(ConfigError) as error:
        load_stage(
            block(
                dev={
                    "region": 5,
                    "ordered": {"high_throughput": "yes", "queue": {"retention_days": True}},
                }
            )
        )
    text = str(error.value)
    assert "'sqs-blueprint.stages.dev.region' must be str, got 5" in text
    assert "'sqs-blueprint.stages.dev.ordered.high_throughput' must be bool, got 'yes'" in text
    assert "'sqs-blueprint.stages.dev.ordered.queue.retention_days' must be int, got True" in text


@pytest.mark.parametrize(
    ("context", "message"),
    [
        (None, "context 'sqs-blueprint' must be an object"),
        ({"stages": {}}, "'sqs-blueprint.stages' must map stage names to settings"),
        ({"stages": {"dev": {}}, "stagez": {}}, r"unknown key\(s\) \['stagez'\]"),
        ({"stages": {"dev": {"queue": []}}}, "unknown key 'sqs-blueprint.stages.dev.queue'"),
        (
            {"stages": {"dev": {"ordered": []}}},
            "'sqs-blueprint.stages.dev.ordered' must be an object",
        ),
    ],
)
def test_malformed_blocks_are_refused(context: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_stage(context, "dev")
