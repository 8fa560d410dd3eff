"""The write buffer fed by an SNS topic, an EventBridge rule and an S3 bucket in the
local cloud: each record published, put or uploaded lands in the table exactly once,
and what a topic's filter policy refuses never arrives."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from app import build_app
from sqs_blueprint.local import LocalCloud
from sqs_blueprint.local.assembly import Assembly, read_assembly
from sqs_blueprint.local.deploy import DeployedStack, deploy_assembly
from sqs_blueprint.local.runner import LocalRunner
from sqs_blueprint.upsert import item_key
from tests.infra.conftest import cdk_context

pytestmark = pytest.mark.e2e

SOURCE = "e2e.shop"
INPUTS = [
    {"topic": {"filter": {"kind": ["order"]}}},
    {"rule": {"pattern": {"source": [SOURCE]}}},
    {"bucket": {"prefix": "in/"}},
]


@dataclass
class Fed:
    cloud: LocalCloud
    stack: DeployedStack
    runner: LocalRunner

    def out(self, key: str) -> str:
        return self.stack.outputs[key]

    def keys(self) -> set[str]:
        pages = (
            self.cloud.client("dynamodb")
            .get_paginator("scan")
            .paginate(TableName=self.out("TableName"), ProjectionExpression="pk")
        )
        return {item["pk"]["S"] for page in pages for item in page["Items"]}

    def wait_for(self, expected: set[str]) -> set[str]:
        """The keys written since ``before``, once ``expected`` are all there and the
        queue is empty."""
        stats = self.runner.drain(90, until=lambda: expected <= self.keys())
        assert stats.drained, f"not all written after 90 s: {stats}"
        assert self.runner.drain(30).drained
        return self.keys()


@pytest.fixture(scope="module")
def fed(cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fed]:
    outdir = tmp_path_factory.mktemp("inputs.out")
    context = cdk_context("local")
    context["sqs-blueprint"]["stages"]["local"]["write_buffer"]["inputs"] = INPUTS
    app, _ = build_app(context, outdir=str(outdir))
    app.synth()
    assembly = read_assembly(outdir)
    # Under names of its own (stack, queues, buckets), so the local stage's write buffer
    # that other tests deploy into the same local cloud is another stack.
    shipped = assembly.stack("WriteBuffer")
    tag = f"inputs{uuid.uuid4().hex[:6]}"
    text = json.dumps(shipped.template)
    for prefix in ("sqs-blueprint-local-write-buffer", "sqsblueprintlocalwritebuffer"):
        text = text.replace(prefix, f"{tag}-{prefix[:12]}")
    ours = dataclasses.replace(shipped, stack_name=f"{tag}-write-buffer", template=json.loads(text))
    (stack,) = deploy_assembly(cloud, Assembly(assembly.directory, (ours,)))
    logs = tmp_path_factory.mktemp("inputs-logs")
    try:
        with LocalRunner(cloud, log_dir=logs, functions=[stack.outputs["FunctionName"]]) as runner:
            yield Fed(cloud, stack, runner)
    finally:
        cloud.client("cloudformation").delete_stack(StackName=ours.stack_name)


def test_the_deploy_says_what_it_does_not_emulate(fed: Fed) -> None:
    features = {s.feature: s.effect for s in fed.stack.skipped}
    assert "AWS::SNS::Subscription" not in features  # created by the local deploy
    assert "redrives" in features["AWS::SNS::Subscription.RedrivePolicy"]
    assert "retries" in features["AWS::Events::Rule.Targets.RetryPolicy"]
    assert "AWS::Events::Rule.Targets.InputPath" not in features  # none configured here
    assert "AWS::S3::Bucket.NotificationConfiguration" in features


def test_published_records_arrive_once_and_filtered_ones_never(fed: Fed) -> None:
    tag = uuid.uuid4().hex[:8]
    sns = fed.cloud.client("sns")
    wanted = [{"tag": tag, "via": "topic", "n": i} for i in range(5)]
    unwanted = [{"tag": tag, "via": "topic", "n": "refused"}]
    before = fed.keys()
    for body, kind in [*((b, "order") for b in wanted), *((b, "other") for b in unwanted)]:
        sns.publish(
            TopicArn=fed.out("Input0TopicArn"),
            Message=json.dumps(body),
            MessageAttributes={"kind": {"DataType": "String", "StringValue": kind}},
        )
    expected = {item_key(b) for b in wanted}
    assert fed.wait_for(expected) - before == expected


def test_events_put_on_the_bus_arrive_once(fed: Fed) -> None:
    tag = uuid.uuid4().hex[:8]
    before = fed.keys()
    entries = [
        {"Source": SOURCE, "DetailType": "order", "Detail": json.dumps({"tag": tag, "n": i})}
        for i in range(4)
    ]
    other = {"Source": "elsewhere", "DetailType": "order", "Detail": json.dumps({"tag": tag})}
    response = fed.cloud.client("events").put_events(Entries=[*entries, other])
    assert response["FailedEntryCount"] == 0
    ddb = fed.cloud.client("dynamodb")

    def arrived() -> list[dict[str, Any]]:
        items = ddb.scan(TableName=fed.out("TableName"))["Items"]
        return [i for i in items if tag in json.dumps(i) and i["pk"]["S"] not in before]

    fed.runner.drain(90, until=lambda: len(arrived()) >= 4)
    assert fed.runner.drain(30).drained
    got = arrived()
    assert len(got) == 4
    assert {i["source"]["S"] for i in got} == {SOURCE}


def test_objects_created_in_the_bucket_arrive_once(fed: Fed) -> None:
    tag = uuid.uuid4().hex[:8]
    s3 = fed.cloud.client("s3")
    bodies = [{"tag": tag, "via": "bucket", "n": i} for i in range(3)]
    before = fed.keys()
    for i, body in enumerate(bodies):
        s3.put_object(
            Bucket=fed.out("Input2BucketName"), Key=f"in/{tag} {i}.json", Body=json.dumps(body)
        )
    s3.put_object(
        Bucket=fed.out("Input2BucketName"), Key=f"out/{tag}.json", Body=json.dumps({"tag": tag})
    )
    expected = {item_key(b) for b in bodies}
    assert fed.wait_for(expected) - before == expected
