"""Template assertions for the alarms, alarm topic and dashboard of every pipeline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template

from sqs_blueprint_cdk import (
    DynamoWriteBuffer,
    InvalidPropsError,
    PipelineObservability,
    QueueWithDlq,
)
from stacks.config import StageConfig, load_stage
from stacks.ordered_stack import OrderedStack
from stacks.request_response_stack import RequestResponseStack
from stacks.workers_stack import WorkersStack
from stacks.write_buffer_stack import WriteBufferStack
from tests.infra.conftest import cdk_context

# Every stack of the app, and what each one's alarms watch besides its queue
# pair: a consumer function, a table, or both.
WATCHES = {
    "WriteBuffer": ("function", "table"),
    "Ordered": ("function", "table"),
    "RequestResponse": ("function",),
    "Workers": ("table",),
}
PIPELINES = tuple(WATCHES)
CONFIG_KEYS = {
    "WriteBuffer": "write_buffer",
    "Ordered": "ordered",
    "RequestResponse": "request_response",
    "Workers": "workers",
}
DAY_S = 86_400
# The oldest-message alarm's threshold: cdk.json's acceptable_latency_s, plus the
# instance warm-up for the workers (120 s + 180 s).
AGE_S = {"WriteBuffer": 600, "Ordered": 600, "RequestResponse": 60, "Workers": 300}


def alarms(template: Template) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template.find_resources("AWS::CloudWatch::Alarm").values()]


def refs(stack: Any) -> dict[str, Any]:
    """How the template refers to each resource an alarm watches (no hard-coded ids).

    Read from each stack's own attributes, not from the observability
    construct, so a pipeline wired to the wrong queue, function or table fails.
    """
    if isinstance(stack, RequestResponseStack):
        pair, function, table = stack.service.requests, stack.service.responder.function, None
    elif isinstance(stack, WorkersStack):
        pair, function, table = stack.queues, None, stack.table
    else:
        assert isinstance(stack, WriteBufferStack | OrderedStack), stack
        pair, function, table = stack.queues, stack.buffer.consumer.function, stack.buffer.table
    found = {
        "dlq": stack.resolve(pair.dead_letter_queue.queue_name),
        "queue": stack.resolve(pair.queue.queue_name),
        "topic": stack.resolve(stack.observability.topic.topic_arn),
    }
    if function is not None:
        found["function"] = stack.resolve(function.function_name)
    if table is not None:
        found["table"] = stack.resolve(table.table_name)
    return found


def join_parts(body: dict[str, Any]) -> list[Any]:
    parts: list[Any] = body["Fn::Join"][1]
    return parts


def dashboard_text(template: Template) -> str:
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    parts = join_parts(dashboard["Properties"]["DashboardBody"])
    return "".join(p for p in parts if isinstance(p, str))


# ------------------------------------------------------------------ the alarms


# (key of refs(), namespace, metric, dimension, statistic, threshold, comparison)
EXPECTED = [
    (
        "dlq",
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "QueueName",
        "Maximum",
        1,
        "GreaterThanOrEqualToThreshold",
    ),
    (
        "queue",
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        "QueueName",
        "Maximum",
        None,  # each pipeline's latency target: AGE_S
        "GreaterThanThreshold",
    ),
    ("function", "AWS/Lambda", "Errors", "FunctionName", "Sum", 0, "GreaterThanThreshold"),
    ("function", "AWS/Lambda", "Throttles", "FunctionName", "Sum", 0, "GreaterThanThreshold"),
    (
        "table",
        "AWS/DynamoDB",
        "WriteThrottleEvents",
        "TableName",
        "Sum",
        0,
        "GreaterThanThreshold",
    ),
]


def expected_for(pipeline: str) -> list[tuple[Any, ...]]:
    """The queue alarms everywhere; Lambda and table alarms where the pipeline has them."""
    watched = ("dlq", "queue", *WATCHES[pipeline])
    return [e for e in EXPECTED if e[0] in watched]


ALARM_CASES = [(pipeline, *e) for pipeline in PIPELINES for e in expected_for(pipeline)]


@pytest.mark.parametrize(
    (
        "pipeline",
        "target",
        "namespace",
        "metric",
        "dimension",
        "statistic",
        "threshold",
        "comparison",
    ),
    ALARM_CASES,
    ids=[f"{c[0]}-{c[3]}" for c in ALARM_CASES],
)
def test_alarm_watches_the_right_resource_and_notifies_the_topic(
    synthesized: Any,
    pipeline: str,
    target: str,
    namespace: str,
    metric: str,
    dimension: str,
    statistic: str,
    threshold: float,
    comparison: str,
) -> None:
    ref = refs(synthesized.stacks[pipeline])
    threshold = AGE_S[pipeline] if threshold is None else threshold
    synthesized.templates[pipeline].has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": namespace,
            "MetricName": metric,
            "Dimensions": [{"Name": dimension, "Value": ref[target]}],
            "Statistic": statistic,
            "Threshold": threshold,
            "ComparisonOperator": comparison,
            "EvaluationPeriods": 1,
            "Period": 300,
            "TreatMissingData": "notBreaching",
            "AlarmActions": [ref["topic"]],
            "OKActions": [ref["topic"]],
            "AlarmDescription": Match.string_like_regexp(".+"),
        },
    )


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_every_pipeline_has_exactly_these_alarms(synthesized: Any, pipeline: str) -> None:
    every = alarms(synthesized.templates[pipeline])
    found = sorted(a["MetricName"] for a in every if "MetricName" in a)
    assert found == sorted(e[2] for e in expected_for(pipeline))
    # Plus one metric-math alarm: the Lambda mapping's failed-invoke share, or the
    # workers' heartbeats.
    assert len(every) - len(found) == 1
    # What the stack has, it alarms on: no function or table goes unwatched.
    assert set(refs(synthesized.stacks[pipeline])) == {"dlq", "queue", "topic", *WATCHES[pipeline]}
    topic = refs(synthesized.stacks[pipeline])["topic"]
    for alarm in alarms(synthesized.templates[pipeline]):
        assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic]


def test_no_alarm_counts_messages_sent(synthesized: Any, synthesized_prod: Any) -> None:
    """NumberOfMessagesSent does not count dead-lettered messages: useless on a DLQ."""
    for synth in (synthesized, synthesized_prod):
        assert set(synth.templates) == set(PIPELINES)
        for template in synth.templates.values():
            for alarm in alarms(template):
                names = [alarm.get("MetricName")] + [
                    q.get("MetricStat", {}).get("Metric", {}).get("MetricName")
                    for q in alarm.get("Metrics", [])
                ]
                assert "NumberOfMessagesSent" not in names, alarm


def test_prod_age_thresholds_are_the_latency_targets_in_minutes(synthesized_prod: Any) -> None:
    # The finding: 302,400 s (3.5 days) and 172,800 s (2 days) before a stopped
    # consumer was noticed. Now: 10 min for the Lambda pipelines, 1 min for RPC, and
    # the workers' 2 min target plus the 3 min a scale-out takes to warm up.
    for pipeline, seconds in AGE_S.items():
        synthesized_prod.templates[pipeline].has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "MetricName": "ApproximateAgeOfOldestMessage",
                "Statistic": "Maximum",
                "Threshold": seconds,
                "AlarmDescription": Match.string_like_regexp("latency target"),
            },
        )


# ------------------------------------------------------------------ the topic


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_topic_is_encrypted_with_a_rotated_key_cloudwatch_may_use(
    synthesized: Any, pipeline: str
) -> None:
    template, stack = synthesized.templates[pipeline], synthesized.stacks[pipeline]
    key = stack.observability.key
    assert key is not None
    key_ref = stack.resolve(key.key_arn)
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": key_ref})
    (key_id, _) = key_ref["Fn::GetAtt"]
    assert template.find_resources("AWS::KMS::Key")[key_id]["Properties"]["EnableKeyRotation"]
    cloudwatch_may = Match.object_like(
        {
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Condition": {
                "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                "ArnLike": {"aws:SourceArn": Match.any_value()},
            },
        }
    )
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "EnableKeyRotation": True,
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Condition": {
                                    "StringEquals": {
                                        "aws:SourceAccount": {"Ref": "AWS::AccountId"}
                                    },
                                    "ArnLike": {"aws:SourceArn": Match.any_value()},
                                },
                            }
                        )
                    ]
                )
            },
        },
    )
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "Topics": [refs(stack)["topic"]],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Principal": "*",
                                "Action": "sns:Publish",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        ),
                        cloudwatch_may,
                    ]
                )
            },
        },
    )


def test_alarm_source_arn_is_scoped_to_this_account_and_region(synthesized: Any) -> None:
    (policy,) = (
        synthesized.templates["WriteBuffer"].find_resources("AWS::SNS::TopicPolicy").values()
    )
    (allow,) = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"
    ]
    parts = join_parts(allow["Condition"]["ArnLike"]["aws:SourceArn"])
    assert parts == [
        "arn:",
        {"Ref": "AWS::Partition"},
        ":cloudwatch:",
        {"Ref": "AWS::Region"},
        ":",
        {"Ref": "AWS::AccountId"},
        ":alarm:*",
    ]


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_outputs_name_the_topic_and_the_dashboard(synthesized: Any, pipeline: str) -> None:
    stack = synthesized.stacks[pipeline]
    outputs = synthesized.templates[pipeline].find_outputs("*")
    assert outputs["AlarmTopicArn"]["Value"] == refs(stack)["topic"]
    assert outputs["DashboardName"]["Value"] == stack.resolve(
        stack.observability.dashboard.dashboard_name
    )


def test_no_email_subscription_unless_configured(synthesized: Any) -> None:
    for template in synthesized.templates.values():
        template.resource_count_is("AWS::SNS::Subscription", 0)


# ------------------------------------------------------------------ the dashboard


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_dashboard_shows_every_metric(synthesized: Any, pipeline: str) -> None:
    stack = synthesized.stacks[pipeline]
    template = synthesized.templates[pipeline]
    template.has_resource_properties(
        "AWS::CloudWatch::Dashboard", {"DashboardName": stack.stack_name}
    )
    text = dashboard_text(template)
    for metric in (
        "ApproximateNumberOfMessagesVisible",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateAgeOfOldestMessage",
    ):
        assert metric in text, metric
    has_function = "function" in WATCHES[pipeline]
    for metric in ('"AWS/Lambda","Errors"', '"AWS/Lambda","Throttles"', '"AWS/Lambda","Duration"'):
        assert (metric in text) == has_function, metric
    assert ('"stat":"p99"' in text) == has_function
    has_table = "table" in WATCHES[pipeline]
    for metric in ("ConsumedWriteCapacityUnits", "ProvisionedWriteCapacityUnits"):
        assert (metric in text) == has_table, metric
    if has_table:
        # Consumed capacity is a Sum per period, turned into WCU per second.
        assert '"expression":"consumed / PERIOD(consumed)"' in text
        assert '"id":"consumed","visible":false,"stat":"Sum"' in text
    assert ("GroupInServiceInstances" in text) == (pipeline == "Workers")
    assert "NumberOfMessagesSent" not in text


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_dashboard_points_at_this_pipeline(synthesized: Any, pipeline: str) -> None:
    template = synthesized.templates[pipeline]
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    parts = join_parts(dashboard["Properties"]["DashboardBody"])
    ref = refs(synthesized.stacks[pipeline])
    for target in ("queue", "dlq", *WATCHES[pipeline]):
        assert ref[target] in parts, target
    # The alarm status widget lists every alarm of the pipeline, by an ARN built
    # from its name: the local cloud cannot resolve Fn::GetAtt on an alarm.
    alarm_ids = template.find_resources("AWS::CloudWatch::Alarm")
    math_alarms = 1  # the failed-invoke share, or the workers' heartbeats
    assert len(alarm_ids) == len(expected_for(pipeline)) + math_alarms
    assert all({"Ref": a} in parts for a in alarm_ids)
    assert not any({"Fn::GetAtt": [a, "Arn"]} in parts for a in alarm_ids)
    assert '"type":"alarm"' in dashboard_text(template)


def test_workers_dashboard_shows_instances_and_backlog_per_instance(synthesized: Any) -> None:
    stack = synthesized.stacks["Workers"]
    template = synthesized.templates["Workers"]
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    parts = join_parts(dashboard["Properties"]["DashboardBody"])
    group = stack.resolve(stack.workers.auto_scaling_group.auto_scaling_group_name)
    assert group in parts
    text = dashboard_text(template)
    # The ratio the scaling policy tracks, with the same zero-divisor guard,
    # and the policy's target drawn on it.
    assert '"title":"Workers in service"' in text
    assert '"expression":"visible / IF(inservice > 0, inservice, 1)"' in text
    assert '"id":"visible","visible":false' in text and '"id":"inservice","visible":false' in text
    target = stack.workers.target_backlog_per_instance
    assert target == 600  # dev defaults: 120 s latency / 0.2 s per message
    assert f'{{"value":{target:g},"label":"Scaling target"' in text
    (policy,) = template.find_resources("AWS::AutoScaling::ScalingPolicy").values()
    tracking = policy["Properties"]["TargetTrackingConfiguration"]
    assert tracking["TargetValue"] == target


# ------------------------------------------------------------------ construct use


def pair_and_buffer(stack: Stack) -> tuple[QueueWithDlq, DynamoWriteBuffer]:
    pair = QueueWithDlq(stack, "Pair")
    return pair, DynamoWriteBuffer(stack, "Buffer", queue=pair, write_capacity=10)


def test_queue_only_gets_queue_alarms_and_graphs(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    obs = PipelineObservability(stack, "Obs", queue=QueueWithDlq(stack, "Pair"), age_share=0.25)
    assert sorted(obs.alarms) == ["DlqDepth", "OldestMessageAge"]
    template = Template.from_stack(stack)
    assert sorted(a["MetricName"] for a in alarms(template)) == [
        "ApproximateAgeOfOldestMessage",
        "ApproximateNumberOfMessagesVisible",
    ]
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "ApproximateAgeOfOldestMessage", "Threshold": 0.25 * 4 * DAY_S},
    )
    text = dashboard_text(template)
    assert "AWS/Lambda" not in text and "AWS/DynamoDB" not in text
    assert "AWS/AutoScaling" not in text


def test_a_group_adds_worker_graphs_without_alarms(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    group = autoscaling.AutoScalingGroup.from_auto_scaling_group_name(stack, "Group", "workers")
    obs = PipelineObservability(
        stack, "Obs", queue=QueueWithDlq(stack, "Pair"), auto_scaling_group=group
    )
    assert sorted(obs.alarms) == ["DlqDepth", "OldestMessageAge"]
    text = dashboard_text(Template.from_stack(stack))
    assert '"AWS/AutoScaling","GroupInServiceInstances","AutoScalingGroupName","workers"' in text
    assert '"expression":"visible / IF(inservice > 0, inservice, 1)"' in text
    assert "Scaling target" not in text  # no backlog_target given


def test_a_given_topic_receives_the_alarms(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    topic = sns.Topic(stack, "Ops", enforce_ssl=True)
    pair, buffer = pair_and_buffer(stack)
    obs = PipelineObservability(
        stack,
        "Obs",
        queue=pair,
        consumer_function=buffer.consumer.function,
        table=buffer.table,
        topic=topic,
        period=Duration.minutes(1),
        evaluation_periods=3,
    )
    assert obs.topic is topic and obs.key is None
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SNS::Topic", 1)
    template.resource_count_is("AWS::KMS::Key", 0)
    topic_ref = stack.resolve(topic.topic_arn)
    for alarm in alarms(template):
        assert alarm["AlarmActions"] == [topic_ref] and alarm["OKActions"] == [topic_ref]
        assert alarm["Period"] == 60 and alarm["EvaluationPeriods"] == 3
    # The topic's policy now lets CloudWatch publish, next to its TLS-only rule.
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Principal": {"Service": "cloudwatch.amazonaws.com"}})]
                )
            }
        },
    )


def test_alarm_emails_subscribe_to_the_topic(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    obs = PipelineObservability(
        stack,
        "Obs",
        queue=QueueWithDlq(stack, "Pair"),
        alarm_emails=["ops@example.com", "oncall@example.com"],
    )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SNS::Subscription", 2)
    for address in ("ops@example.com", "oncall@example.com"):
        template.has_resource_properties(
            "AWS::SNS::Subscription",
            {
                "Protocol": "email",
                "Endpoint": address,
                "TopicArn": stack.resolve(obs.topic.topic_arn),
            },
        )


def build_pipeline(pipeline: str, config: StageConfig) -> Stack:
    app = App(context={"aws:cdk:bundling-stacks": []})
    if pipeline == "WriteBuffer":
        return WriteBufferStack(app, "WB", config=config.write_buffer)
    if pipeline == "Ordered":
        return OrderedStack(app, "Ord", config=config.ordered)
    if pipeline == "RequestResponse":
        return RequestResponseStack(app, "RR", config=config.request_response)
    return WorkersStack(app, "Wk", config=config.workers)


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_stage_alarm_settings_reach_the_stack(pipeline: str) -> None:
    block = cdk_context()["sqs-blueprint"]
    key = CONFIG_KEYS[pipeline]
    stage = block["stages"]["dev"].setdefault(key, {})
    stage["alarms"] = {"to": ["oncall@yourcompany.com"]}
    stage["acceptable_latency_s"] = 240
    config = load_stage(block, "dev")
    for other in CONFIG_KEYS.values():
        alarms_config = getattr(config, other).alarms
        if other == key:
            assert alarms_config.emails == ("oncall@yourcompany.com",)
        else:  # the stage's alarms_to
            assert alarms_config.to == "none"
    template = Template.from_stack(build_pipeline(pipeline, config))
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "oncall@yourcompany.com"}
    )
    warmup = config.workers.instance_warmup_s if pipeline == "Workers" else 0
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "ApproximateAgeOfOldestMessage", "Threshold": 240 + warmup},
    )


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"age_share": 0}, "age_share=0: must be between 0 and 1 (exclusive)"),
        ({"age_share": 1.0}, "age_share=1.0: must be between 0 and 1 (exclusive)"),
        (
            {"period": Duration.seconds(30)},
            "period='30 s': must be a whole number of minutes",
        ),
        (
            {"period": Duration.seconds(90)},
            "period='90 s': must be a whole number of minutes",
        ),
        (
            {"evaluation_periods": 0},
            "evaluation_periods=0: must be at least 1, and evaluation_periods x period (300 s) "
            "at most 86400 s",
        ),
        (
            {"period": Duration.hours(1), "evaluation_periods": 25},
            "evaluation_periods=25: must be at least 1, and evaluation_periods x period (3600 s)",
        ),
        ({"alarm_emails": ["ops at example"]}, "alarm_emails='ops at example': must be one email"),
        (
            {"alarm_emails": ["a@example.com,b@example.com"]},
            "alarm_emails='a@example.com,b@example.com': must be one email",
        ),
        (
            {"dashboard_name": "my dashboard!"},
            "dashboard_name='my dashboard!': CloudWatch dashboard names are 1..255 letters",
        ),
        (
            {"dashboard_name": "ops\n"},
            "dashboard_name='ops\\n': CloudWatch dashboard names are 1..255 letters",
        ),
    ],
)
def test_bad_input(new_stack: Callable[[], Stack], props: dict[str, Any], message: str) -> None:
    stack = new_stack()
    pair = QueueWithDlq(stack, "Pair")
    with pytest.raises(InvalidPropsError) as error:
        PipelineObservability(stack, "Obs", queue=pair, **props)
    assert f"PipelineObservability 'Test/Obs': 1 invalid setting:\n  - {message}" in str(
        error.value
    )


def test_backlog_target_needs_a_group(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    with pytest.raises(InvalidPropsError) as error:
        PipelineObservability(stack, "Obs", queue=QueueWithDlq(stack, "Pair"), backlog_target=600)
    assert (
        "backlog_target=600: is drawn on the backlog-per-instance graph, which needs "
        "auto_scaling_group. Fix: pass the workers' auto_scaling_group too, or leave "
        "backlog_target unset."
    ) in str(error.value)


def test_backlog_target_must_be_positive(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    group = autoscaling.AutoScalingGroup.from_auto_scaling_group_name(stack, "Group", "workers")
    with pytest.raises(InvalidPropsError) as error:
        PipelineObservability(
            stack,
            "Obs",
            queue=QueueWithDlq(stack, "Pair"),
            auto_scaling_group=group,
            backlog_target=0,
        )
    assert "1 invalid setting:\n  - backlog_target=0: must be more than 0" in str(error.value)


def test_fifo_topic_is_refused(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    topic = sns.Topic.from_topic_arn(stack, "Fifo", "arn:aws:sns:eu-west-1:111122223333:ops.fifo")
    with pytest.raises(InvalidPropsError) as error:
        PipelineObservability(stack, "Obs", queue=QueueWithDlq(stack, "Pair"), topic=topic)
    assert (
        "topic='Test/Fifo': CloudWatch alarms publish only to standard SNS topics, not FIFO "
        "topics. Fix: pass a standard topic, or leave topic unset to create one."
    ) in str(error.value)


def test_every_problem_is_reported_at_once(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    with pytest.raises(InvalidPropsError) as error:
        PipelineObservability(
            stack,
            "Obs",
            queue=QueueWithDlq(stack, "Pair"),
            age_share=2,
            alarm_emails=["nobody"],
            period=Duration.seconds(10),
        )
    text = str(error.value)
    assert text.startswith("PipelineObservability 'Test/Obs': 3 invalid settings:")
    assert "age_share=2" in text and "alarm_emails='nobody'" in text and "period='10 s'" in text
