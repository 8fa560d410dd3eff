"""Template assertions for the consumer, write-buffer and payload-bucket patterns."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk.assertions import Annotations, Capture, Match, Template

from sqs_blueprint import capacity
from sqs_blueprint.write_buffer import WriteBufferSettings
from sqs_blueprint_cdk import (
    DynamoWriteBuffer,
    InvalidPropsError,
    LargePayloadBucket,
    QueueWithDlq,
    SqsLambdaConsumer,
)
from sqs_blueprint_cdk.bundling import HANDLERS_DIR, _CopyBundler, function_code
from stacks.config import load_stage
from tests.infra.conftest import cdk_context


def dev() -> Any:
    return load_stage(cdk_context()["sqs-blueprint"], "dev")


def only(template: Template, type_: str) -> dict[str, Any]:
    (props,) = [r["Properties"] for r in template.find_resources(type_).values()]
    result: dict[str, Any] = props
    return result


def policy_statements(template: Template) -> list[dict[str, Any]]:
    return [
        s
        for p in template.find_resources("AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_mapping_uses_the_derived_plan(synthesized: Any) -> None:
    table = dev().write_buffer.table
    plan = capacity.plan_write_buffer(
        wcu=table.write_capacity,
        item_kb=table.item_kb,
        function_timeout_s=table.function_timeout_s,
        batch_size=table.batch_size,
        batching_window_s=table.batching_window_s,
    )
    template = synthesized.templates["WriteBuffer"]
    mapping = only(template, "AWS::Lambda::EventSourceMapping")
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == plan.batch_size == 100
    assert mapping["MaximumBatchingWindowInSeconds"] == 1
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": plan.max_concurrency}
    assert mapping["EventSourceArn"]["Fn::GetAtt"][0].startswith("IngestQueue")
    env = only(template, "AWS::Lambda::Function")["Environment"]["Variables"]
    assert float(env["WCU_PER_SECOND"]) == pytest.approx(plan.budget_wcu_per_s)
    assert plan.max_concurrency * float(env["WCU_PER_SECOND"]) <= table.write_capacity
    assert env["TABLE_NAME"]["Ref"].startswith("BufferTable")
    assert env["PAYLOAD_BUCKET"]["Ref"].startswith("PayloadsBucket")
    assert env["WRITE_DEADLINE_S"] == "24"
    # 5 WCU/s for 24 s less the pacer's first second is 115 WCU: 100 items of 1 KB at most.
    assert env["MAX_ITEM_KB"] == "1"
    assert "VERSION_FIELD" not in env


def test_visibility_is_six_times_the_timeout(synthesized: Any) -> None:
    for name in ("WriteBuffer", "Ordered"):
        template = synthesized.templates[name]
        timeout = only(template, "AWS::Lambda::Function")["Timeout"]
        queues = template.find_resources("AWS::SQS::Queue")
        source = next(
            q["Properties"] for q in queues.values() if "RedrivePolicy" in q["Properties"]
        )
        window = only(template, "AWS::Lambda::EventSourceMapping").get(
            "MaximumBatchingWindowInSeconds", 0
        )
        assert source["VisibilityTimeout"] == 6 * timeout + window


def test_function_runtime_layer_logs_and_architecture(synthesized: Any) -> None:
    template = synthesized.templates["WriteBuffer"]
    fn = only(template, "AWS::Lambda::Function")
    assert fn["Runtime"] == "python3.14"
    assert fn["Architectures"] == ["arm64"]
    assert fn["Handler"] == "handler.lambda_handler"
    # dev follows the CLI's region: the layers come from mappings (test_powertools.py,
    # and test_tracing_templates.py for the ADOT layer of dev's tracing)
    assert sorted(fn["Layers"], key=str) == [
        {"Fn::FindInMap": ["AdotLayers", {"Ref": "AWS::Region"}, "arn"]},
        {"Fn::FindInMap": ["PowertoolsLayers", {"Ref": "AWS::Region"}, "arm64"]},
    ]
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})
    assert fn["LoggingConfig"]["LogGroup"]["Ref"].startswith("BufferConsumerLogs")


def test_write_buffer_iam_is_exactly_what_it_needs(synthesized: Any) -> None:
    statements = policy_statements(synthesized.templates["WriteBuffer"])
    by_action = {
        tuple(sorted(s["Action"])) if isinstance(s["Action"], list) else (s["Action"],): s
        for s in statements
    }
    assert set(by_action) == {
        ("dynamodb:BatchWriteItem",),
        (
            "sqs:ChangeMessageVisibility",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:GetQueueUrl",
            "sqs:ReceiveMessage",
        ),
        ("logs:CreateLogStream", "logs:PutLogEvents"),
        ("s3:GetObject",),
        ("s3:ListBucket",),  # a missing payload is a 404, not a 403
        ("xray:PutTelemetryRecords", "xray:PutTraceSegments"),  # active tracing
    }
    dynamo = by_action[("dynamodb:BatchWriteItem",)]["Resource"]
    assert dynamo["Fn::GetAtt"][0].startswith("BufferTable")
    sqs = by_action[
        (
            "sqs:ChangeMessageVisibility",
            *sorted(
                [
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    "sqs:GetQueueUrl",
                    "sqs:ReceiveMessage",
                ]
            ),
        )
    ]
    assert sqs["Resource"]["Fn::GetAtt"][0].startswith("IngestQueue")
    logs = by_action[("logs:CreateLogStream", "logs:PutLogEvents")]["Resource"]
    assert logs["Fn::GetAtt"][0].startswith("BufferConsumerLogs")
    s3 = by_action[("s3:GetObject",)]["Resource"]["Fn::Join"][1]
    assert s3[0]["Fn::GetAtt"][0].startswith("PayloadsBucket") and s3[1] == "/*"
    listing = by_action[("s3:ListBucket",)]["Resource"]
    assert (
        listing["Fn::GetAtt"][0].startswith("PayloadsBucket") and listing["Fn::GetAtt"][1] == "Arn"
    )


def test_ordered_writes_versioned_with_put_item(synthesized: Any) -> None:
    template = synthesized.templates["Ordered"]
    env = only(template, "AWS::Lambda::Function")["Environment"]["Variables"]
    assert env["VERSION_FIELD"] == "version"
    assert env["KEY_FIELDS"] == '["account"]'
    actions = [s["Action"] for s in policy_statements(template)]
    assert "dynamodb:PutItem" in actions and "dynamodb:BatchWriteItem" not in actions
    mapping = only(template, "AWS::Lambda::EventSourceMapping")
    assert "MaximumBatchingWindowInSeconds" not in mapping
    assert mapping["BatchSize"] <= 10


def test_table_is_provisioned_with_pitr_and_encryption(synthesized: Any) -> None:
    synthesized.templates["WriteBuffer"].has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 10},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
        },
    )


def test_payload_bucket_outlives_every_message(synthesized: Any) -> None:
    template = synthesized.templates["WriteBuffer"]
    bucket = only(template, "AWS::S3::Bucket")
    (rule,) = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == 4 + 14 + 1
    assert rule["Status"] == "Enabled"
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_bundle_carries_the_handler_and_the_library_without_local_parts(tmp_path: Path) -> None:
    bundler = _CopyBundler(HANDLERS_DIR / "write_buffer")
    assert bundler.try_bundle(str(tmp_path))
    names = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert "handler.py" in names
    assert {
        "sqs_blueprint/upsert.py",
        "sqs_blueprint/records.py",
        "sqs_blueprint/payload.py",
    } <= names
    assert not any(
        n.startswith(("sqs_blueprint/local/", "sqs_blueprint/cli/"))
        or n == "sqs_blueprint/console.py"
        for n in names
    )
    assert not any("__pycache__" in n for n in names)


def test_assets_are_hashed_on_their_output(synthesized: Any) -> None:
    code = only(synthesized.templates["WriteBuffer"], "AWS::Lambda::Function")["Code"]
    key = code["S3Key"]
    assert key.endswith(".zip")
    asset_dir = synthesized.outdir / f"asset.{key.removesuffix('.zip')}"
    assert (asset_dir / "sqs_blueprint" / "write_buffer.py").is_file()


def test_unknown_handler_is_refused(tmp_path: Path) -> None:
    with pytest.raises(
        FileNotFoundError,
        match=r"^no shipped Lambda handler 'nope' \(shipped: ordered, responder, write_buffer\); "
        r"pass the folder of your own handler\.py as a Path$",
    ):
        function_code("nope")
    with pytest.raises(FileNotFoundError, match=rf"^no Lambda handler at {tmp_path}/handler\.py$"):
        function_code(tmp_path)


# ------------------------------------------------------------------ bad input


def consumer(stack: Stack, pair: QueueWithDlq | None = None, **props: Any) -> SqsLambdaConsumer:
    settings: dict[str, Any] = {
        "handler": "write_buffer",
        "function_timeout": Duration.seconds(30),
        "max_concurrency": 2,
        **props,
    }
    return SqsLambdaConsumer(
        stack, "Consumer", queue=pair or QueueWithDlq(stack, "Pair"), **settings
    )


@pytest.mark.parametrize(
    ("fifo", "props", "message"),
    [
        (
            False,
            {"batch_size": 11},
            "batch_size=11: a batch of more than 10 records needs a batching window of at "
            "least 1 s",
        ),
        (False, {"batch_size": 0}, "batch_size=0: must be 1..10000"),
        (
            False,
            {"batch_size": 20, "max_batching_window": Duration.seconds(301)},
            "max_batching_window='301 s': must be 0..300 s",
        ),
        (
            True,
            {"batch_size": 11},
            "batch_size=11: a FIFO queue delivers at most 10 records per batch",
        ),
        (
            True,
            {"max_batching_window": Duration.seconds(1)},
            "max_batching_window='1 s': FIFO event-source mappings take no batching window",
        ),
        (False, {"max_concurrency": 1}, "max_concurrency=1: must be 2..1000"),
        (False, {"max_concurrency": 1001}, "max_concurrency=1001: must be 2..1000"),
        (
            False,
            {"function_timeout": Duration.seconds(901)},
            "function_timeout='901 s': must be 1..900 s",
        ),
    ],
)
def test_consumer_bad_input(
    new_stack: Callable[[], Stack], fifo: bool, props: dict[str, Any], message: str
) -> None:
    stack = new_stack()
    with pytest.raises(InvalidPropsError) as error:
        consumer(stack, QueueWithDlq(stack, "Pair", fifo=fifo), **props)
    assert f"SqsLambdaConsumer 'Test/Consumer': 1 invalid setting:\n  - {message}" in str(
        error.value
    )


def test_consumer_sets_visibility_with_window(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    consumer(stack, batch_size=100, max_batching_window=Duration.seconds(10))
    Template.from_stack(stack).has_resource_properties(
        "AWS::SQS::Queue", {"VisibilityTimeout": 190, "RedrivePolicy": Match.any_value()}
    )


def test_consumer_refuses_a_given_short_visibility(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    pair = QueueWithDlq(stack, "Pair", visibility_timeout=Duration.seconds(60))
    with pytest.raises(InvalidPropsError) as error:
        consumer(stack, pair)
    text = str(error.value)
    assert "visibility_timeout='60 s': 6 x function timeout (30 s) + batching window (0 s)" in text
    assert "= 180 s" in text and "allow_short_visibility=True" in text


def test_short_visibility_can_be_allowed_with_a_warning(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    pair = QueueWithDlq(stack, "Pair", visibility_timeout=Duration.seconds(60))
    consumer(stack, pair, allow_short_visibility=True)
    Annotations.from_stack(stack).has_warning(
        "*", Match.string_like_regexp("visibility_timeout is 60 s")
    )
    Template.from_stack(stack).has_resource_properties("AWS::SQS::Queue", {"VisibilityTimeout": 60})


def buffer(stack: Stack, pair: QueueWithDlq | None = None, **props: Any) -> DynamoWriteBuffer:
    settings: dict[str, Any] = {"write_capacity": 10, **props}
    return DynamoWriteBuffer(stack, "Buffer", queue=pair or QueueWithDlq(stack, "Pair"), **settings)


@pytest.mark.parametrize(
    ("fifo", "props", "message"),
    [
        (True, {}, "handler='write_buffer': the batched write buffer does not keep FIFO order"),
        (
            True,
            {"handler": "ordered"},
            "version_field=None: the ordered consumer upserts in versioned mode",
        ),
        (
            True,
            {"handler": "ordered", "version_field": "version"},
            "key_fields=[]: versioned mode keeps the newest version of each entity",
        ),
        (
            True,
            {"handler": "ordered", "version_field": "v", "key_fields": ["account", "v"]},
            "key_fields=['account', 'v']: versioned mode",
        ),
        (False, {"read_capacity": 0}, "read_capacity=0: a provisioned table needs at least 1 RCU"),
        (
            False,
            {"key_fields": ["pk"]},
            "key_fields=['pk']: each names a top-level body field: not empty, without "
            "surrounding spaces, and not 'pk', the table's partition key, which a body may not "
            "carry (every record would be refused). Fix: name the body fields, e.g. "
            "['order_id'], and rename a body field called 'pk'.",
        ),
        (False, {"key_fields": [""]}, "key_fields=['']: each names a top-level body field"),
        (
            True,
            {"handler": "ordered", "version_field": "pk", "key_fields": ["account"]},
            "version_field='pk': each names a top-level body field",
        ),
        (
            False,
            {"write_capacity": 0},
            "capacity plan: wcu must be a whole number of at least 1, got 0",
        ),
        (False, {"item_kb": 500}, "capacity plan: item_kb must be at most 400"),
        (
            False,
            {"write_capacity": 1, "item_kb": 400, "function_timeout": Duration.seconds(10)},
            "capacity plan: table too small",
        ),
    ],
)
def test_write_buffer_bad_input(
    new_stack: Callable[[], Stack], fifo: bool, props: dict[str, Any], message: str
) -> None:
    stack = new_stack()
    with pytest.raises(InvalidPropsError) as error:
        buffer(stack, QueueWithDlq(stack, "Pair", fifo=fifo), **props)
    assert message in str(error.value)


def test_a_key_field_holding_a_comma_reaches_the_function_whole(
    new_stack: Callable[[], Stack],
) -> None:
    built = buffer(new_stack(), key_fields=["city,country"])
    assert built.settings.to_env()["KEY_FIELDS"] == '["city,country"]'
    assert WriteBufferSettings.from_env(built.settings.to_env()).key_fields == ("city,country",)


def test_payload_bucket_bad_input(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    pair = QueueWithDlq(stack, "Pair", retention_period=Duration.days(7))
    with pytest.raises(InvalidPropsError) as error:
        LargePayloadBucket(stack, "Short", queues=[pair], expiry=Duration.days(10))
    assert (
        "expiry='10 days': must be at least source retention + DLQ retention + 1 day(s) = 22 days"
        in str(error.value)
    )
    with pytest.raises(InvalidPropsError, match="queues='\\[\\]'"):
        LargePayloadBucket(stack, "None", queues=[])


def test_payload_bucket_grants_put_to_producers(new_stack: Callable[[], Stack]) -> None:
    from aws_cdk import aws_iam as iam

    stack = new_stack()
    bucket = LargePayloadBucket(stack, "Payloads", queues=[QueueWithDlq(stack, "Pair")])
    role = iam.Role(stack, "Producer", assumed_by=iam.AccountRootPrincipal())
    bucket.grant_write(role)
    statements = Capture()
    Template.from_stack(stack).has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {"Statement": statements},
            "Roles": [{"Ref": Match.string_like_regexp("^Producer")}],
        },
    )
    assert [s["Action"] for s in statements.as_array()] == ["s3:PutObject"]
