"""cdk.json context parsing: stages, defaults, and clear refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from stacks.config import AlarmsConfig, ConfigError, QueueConfig, load_stage
from tests.infra.conftest import PROD_TARGET, ROOT, cdk_context


def block(**stages: Any) -> dict[str, Any]:
    return {"stages": stages}


def test_the_shipped_stages_parse() -> None:
    context = cdk_context()["sqs-blueprint"]
    dev = load_stage(context, "dev")
    prod = load_stage(context, "prod", PROD_TARGET)
    assert dev.name == "dev" and prod.name == "prod"
    assert prod.ordered.high_throughput is True
    assert prod.write_buffer.queue.customer_managed_key is True


def test_stage_defaults_to_dev_and_missing_keys_take_defaults() -> None:
    config = load_stage(block(dev={"alarms_to": "none"}), None)
    assert config.name == "dev" and config.account is None and config.region is None
    assert config.protect_data is True
    assert config.write_buffer.queue == QueueConfig()
    assert config.workers.alarms == AlarmsConfig(to="none")


def test_nested_values_are_read() -> None:
    config = load_stage(
        block(dev={"alarms_to": "none", "write_buffer": {"queue": {"max_receive_count": 9}}})
    )
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


# ------------------------------------------- where a stage deploys, who hears alarms

STAGE = "sqs-blueprint.stages.prod"
HOW = "or pass -c account=123456789012 -c region=eu-west-1"


def prod_error(**prod: Any) -> str:
    with pytest.raises(ConfigError) as error:
        load_stage(block(prod=prod), "prod")
    text = str(error.value)
    assert text.startswith("invalid stage configuration:\n  - ")
    return text


TARGET = {"account": "123456789012", "region": "eu-west-1"}


def test_the_shipped_prod_placeholders_are_refused_saying_what_to_set() -> None:
    with pytest.raises(ConfigError) as error:
        load_stage(cdk_context()["sqs-blueprint"], "prod")
    assert str(error.value) == (
        "invalid stage configuration:\n"
        f"  - '{STAGE}.account' is the documented placeholder 111111111111: set it to the AWS "
        f"account id stage 'prod' deploys to, {HOW}\n"
        f"  - '{STAGE}.alarms_to': 'oncall@example.com' is at a reserved domain that receives "
        "no mail (RFC 2606): give a real address"
    )


def test_a_stage_other_than_dev_and_local_must_name_account_and_region() -> None:
    text = prod_error(region="eu-west-1", alarms_to=["ops@yourcompany.com"])
    assert (
        f"stage 'prod' must name the account and region it deploys to: set '{STAGE}.account' "
        f"(12 digits) and '{STAGE}.region' (e.g. eu-west-1) in cdk.json, {HOW}"
    ) in text


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"account": "12345"}, f"'{STAGE}.account' must be 12 digits, got '12345'"),
        (
            {"region": "Europe"},
            f"'{STAGE}.region' must be a region name such as eu-west-1, got 'Europe'",
        ),
        # A pattern anchored with "$" matches before a final newline: values match whole.
        (
            {"account": "123456789012\n"},
            f"'{STAGE}.account' must be 12 digits, got '123456789012\\n'",
        ),
        (
            {"region": "eu-west-1\n"},
            f"'{STAGE}.region' must be a region name such as eu-west-1, got 'eu-west-1\\n'",
        ),
    ],
)
def test_account_and_region_must_look_like_aws_ones(settings: Any, message: str) -> None:
    assert message in prod_error(**{**TARGET, "alarms_to": "none", **settings})


def test_prod_without_an_alarm_destination_is_told_what_to_set() -> None:
    assert prod_error(**TARGET) == (
        "invalid stage configuration:\n"
        f"  - stage 'prod': alarms reach nobody: set '{STAGE}.alarms_to' in cdk.json to e-mail "
        'addresses (e.g. ["oncall@yourcompany.com"]) or an SNS topic ARN, or pass '
        "-c alarms_to=..."
    )


def test_dev_without_an_alarm_destination_may_say_none() -> None:
    with pytest.raises(ConfigError) as error:
        load_stage(block(dev={}), "dev")
    assert str(error.value).endswith('or pass -c alarms_to=..., or "none"')


def test_only_dev_and_local_may_send_alarms_nowhere() -> None:
    assert (
        f"'{STAGE}.alarms_to' is \"none\", which only the stages ['dev', 'local'] may use: "
        "stage 'prod' must send its alarms to e-mail addresses or an SNS topic ARN"
    ) in prod_error(**TARGET, alarms_to="none")
    for stage in ("dev", "local"):
        assert load_stage(block(**{stage: {"alarms_to": "none"}}), stage).ordered.alarms.to == (
            "none"
        )


@pytest.mark.parametrize(
    ("alarms_to", "message"),
    [
        (["ops at example"], f"'{STAGE}.alarms_to': 'ops at example' is not an e-mail address"),
        (
            ["oncall@mail.example.org"],
            f"'{STAGE}.alarms_to': 'oncall@mail.example.org' is at a reserved domain",
        ),
        ([], f"'{STAGE}.alarms_to' is an empty list: give at least one e-mail address"),
        (
            "arn:aws:sqs:eu-west-1:123456789012:q",
            f"'{STAGE}.alarms_to' is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)",
        ),
        (
            "arn:aws:sns:eu-west-1:123456789012:alarms\n",
            f"'{STAGE}.alarms_to' is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)",
        ),
        (7, f"'{STAGE}.alarms_to' must be a list of strings or str, got 7"),
    ],
)
def test_bad_alarm_destinations_are_refused(alarms_to: Any, message: str) -> None:
    assert message in prod_error(**TARGET, alarms_to=alarms_to)


def test_alarm_destinations_reach_every_pipeline() -> None:
    arn = "arn:aws:sns:eu-west-1:123456789012:ops-alarms"
    config = load_stage(
        block(prod={**TARGET, "alarms_to": ["a@yourcompany.com", "b@yourcompany.com"]}), "prod"
    )
    for pipeline in (config.write_buffer, config.ordered, config.request_response, config.workers):
        assert pipeline.alarms.emails == ("a@yourcompany.com", "b@yourcompany.com")
        assert pipeline.alarms.topic_arn is None
    config = load_stage(
        block(prod={**TARGET, "alarms_to": arn, "ordered": {"alarms": {"to": ["c@yourco.com"]}}}),
        "prod",
    )
    assert config.write_buffer.alarms.topic_arn == arn and config.write_buffer.alarms.emails == ()
    assert config.ordered.alarms.emails == ("c@yourco.com",)


def test_command_line_overrides_replace_the_stage_values() -> None:
    config = load_stage(
        cdk_context()["sqs-blueprint"],
        "prod",
        {
            "account": "210987654321",
            "region": "us-east-2",
            "alarms_to": "a@yourco.com,b@yourco.com",
        },
    )
    assert (config.account, config.region) == ("210987654321", "us-east-2")
    assert config.workers.alarms.emails == ("a@yourco.com", "b@yourco.com")
    assert config.protect_data is True


def test_data_is_protected_unless_a_stage_turns_it_off() -> None:
    context = cdk_context()["sqs-blueprint"]
    assert load_stage(context, "prod", PROD_TARGET).protect_data is True
    assert load_stage(context, "dev").protect_data is False
    assert load_stage(context, "local").protect_data is False
    assert (
        load_stage(
            block(staging={**TARGET, "alarms_to": "arn:aws:sns:eu-west-1:123456789012:a"}),
            "staging",
        ).protect_data
        is True
    )


def test_the_app_says_what_to_set_in_one_message_without_a_traceback() -> None:
    context = {**cdk_context("prod")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "app.py")],
        env={**os.environ, "CDK_CONTEXT_JSON": json.dumps(context)},
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(
        "sqs-blueprint: invalid stage configuration:\n"
        "  - 'sqs-blueprint.stages.prod.account' is the documented placeholder 111111111111"
    )
    assert "Traceback" not in result.stderr
