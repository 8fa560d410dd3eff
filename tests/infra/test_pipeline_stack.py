"""PipelineStack: a user's own handler behind a queue pair, synthesized with cdk-nag on."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Capture, Match, Template

from app import build_app
from sqs_blueprint_cdk import InvalidPropsError
from stacks.config import OwnTableConfig, PipelineConfig
from stacks.pipeline_stack import PipelineStack
from tests.infra.own_pipeline import BLOCK, HANDLER, context_with, own_handler
from tests.infra.test_review_gates import CFN_LINT

NAME, BARE = "own-stack-test", "own-bare-test"


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The dev stage with the walkthrough's pipeline and a FIFO one without a table."""
    outdir = tmp_path_factory.mktemp("own.out")
    with own_handler(NAME), own_handler(BARE, HANDLER.replace("orders", "bare")):
        pipelines = {NAME: BLOCK, BARE: {"fifo": True, "batch_size": 5}}
        app, stacks = build_app(context_with("dev", pipelines), outdir=str(outdir))
        assembly = app.synth()  # cdk-nag errors would fail here
    by_id = {s.node.id: s for s in stacks}
    raw = {n: assembly.get_stack_artifact(s.artifact_id).template for n, s in by_id.items()}
    yield {"outdir": outdir, "stacks": by_id, "raw": raw}


def template(synthesized: dict[str, Any], name: str = NAME) -> Template:
    return Template.from_json(synthesized["raw"][name])


def test_one_stack_per_pipeline_named_after_the_stage(synthesized: dict[str, Any]) -> None:
    names = {n: s.stack_name for n, s in synthesized["stacks"].items()}
    assert names[NAME] == f"sqs-blueprint-dev-{NAME}"
    assert names[BARE] == f"sqs-blueprint-dev-{BARE}"
    assert len(names) == 6  # the four shipped stacks are still there


def test_the_queue_pair_follows_the_block(synthesized: dict[str, Any]) -> None:
    t = template(synthesized)
    t.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "VisibilityTimeout": 60,  # 6 x the 10 s function timeout
            "RedrivePolicy": {"maxReceiveCount": 3, "deadLetterTargetArn": Match.any_value()},
        },
    )
    t.resource_count_is("AWS::SQS::Queue", 2)


def test_the_mapping_has_the_consumer_settings(synthesized: dict[str, Any]) -> None:
    template(synthesized).has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "BatchSize": 10,
            "ScalingConfig": {"MaximumConcurrency": 2},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )


def test_the_handler_learns_the_table_and_its_share_of_the_capacity(
    synthesized: dict[str, Any],
) -> None:
    t = template(synthesized)
    table = Capture()
    t.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "handler.lambda_handler",
            "Timeout": 10,
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "TABLE_NAME": {"Ref": table},
                        "KEY_FIELDS": '["order_id"]',
                        "WCU_PER_SECOND": "10",  # 20 WCU shared by 2 invocations
                        "WRITE_DEADLINE_S": "8",  # within the 10 s timeout
                    }
                )
            },
        },
    )
    resources = synthesized["raw"][NAME]["Resources"]
    assert resources[table.as_string()]["Type"] == "AWS::DynamoDB::Table"
    t.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 20},
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "SSESpecification": {"SSEEnabled": True},
        },
    )


def test_the_function_may_write_its_table(synthesized: dict[str, Any]) -> None:
    resources = synthesized["raw"][NAME]["Resources"]
    [table] = [key for key, r in resources.items() if r["Type"] == "AWS::DynamoDB::Table"]
    statements = [
        statement
        for resource in resources.values()
        if resource["Type"] == "AWS::IAM::Policy"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]
    writes = [s for s in statements if "dynamodb:BatchWriteItem" in s["Action"]]
    assert len(writes) == 1
    assert writes[0]["Action"] == "dynamodb:BatchWriteItem"  # what the idiom calls, alone
    assert writes[0]["Resource"] == {"Fn::GetAtt": [table, "Arn"]}


def test_the_users_folder_is_bundled_with_the_runtime_library(
    synthesized: dict[str, Any],
) -> None:
    [function] = [
        r
        for r in synthesized["raw"][NAME]["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    ]
    key = function["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    asset = Path(synthesized["outdir"]) / f"asset.{key}"
    assert (asset / "handler.py").read_text() == HANDLER
    assert (asset / "sqs_blueprint" / "write_buffer.py").is_file()
    assert not (asset / "sqs_blueprint" / "local").exists()


def test_outputs_alarms_and_dashboard_as_the_shipped_pipelines(
    synthesized: dict[str, Any],
) -> None:
    outputs = synthesized["raw"][NAME]["Outputs"]
    assert set(outputs) >= {
        "QueueUrl",
        "QueueArn",
        "DeadLetterQueueUrl",
        "DeadLetterQueueArn",
        "TableName",
        "FunctionName",
        "AlarmTopicArn",
        "DashboardName",
    }
    t = template(synthesized)
    t.has_resource_properties(
        "AWS::CloudWatch::Dashboard", {"DashboardName": f"sqs-blueprint-dev-{NAME}"}
    )
    assert len(t.find_resources("AWS::CloudWatch::Alarm")) >= 3


def test_a_fifo_pipeline_without_a_table(synthesized: dict[str, Any]) -> None:
    t = template(synthesized, BARE)
    t.has_resource_properties(
        "AWS::SQS::Queue", {"FifoQueue": True, "RedrivePolicy": Match.any_value()}
    )
    t.resource_count_is("AWS::DynamoDB::Table", 0)
    [function] = t.find_resources("AWS::Lambda::Function").values()
    assert "TABLE_NAME" not in function["Properties"]["Environment"]["Variables"]
    assert "TableName" not in synthesized["raw"][BARE]["Outputs"]
    t.has_resource_properties("AWS::Lambda::EventSourceMapping", {"BatchSize": 5})


def test_the_templates_are_cfn_lint_clean(synthesized: dict[str, Any]) -> None:
    outdir = Path(synthesized["outdir"])
    paths = [str(outdir / f"{name}.template.json") for name in (NAME, BARE)]
    result = subprocess.run(
        [*CFN_LINT, "--format", "parseable", *paths], capture_output=True, text=True, check=False
    )
    assert result.returncode in (0, 8), result.stdout + result.stderr


def test_consumer_settings_are_checked_by_the_consumer_construct() -> None:
    app = App(context={"aws:cdk:bundling-stacks": []})
    with own_handler(NAME), pytest.raises(InvalidPropsError) as error:
        config = PipelineConfig(batch_size=20, max_concurrency=0, table=OwnTableConfig())
        PipelineStack(app, NAME, name=NAME, config=config)
    assert str(error.value) == (
        f"SqsLambdaConsumer '{NAME}/Consumer': 2 invalid settings:\n"
        "  - batch_size=20: a batch of more than 10 records needs a batching window of at "
        "least 1 s. Fix: set max_batching_window=Duration.seconds(1) or more, or "
        "batch_size <= 10.\n"
        "  - max_concurrency=0: must be 2..1000 (ScalingConfig.MaximumConcurrency). "
        "Fix: bound every consumer: choose a value in range."
    )
