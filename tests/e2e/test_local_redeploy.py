"""``local deploy``: a running local cloud's stacks are updated in place from a new
synth; queues keep their messages, and what moto cannot update is said, not lost."""

from __future__ import annotations

import copy
import dataclasses
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sqs_blueprint.local import LocalCloud, read_assembly
from sqs_blueprint.local.assembly import Assembly, StackArtifact
from sqs_blueprint.local.deploy import deploy_assembly
from sqs_blueprint.local.runner import LocalRunner

pytestmark = pytest.mark.e2e


def _of_type(template: dict[str, Any], resource_type: str, prefix: str) -> str:
    [found] = [
        k
        for k, v in template["Resources"].items()
        if v["Type"] == resource_type and k.startswith(prefix)
    ]
    return found


@pytest.fixture
def first(cloud: LocalCloud, fixture_assembly: Path) -> Iterator[tuple[Assembly, StackArtifact]]:
    """The fixture stack under names of its own (stack and queues), deployed: its
    queues are mapped but not polled, and the session's fixture stack is untouched."""
    assembly = read_assembly(fixture_assembly)
    fixture = assembly.stack("RunnerFixture")
    tag = uuid.uuid4().hex[:8]
    template = json.loads(json.dumps(fixture.template).replace("runnerfixture-", f"rd{tag}-"))
    stack = dataclasses.replace(fixture, stack_name=f"redeploy-{tag}", template=template)
    ours = Assembly(assembly.directory, (stack,))
    [created] = deploy_assembly(cloud, ours, update=True)
    assert created.action == "created"
    yield ours, stack
    cloud.client("cloudformation").delete_stack(StackName=stack.stack_name)


def test_an_update_keeps_queue_contents_and_applies_the_changes(
    cloud: LocalCloud, first: tuple[Assembly, StackArtifact]
) -> None:
    assembly, stack = first
    sqs, lam = cloud.client("sqs"), cloud.client("lambda")
    outputs = next(d for d in cloud.deployed if d.name == stack.stack_name).outputs
    work = outputs["WorkQueueUrl"]
    for i in range(3):
        sqs.send_message(QueueUrl=work, MessageBody=f"kept {i}")

    template = copy.deepcopy(stack.template)
    resources = template["Resources"]
    queue = _of_type(template, "AWS::SQS::Queue", "WorkQueue")
    function = _of_type(template, "AWS::Lambda::Function", "FnA")
    mapping = _of_type(template, "AWS::Lambda::EventSourceMapping", "FnASqsEventSource")
    resources[queue]["Properties"]["VisibilityTimeout"] = 9
    resources[queue]["Properties"]["MessageRetentionPeriod"] = 7200
    resources[function]["Properties"]["Environment"]["Variables"]["ADDED"] = "1"
    resources[mapping]["Properties"]["BatchSize"] = 3
    resources["Extra"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
    second = Assembly(assembly.directory, (dataclasses.replace(stack, template=template),))

    [updated] = deploy_assembly(cloud, second, update=True)
    assert updated.action == "updated"
    assert updated.changes == {
        "Add": ("Extra",),
        "Modify": tuple(sorted([queue, function, mapping])),
        "Remove": (),
    }
    attributes = sqs.get_queue_attributes(QueueUrl=work, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "3"  # nothing lost
    assert attributes["VisibilityTimeout"] == "9"
    [kept] = [s for s in updated.skipped if s.feature == "AWS::SQS::Queue.MessageRetentionPeriod"]
    assert kept.logical_ids == (queue,)
    assert str(kept) == (
        "AWS::SQS::Queue.MessageRetentionPeriod: changed, but not applied: the local cloud "
        "updates a queue in place and keeps its messages; stop and start `local up` to "
        f"recreate it (empty) with the change ({queue})"
    )
    variables = lam.get_function_configuration(FunctionName=updated.resources[function])
    assert variables["Environment"]["Variables"]["ADDED"] == "1"
    esm = lam.get_event_source_mapping(UUID=updated.resources[mapping])
    assert esm["BatchSize"] == 3
    assert updated.resources["Extra"].startswith("https://")

    [again] = deploy_assembly(cloud, second, update=True)
    assert again.action == "unchanged"


def test_a_runner_elsewhere_finds_code_published_by_another_process(
    cloud: LocalCloud, first: tuple[Assembly, StackArtifact]
) -> None:
    elsewhere = LocalCloud.connect(cloud.endpoint_url)  # knows nothing of this process
    _, stack = first
    # The keys this stack's deploy published (other tests may register code in-process).
    keys = {key for asset in stack.assets for _, key in asset.destinations}
    published = {k: d for k, d in cloud.code_dirs.items() if k in keys}
    assert published
    for key, directory in published.items():
        assert elsewhere.code_dir(key) == directory
    assert elsewhere.code_dir("not-published.zip") is None


def test_local_deploy_reports_each_stack_in_one_line(
    cloud: LocalCloud, fixture_assembly: Path, deployed: object
) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sqs_blueprint.cli",
            "local",
            "deploy",
            "--cdk-out",
            str(fixture_assembly),
            "--endpoint-url",
            cloud.endpoint_url,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "stack runner-fixture (RunnerFixture): unchanged"
    assert done.stderr == ""


def test_local_deploy_needs_an_endpoint(fixture_assembly: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sqs_blueprint.cli",
            "local",
            "deploy",
            "--cdk-out",
            str(fixture_assembly),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 2
    assert "the following arguments are required: --endpoint-url" in done.stderr


def test_a_running_runner_follows_a_redeployed_function(
    cloud: LocalCloud, first: tuple[Assembly, StackArtifact], tmp_path: Path
) -> None:
    assembly, stack = first
    deployed = next(d for d in cloud.deployed if d.name == stack.stack_name)
    function = deployed.outputs["FnAName"]
    tag = uuid.uuid4().hex[:12]
    body = json.dumps({"tag": tag, "action": "poison"})  # fails until POISON_FIXED=1
    sqs, s3 = cloud.client("sqs"), cloud.client("s3")
    poison = sqs.send_message(QueueUrl=deployed.outputs["WorkQueueUrl"], MessageBody=body)
    with LocalRunner(cloud, functions=[function], log_dir=tmp_path, refresh_s=0.2) as runner:
        stats = runner.stats
        failed = runner.drain(
            120, until=lambda: stats().total("failures_reported") + stats().total("errors") >= 1
        )
        assert failed.drained
        template = copy.deepcopy(stack.template)
        fn = _of_type(template, "AWS::Lambda::Function", "FnA")
        template["Resources"][fn]["Properties"]["Environment"]["Variables"]["POISON_FIXED"] = "1"
        fixed = Assembly(assembly.directory, (dataclasses.replace(stack, template=template),))
        [updated] = deploy_assembly(cloud, fixed, update=True)
        assert updated.changes["Modify"] == (fn,)
        assert runner.drain(120).drained
    written = s3.list_objects_v2(Bucket=deployed.outputs["SeenBucket"], Prefix=f"{tag}/")
    keys = {o["Key"] for o in written.get("Contents", [])}
    assert f"{tag}/{poison['MessageId']}-2" in keys  # processed by the redeployed function
