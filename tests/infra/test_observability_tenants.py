"""Fair-queue metrics and the quiet-tenant alarm, for pipelines that declare tenants."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk.assertions import Template

from sqs_blueprint_cdk import InvalidPropsError, PipelineObservability, QueueWithDlq
from stacks.config import ConfigError, load_stage
from tests.infra.conftest import cdk_context
from tests.infra.test_observability import (
    CONFIG_KEYS,
    PIPELINES,
    alarms,
    build_pipeline,
    dashboard_text,
    refs,
)

FAIR_QUEUE_METRICS = (
    "ApproximateNumberOfNoisyGroups",
    "ApproximateNumberOfMessagesVisibleInQuietGroups",
    "ApproximateNumberOfMessagesNotVisibleInQuietGroups",
    "ApproximateNumberOfMessagesDelayedInQuietGroups",
    "ApproximateAgeOfOldestMessageInQuietGroups",
)
STANDARD = [p for p in PIPELINES if p != "Ordered"]


def quiet_age_alarms(template: Template) -> list[dict[str, Any]]:
    return [
        a
        for a in alarms(template)
        if a.get("MetricName") == "ApproximateAgeOfOldestMessageInQuietGroups"
    ]


def stage_with_tenants(key: str, **alarm_settings: Any) -> Any:
    block = cdk_context()["sqs-blueprint"]
    pipeline = block["stages"]["dev"].setdefault(key, {})
    pipeline.setdefault("queue", {})["tenants"] = True
    pipeline["alarms"] = {"to": ["oncall@yourcompany.com"], **alarm_settings}
    return load_stage(block, "dev")


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_without_tenants_no_fair_queue_metric_appears(synthesized: Any, pipeline: str) -> None:
    text = str(synthesized.raw[pipeline])
    for metric in FAIR_QUEUE_METRICS:
        assert metric not in text, metric


@pytest.mark.parametrize("pipeline", STANDARD)
def test_tenants_from_cdk_json_add_the_metrics_and_a_routed_alarm(pipeline: str) -> None:
    config = stage_with_tenants(CONFIG_KEYS[pipeline], quiet_group_age_s=120)
    stack = build_pipeline(pipeline, config)
    template = Template.from_stack(stack)
    ref = refs(stack)
    (alarm,) = quiet_age_alarms(template)
    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": ref["queue"]}]
    assert (alarm["Statistic"], alarm["Threshold"]) == ("Maximum", 120)
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    # Routed like the other alarms: the pipeline's topic, which mails its address.
    assert alarm["AlarmActions"] == [ref["topic"]] and alarm["OKActions"] == [ref["topic"]]
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "oncall@yourcompany.com"}
    )
    text = dashboard_text(template)
    for metric in FAIR_QUEUE_METRICS:
        assert f'"AWS/SQS","{metric}","QueueName"' in text, metric
    assert '{"value":120,"label":"Alarm"' in text


def test_the_default_threshold_is_five_minutes(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    pair = QueueWithDlq(stack, "Pair")
    obs = PipelineObservability(stack, "Obs", queue=pair, tenants=True)
    assert sorted(obs.alarms) == ["DlqDepth", "OldestMessageAge", "QuietGroupAge"]
    template = Template.from_stack(stack)
    (alarm,) = quiet_age_alarms(template)
    assert alarm["Threshold"] == 300
    assert alarm["Dimensions"][0]["Value"] == stack.resolve(pair.queue.queue_name)
    assert '{"value":300,"label":"Alarm"' in dashboard_text(template)


def test_the_ordered_pipeline_refuses_tenants() -> None:
    block = cdk_context()["sqs-blueprint"]
    block["stages"]["dev"]["ordered"].setdefault("queue", {})["tenants"] = True
    with pytest.raises(ConfigError) as error:
        load_stage(block, "dev")
    assert str(error.value) == (
        "invalid stage configuration:\n"
        "  - 'sqs-blueprint.stages.dev.ordered.queue.tenants' is true, but the ordered "
        "pipeline's queue is FIFO, where MessageGroupId orders each group and fair queues do "
        "not apply: remove 'tenants' there (it is for standard queues: write_buffer, "
        "request_response, workers)"
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"queue": {"tenants": "yes"}},
            "'sqs-blueprint.stages.dev.write_buffer.queue.tenants' must be bool, got 'yes'",
        ),
        (
            {"alarms": {"quiet_group_age_s": "5m"}},
            "'sqs-blueprint.stages.dev.write_buffer.alarms.quiet_group_age_s' must be int, "
            "got '5m'",
        ),
    ],
)
def test_bad_tenant_settings_in_cdk_json(settings: dict[str, Any], message: str) -> None:
    block = cdk_context()["sqs-blueprint"]
    block["stages"]["dev"]["write_buffer"].update(settings)
    with pytest.raises(ConfigError) as error:
        load_stage(block, "dev")
    assert str(error.value) == f"invalid stage configuration:\n  - {message}"


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"fifo": True, "tenants": True},
            "tenants=True: fair queues are standard queues: on a FIFO queue MessageGroupId "
            "orders each group and SQS publishes no quiet-group metrics. Fix: leave tenants "
            "unset for a FIFO queue.",
        ),
        (
            {"tenants": True, "quiet_group_age": Duration.days(4)},
            "quiet_group_age='345600 s': must be more than 0 s and less than the queue's "
            "retention (345600 s): the alarm fires when a quiet tenant's oldest message is "
            "older than this. Fix: use e.g. Duration.minutes(5).",
        ),
        (
            {"tenants": True, "quiet_group_age": Duration.seconds(0)},
            "quiet_group_age='0 s': must be more than 0 s and less than the queue's retention",
        ),
    ],
)
def test_bad_tenant_props(
    new_stack: Callable[[], Stack], props: dict[str, Any], message: str
) -> None:
    stack = new_stack()
    pair = QueueWithDlq(stack, "Pair", fifo=props.pop("fifo", False))
    with pytest.raises(InvalidPropsError) as error:
        PipelineObservability(stack, "Obs", queue=pair, **props)
    assert f"PipelineObservability 'Test/Obs': 1 invalid setting:\n  - {message}" in str(
        error.value
    )
