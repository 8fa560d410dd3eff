"""Wiring a pipeline's ``inputs`` (stacks/config/inputs.py) to its queue pair, consumer
and dashboard. The constructs refuse what cannot work for this pipeline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from sqs_blueprint_cdk import PipelineObservability, QueueWithDlq
from sqs_blueprint_cdk.inputs import BucketInput, RuleInput, TopicInput
from sqs_blueprint_cdk.inputs.topic import FilterScope
from stacks.config import ConfigError
from stacks.config.inputs import BucketSpec, InputSpec, RuleSpec, TopicSpec, parse_inputs

# What the consumer reads the objects of S3 notifications from (sqs_blueprint.s3_events).
INPUT_BUCKETS_ENV = "INPUT_BUCKETS"


def add_inputs(
    stack: Stack,
    *,
    raw: Sequence[Any],
    queue: QueueWithDlq,
    observability: PipelineObservability,
    function: lambda_.Function,
    known_fields: Sequence[str] | None,
) -> list[Construct]:
    """Build each input, its alarms into the pipeline's alarm topic, its graphs into the
    pipeline's dashboard, and its name as a stack output (``Input<n>...``)."""
    errors: list[str] = []
    specs = parse_inputs(raw, "inputs", errors)
    if errors:  # the loader reported these already; a direct caller hears them here
        raise ConfigError("invalid inputs:\n" + "\n".join(f"  - {e}" for e in errors))
    built = [
        _build(stack, f"Input{i}", spec, queue, observability, known_fields)
        for i, spec in enumerate(specs)
    ]
    for construct in built:
        observability.dashboard.add_widgets(*construct.widgets)  # type: ignore[attr-defined]
        if isinstance(construct, BucketInput):
            assert function.role is not None
            construct.grant_read(function.role)
            function.add_environment(INPUT_BUCKETS_ENV, construct.bucket_name)
    return built


def _build(
    stack: Stack,
    id_: str,
    spec: InputSpec,
    queue: QueueWithDlq,
    observability: PipelineObservability,
    known_fields: Sequence[str] | None,
) -> Construct:
    if isinstance(spec, TopicSpec):
        topic = TopicInput(
            stack,
            id_,
            queue=queue,
            fifo=spec.fifo,
            max_message_bytes=spec.max_message_bytes,
            filter_policy=spec.filter,
            filter_scope=cast(FilterScope, spec.filter_on),
            known_fields=known_fields,
            alarm_topic=observability.topic,
        )
        CfnOutput(stack, f"{id_}TopicArn", value=topic.topic.topic_arn)
        return topic
    if isinstance(spec, RuleSpec):
        bus = (
            None
            if spec.bus == "default"
            else events.EventBus.from_event_bus_name(stack, f"{id_}Bus", spec.bus)
        )
        rule = RuleInput(
            stack,
            id_,
            queue=queue,
            pattern=spec.pattern,
            event_bus=bus,
            message=events.RuleTargetInput.from_event_path(spec.input_path)
            if spec.input_path
            else None,
            message_group_id=spec.message_group_id,
            retry_attempts=spec.retry_attempts,
            max_event_age=Duration.seconds(spec.max_event_age_s),
            alarm_topic=observability.topic,
        )
        CfnOutput(stack, f"{id_}EventBusName", value=rule.event_bus.event_bus_name)
        CfnOutput(stack, f"{id_}RuleName", value=rule.rule.rule_name)
        return rule
    assert isinstance(spec, BucketSpec)
    bucket = BucketInput(stack, id_, queue=queue, prefix=spec.prefix, suffix=spec.suffix)
    CfnOutput(stack, f"{id_}BucketName", value=bucket.bucket_name)
    return bucket
