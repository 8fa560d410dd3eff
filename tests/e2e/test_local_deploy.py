"""Deploying a synthesized assembly into the embedded moto server."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from sqs_blueprint.local import AssemblyError, DeployedStack, LocalCloud, read_assembly
from sqs_blueprint.local.deploy import not_applied, prepare_template

pytestmark = pytest.mark.e2e


def test_deploy_reports_outputs_and_physical_ids(deployed: DeployedStack) -> None:
    assert deployed.name == "runner-fixture"
    assert deployed.outputs["WorkQueueArn"].startswith("arn:aws:sqs:us-east-1:123456789012:")
    assert deployed.outputs["WorkQueueUrl"].endswith(
        deployed.outputs["WorkQueueArn"].split(":")[-1]
    )
    functions = deployed.physical_ids("AWS::Lambda::Function")
    assert sorted(functions) == sorted([deployed.outputs["FnAName"], deployed.outputs["FnBName"]])
    assert len(deployed.physical_ids("AWS::Lambda::EventSourceMapping")) == 3
    assert len(deployed.physical_ids("AWS::SQS::Queue")) == 6


def test_deploy_says_what_moto_skipped(deployed: DeployedStack) -> None:
    effects = {s.feature: s.effect for s in deployed.skipped}
    # Queue policies and roles are applied by the local cloud's IAM check, not by moto.
    assert "AWS::SQS::QueuePolicy" not in effects and "AWS::IAM::Role" not in effects
    assert "not enforced" in effects["AWS::SQS::Queue.RedriveAllowPolicy"]
    dlqs = next(s for s in deployed.skipped if s.feature == "AWS::SQS::Queue.RedriveAllowPolicy")
    assert len(dlqs.logical_ids) == 3


def test_skipped_features_come_from_the_template() -> None:
    template = {
        "Resources": {
            "Bucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {"LifecycleConfiguration": {}, "PublicAccessBlockConfiguration": {}},
            },
            "Table": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {"TimeToLiveSpecification": {"Enabled": True}},
            },
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
        }
    }
    features = {s.feature for s in not_applied(template)}
    assert features == {
        "AWS::S3::Bucket.LifecycleConfiguration",
        "AWS::S3::Bucket.PublicAccessBlockConfiguration",
        "AWS::DynamoDB::Table.TimeToLiveSpecification",
    }
    missing = not_applied(template, created={"Bucket", "Table"})
    assert [str(s) for s in missing if s.feature == "AWS::SQS::Queue"] == [
        "AWS::SQS::Queue: not created by moto's CloudFormation (Queue)"
    ]


def test_bootstrap_version_check_is_removed(fixture_assembly: Path) -> None:
    template = read_assembly(fixture_assembly).stack("RunnerFixture").template
    assert "BootstrapVersion" in template["Parameters"]
    assert "CheckBootstrapVersion" in template["Rules"]
    prepared = prepare_template(template)
    assert "BootstrapVersion" not in prepared.get("Parameters", {})
    assert "Rules" not in prepared
    assert prepared["Resources"] == template["Resources"]
    assert "BootstrapVersion" in template["Parameters"]  # the original is untouched


def test_function_code_is_published_zipped_to_the_bootstrap_bucket(
    cloud: LocalCloud, deployed: DeployedStack, fixture_assembly: Path
) -> None:
    bucket = "cdk-hnb659fds-assets-123456789012-us-east-1"
    s3 = cloud.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    # The fixture's two functions; other tests may have published more into this cloud.
    ours = {
        key
        for asset in read_assembly(fixture_assembly).stack("RunnerFixture").assets
        for _, key in asset.destinations
    }
    zips = [k for k in keys if k.endswith(".zip") and k in ours]
    assert len(zips) == 2
    for key in zips:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert "handler.py" in zipfile.ZipFile(io.BytesIO(body)).namelist()
        assert (cloud.code_dirs[key] / "handler.py").is_file()
    assert any(
        k.endswith(".json")
        and json.loads(s3.get_object(Bucket=bucket, Key=k)["Body"].read()).get("Resources")
        for k in keys
    )


def test_a_missing_assembly_says_to_synthesize(tmp_path: Path) -> None:
    with pytest.raises(AssemblyError, match=r"no manifest\.json.*make synth"):
        read_assembly(tmp_path)


def test_custom_resources_are_dropped_and_kms_tags_reshaped_for_moto() -> None:
    template = {
        "Resources": {
            "Restrict": {"Type": "Custom::VpcRestrictDefaultSG", "Properties": {}},
            "Key": {"Type": "AWS::KMS::Key", "Properties": {"Tags": [{"Key": "a", "Value": "b"}]}},
            "Queue": {"Type": "AWS::SQS::Queue", "DependsOn": ["Restrict", "Key"]},
        }
    }
    prepared = prepare_template(template)
    assert set(prepared["Resources"]) == {"Key", "Queue"}
    assert prepared["Resources"]["Queue"]["DependsOn"] == ["Key"]
    assert prepared["Resources"]["Key"]["Properties"]["Tags"] == [{"TagKey": "a", "TagValue": "b"}]
    [custom] = [s for s in not_applied(template) if s.feature.startswith("Custom::")]
    assert custom.effect == "custom resource not run locally"
