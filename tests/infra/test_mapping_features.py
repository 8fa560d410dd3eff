"""Template assertions for the mapping's scaling mode, metrics, alarm and filters."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Match, Template

from sqs_blueprint_cdk import (
    DynamoWriteBuffer,
    InvalidPropsError,
    PipelineObservability,
    QueueWithDlq,
    SqsLambdaConsumer,
)
from stacks.config import ConfigError, load_stage
from stacks.write_buffer_stack import WriteBufferStack
from tests.infra.conftest import cdk_context

PIPELINES_WITH_MAPPINGS = ("WriteBuffer", "Ordered", "RequestResponse")


def consumer(stack: Stack, **props: Any) -> SqsLambdaConsumer:
    return SqsLambdaConsumer(
        stack,
        "Consumer",
        queue=QueueWithDlq(stack, "Pair"),
        handler="write_buffer",
        function_timeout=Duration.seconds(30),
        **({} if "provisioned_pollers" in props else {"max_concurrency": 2}) | props,
    )


def mapping(stack: Stack) -> dict[str, Any]:
    found = Template.from_stack(stack).find_resources("AWS::Lambda::EventSourceMapping")
    ((resource),) = found.values()
    props: dict[str, Any] = resource["Properties"]
    return props


def refused(make: Callable[[], Any]) -> str:
    with pytest.raises(InvalidPropsError) as error:
        make()
    return str(error.value)


# ------------------------------------------------------------------ scaling mode


def test_provisioned_pollers_replace_maximum_concurrency(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    pollers = lambda_.ProvisionedPollerConfig(minimum_pollers=5, maximum_pollers=50)
    consumer(stack, provisioned_pollers=pollers)
    props = mapping(stack)
    assert props["ProvisionedPollerConfig"] == {"MinimumPollers": 5, "MaximumPollers": 50}
    assert "ScalingConfig" not in props


def test_maximum_concurrency_stays_the_default_mode(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    consumer(stack, max_concurrency=7)
    props = mapping(stack)
    assert props["ScalingConfig"] == {"MaximumConcurrency": 7}
    assert "ProvisionedPollerConfig" not in props


def test_both_scaling_modes_are_refused(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    pollers = lambda_.ProvisionedPollerConfig(minimum_pollers=2, maximum_pollers=10)
    message = refused(lambda: consumer(stack, max_concurrency=5, provisioned_pollers=pollers))
    assert message == (
        "SqsLambdaConsumer 'Test/Consumer': 1 invalid setting:\n"
        "  - provisioned_pollers='set': an SQS mapping scales either by maximum concurrency "
        "(5) or by provisioned pollers, not both. Fix: drop max_concurrency (bound it with "
        "maximum pollers x 10 invokes) or drop provisioned_pollers."
    )


def test_a_mapping_without_a_concurrency_bound_is_refused(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    message = refused(lambda: consumer(stack, max_concurrency=None))
    assert message == (
        "SqsLambdaConsumer 'Test/Consumer': 1 invalid setting:\n"
        "  - max_concurrency=None: every mapping needs a bound on its concurrency. Fix: set "
        "max_concurrency (2..1000) or provisioned_pollers."
    )


def test_the_pinned_cdk_refuses_more_than_2000_pollers(new_stack: Callable[[], Stack]) -> None:
    # The Lambda API takes up to 10,000 for SQS; the range stays 2..2,000 while the pinned
    # aws-cdk-lib refuses more. When this test fails, the pin accepts more: widen the range.
    stack = new_stack()
    function = lambda_.Function(
        stack,
        "Fn",
        runtime=lambda_.Runtime.PYTHON_3_12,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context): pass"),
    )
    with pytest.raises(Exception, match="pollers must be between 1 and 2000"):
        lambda_.EventSourceMapping(
            stack,
            "Mapping",
            target=function,
            event_source_arn="arn:aws:sqs:us-east-1:123456789012:queue",
            provisioned_poller_config=lambda_.ProvisionedPollerConfig(
                minimum_pollers=2, maximum_pollers=2001
            ),
        )


@pytest.mark.parametrize(
    ("minimum", "maximum", "message"),
    [
        (1, 10, "provisioned_pollers.minimum_pollers=1: must be 2..200 for an SQS mapping"),
        (201, 300, "provisioned_pollers.minimum_pollers=201: must be 2..200 for an SQS mapping"),
        (
            2,
            2001,
            "provisioned_pollers.maximum_pollers=2001: must be 2..2000 for an SQS mapping (the "
            "Lambda API takes up to 10,000, the CDK's EventSourceMapping no more than 2,000)",
        ),
        (
            20,
            10,
            "provisioned_pollers='minimum 20, maximum 10': the minimum must not exceed the "
            "maximum. Fix: raise maximum_pollers or lower minimum_pollers.",
        ),
    ],
)
def test_poller_bounds(
    new_stack: Callable[[], Stack], minimum: int, maximum: int, message: str
) -> None:
    stack = new_stack()
    pollers = lambda_.ProvisionedPollerConfig(minimum_pollers=minimum, maximum_pollers=maximum)
    text = refused(lambda: consumer(stack, provisioned_pollers=pollers))
    assert "1 invalid setting" in text and message in text


def test_write_buffer_pollers_must_fit_the_write_budget(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    queue = QueueWithDlq(stack, "Pair")
    too_many = lambda_.ProvisionedPollerConfig(minimum_pollers=2, maximum_pollers=11)
    text = refused(
        lambda: DynamoWriteBuffer(
            stack,
            "Buffer",
            queue=queue,
            write_capacity=10_000,
            provisioned_pollers=too_many,
        )
    )
    assert (
        "provisioned_pollers.maximum_pollers=11: 11 pollers run up to 110 invocations, but the "
        "table's write budget is shared by 100 (capacity plan). Fix: use maximum_pollers <= 10."
    ) in text


def test_write_buffer_takes_pollers_that_fit(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    fitting = lambda_.ProvisionedPollerConfig(minimum_pollers=2, maximum_pollers=10)
    buffer = DynamoWriteBuffer(
        stack,
        "Buffer",
        queue=QueueWithDlq(stack, "Pair"),
        write_capacity=10_000,
        provisioned_pollers=fitting,
    )
    assert buffer.plan.max_concurrency == 100
    props = mapping(stack)
    assert props["ProvisionedPollerConfig"] == {"MinimumPollers": 2, "MaximumPollers": 10}
    assert "ScalingConfig" not in props


# ------------------------------------------------------------------ metrics and alarm


@pytest.mark.parametrize("pipeline", PIPELINES_WITH_MAPPINGS)
def test_every_shipped_mapping_publishes_event_counts(synthesized: Any, pipeline: str) -> None:
    synthesized.templates[pipeline].has_resource_properties(
        "AWS::Lambda::EventSourceMapping", {"MetricsConfig": {"Metrics": ["EventCount"]}}
    )


def mapping_alarm(template: Template) -> dict[str, Any]:
    (alarm,) = [
        r["Properties"]
        for r in template.find_resources("AWS::CloudWatch::Alarm").values()
        if "Metrics" in r["Properties"]
    ]
    return alarm


@pytest.mark.parametrize("pipeline", PIPELINES_WITH_MAPPINGS)
def test_failed_invoke_share_alarm_watches_this_mapping(synthesized: Any, pipeline: str) -> None:
    stack = synthesized.stacks[pipeline]
    template = synthesized.templates[pipeline]
    owner = stack.service.responder if pipeline == "RequestResponse" else stack.buffer.consumer
    uuid = stack.resolve(owner.event_source_mapping.event_source_mapping_id)
    alarm = mapping_alarm(template)
    assert alarm["Threshold"] == 0.05  # AlarmsConfig.failed_invoke_share default
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    topic = stack.resolve(stack.observability.topic.topic_arn)
    assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic]
    queries = {q["Id"]: q for q in alarm["Metrics"]}
    (expression,) = [q for q in alarm["Metrics"] if "Expression" in q]
    assert expression["Expression"] == "IF(polled > 0, failed / polled, 0)"
    assert expression.get("ReturnData", True) is True
    for query_id, name in (("failed", "FailedInvokeEventCount"), ("polled", "PolledEventCount")):
        stat = queries[query_id]["MetricStat"]
        assert stat["Metric"] == {
            "Namespace": "AWS/Lambda",
            "MetricName": name,
            "Dimensions": [{"Name": "EventSourceMappingUUID", "Value": uuid}],
        }
        assert stat["Stat"] == "Sum" and queries[query_id]["ReturnData"] is False


@pytest.mark.parametrize("pipeline", PIPELINES_WITH_MAPPINGS)
def test_dashboard_graphs_the_mapping_events(synthesized: Any, pipeline: str) -> None:
    (dashboard,) = (
        synthesized.templates[pipeline].find_resources("AWS::CloudWatch::Dashboard").values()
    )
    text = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert "Mapping events" in text
    for name in (
        "PolledEventCount",
        "InvokedEventCount",
        "FailedInvokeEventCount",
        "FilteredOutEventCount",
        "DeletedEventCount",
    ):
        assert f'\\"AWS/Lambda\\",\\"{name}\\",\\"EventSourceMappingUUID\\"' in text, name


def test_threshold_comes_from_cdk_json() -> None:
    context = cdk_context()
    stages = context["sqs-blueprint"]["stages"]
    stages["dev"]["write_buffer"]["alarms"] = {"failed_invoke_share": 0.2}
    config = load_stage(context["sqs-blueprint"], "dev").write_buffer
    app = App(context={"aws:cdk:bundling-stacks": []})
    stack = WriteBufferStack(app, "WB", config=config)
    assert mapping_alarm(Template.from_stack(stack))["Threshold"] == 0.2


@pytest.mark.parametrize("share", [0, 1, 1.5])
def test_threshold_must_be_a_share(new_stack: Callable[[], Stack], share: float) -> None:
    stack = new_stack()
    text = refused(
        lambda: PipelineObservability(
            stack, "Obs", queue=QueueWithDlq(stack, "Pair"), failed_invoke_share=share
        )
    )
    assert (
        f"failed_invoke_share={share!r}: must be between 0 and 1 (exclusive): the alarm fires "
        "when failed invokes pass this share of the events the mapping polled. Fix: use e.g. "
        "0.05 to hear when 1 event in 20 fails."
    ) in text


# ------------------------------------------------------------------ filters


def test_filters_become_filter_criteria(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    pattern = {"body": {"type": ["order"], "amount": [{"numeric": [">", 100]}]}}
    consumer(stack, filters=[pattern])
    (only,) = mapping(stack)["FilterCriteria"]["Filters"]
    assert json.loads(only["Pattern"]) == pattern


def test_no_filters_no_criteria(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    consumer(stack)
    assert "FilterCriteria" not in mapping(stack)


def test_more_filters_than_the_quota_are_refused(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    six = [{"body": {"n": [i]}} for i in range(6)]
    assert (
        "filters='6 patterns': a mapping takes at most 5 filters. Fix: merge patterns (a leaf "
        "lists several values) or request a quota increase and raise max_filters."
    ) in refused(lambda: consumer(stack, filters=six))


def test_a_raised_quota_takes_more_filters(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    consumer(stack, filters=[{"body": {"n": [i]}} for i in range(6)], max_filters=10)
    assert len(mapping(stack)["FilterCriteria"]["Filters"]) == 6


def test_max_filters_beyond_the_raised_quota_is_refused(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    assert (
        "max_filters=11: Lambda takes 5 filters per mapping, 10 at most with a quota increase"
    ) in refused(lambda: consumer(stack, max_filters=11))


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        (
            {"attributes": {"MessageGroupId": ["a"]}},
            "key 'attributes': an SQS mapping filters on 'body' only (Lambda ignores other keys)",
        ),
        ({"body": {"name": [{"suffix": ".png"}]}}, "body.name: matcher 'suffix' is not supported"),
        ({"body": {"$or": [{"a": [1]}, {"b": [2]}]}}, "body.$or: '$or' is not supported here"),
        ({"body": ["plain"]}, "'body' must be a non-empty object of field patterns"),
        (
            {"body": {"n": [{"anything-but": {"prefix": "x"}}]}},
            "body.n: invalid 'anything-but' argument",
        ),
    ],
)
def test_unsupported_patterns_are_refused(
    new_stack: Callable[[], Stack], pattern: dict[str, Any], problem: str
) -> None:
    stack = new_stack()
    text = refused(lambda: consumer(stack, filters=[pattern]))
    assert f"filters[0]={pattern!r}: {problem}" in text
    assert "so the local cloud filters as Lambda does" in text


def test_filters_and_pollers_from_cdk_json() -> None:
    context = cdk_context()
    table = context["sqs-blueprint"]["stages"]["dev"]["write_buffer"]["table"]
    pattern = {"body": {"kind": ["keep"]}}
    table |= {"filters": [pattern], "write_capacity": 10_000, "maximum_pollers": 10}
    config = load_stage(context["sqs-blueprint"], "dev").write_buffer
    app = App(context={"aws:cdk:bundling-stacks": []})
    stack = WriteBufferStack(app, "WB", config=config)
    props = mapping(stack)
    assert json.loads(props["FilterCriteria"]["Filters"][0]["Pattern"]) == pattern
    assert props["ProvisionedPollerConfig"] == {"MaximumPollers": 10}
    assert "ScalingConfig" not in props


def test_cdk_json_filters_must_be_objects() -> None:
    context = cdk_context()
    context["sqs-blueprint"]["stages"]["dev"]["write_buffer"]["table"]["filters"] = ["x"]
    with pytest.raises(ConfigError) as error:
        load_stage(context["sqs-blueprint"], "dev")
    assert (
        "'sqs-blueprint.stages.dev.write_buffer.table.filters' must be a list of objects, got ['x']"
    ) in str(error.value)


def test_shipped_stages_keep_their_scaling(synthesized: Any) -> None:
    """cdk.json sets no pollers or filters: the shipped pipelines keep maximum concurrency."""
    props = synthesized.templates["WriteBuffer"].find_resources(
        "AWS::Lambda::EventSourceMapping",
        {"Properties": {"ScalingConfig": {"MaximumConcurrency": Match.any_value()}}},
    )
    assert len(props) == 1
