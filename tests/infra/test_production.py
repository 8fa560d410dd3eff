"""What a first deploy of prod needs, read from the synthesized templates: where the
stacks go, who hears the alarms, what survives a delete, and the review gates."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from app import build_app
from tests.infra.conftest import PROD_TARGET, Synthesized, cdk_context

OWN_STACKS = ("WriteBuffer", "Ordered", "RequestResponse")


def test_prod_deploys_to_its_named_account_and_region(synthesized_prod: Synthesized) -> None:
    for stack in synthesized_prod.stacks.values():
        assert (stack.account, stack.region) == (PROD_TARGET["account"], "eu-west-1")


def test_dev_follows_the_cli_account_and_region(synthesized: Synthesized) -> None:
    for stack in synthesized.stacks.values():
        assert stack.account.startswith("${Token[AWS.AccountId")
        assert stack.region.startswith("${Token[AWS.Region")


# ------------------------------------------------------------------ alarms


def test_every_prod_pipeline_mails_its_alarms(synthesized_prod: Synthesized) -> None:
    for name, template in synthesized_prod.templates.items():
        topic = Match.object_like({"Ref": Match.string_like_regexp("^ObservabilityTopic")})
        template.has_resource_properties(
            "AWS::SNS::Subscription",
            {"Protocol": "email", "Endpoint": "oncall@yourcompany.com", "TopicArn": topic},
        )
        alarms = template.find_resources("AWS::CloudWatch::Alarm")
        assert alarms, name
        for alarm in alarms.values():
            assert alarm["Properties"]["AlarmActions"] == [topic_ref(template)], name


def topic_ref(template: Template) -> dict[str, str]:
    (topic_id,) = template.find_resources("AWS::SNS::Topic")
    return {"Ref": topic_id}


def test_dev_says_none_and_subscribes_nobody(synthesized: Synthesized) -> None:
    for template in synthesized.templates.values():
        template.resource_count_is("AWS::SNS::Subscription", 0)
        template.resource_count_is("AWS::SNS::Topic", 1)


def test_an_existing_topic_receives_the_alarms_directly(tmp_path: Any) -> None:
    arn = "arn:aws:sns:eu-west-1:123456789012:ops-alarms"
    _, stacks = build_app(
        cdk_context("prod", account=PROD_TARGET["account"], alarms_to=arn), outdir=str(tmp_path)
    )
    (stack,) = [s for s in stacks if s.node.id == "RequestResponse"]
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SNS::Topic", 0)
    template.resource_count_is("AWS::SNS::Subscription", 0)
    template.all_resources_properties("AWS::CloudWatch::Alarm", {"AlarmActions": [arn]})
    template.has_output("AlarmTopicArn", {"Value": arn})


# ------------------------------------------------------- least privilege, bounds


@pytest.mark.parametrize("fixture", ["synthesized", "synthesized_prod"])
def test_every_event_source_mapping_is_bounded(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    synthesized: Synthesized = request.getfixturevalue(fixture)
    for name in OWN_STACKS:
        template = synthesized.templates[name]
        template.resource_count_is("AWS::Lambda::EventSourceMapping", 1)
        template.all_resources_properties(
            "AWS::Lambda::EventSourceMapping",
            {"ScalingConfig": {"MaximumConcurrency": Match.any_value()}},
        )


@pytest.mark.parametrize("name", ["WriteBuffer", "Workers"])
def test_payload_readers_may_list_the_bucket(synthesized: Synthesized, name: str) -> None:
    template = synthesized.templates[name]
    (bucket_id,) = template.find_resources("AWS::S3::Bucket")
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Action": "s3:ListBucket",
                            "Effect": "Allow",
                            "Resource": {"Fn::GetAtt": [bucket_id, "Arn"]},
                        }
                    ]
                )
            }
        },
    )


# ----------------------------------------------------------- data protection


def test_prod_tables_refuse_deletion_and_are_retained(synthesized_prod: Synthesized) -> None:
    for name in ("WriteBuffer", "Ordered", "Workers"):
        template = synthesized_prod.templates[name]
        template.all_resources(
            "AWS::DynamoDB::Table",
            {
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
                "Properties": Match.object_like({"DeletionProtectionEnabled": True}),
            },
        )


def test_dev_tables_are_retained_without_deletion_protection(synthesized: Synthesized) -> None:
    for name in ("WriteBuffer", "Ordered", "Workers"):
        template = synthesized.templates[name]
        template.all_resources(
            "AWS::DynamoDB::Table",
            {
                "DeletionPolicy": "Retain",
                "Properties": Match.object_like({"DeletionProtectionEnabled": Match.absent()}),
            },
        )


@pytest.mark.parametrize(
    ("fixture", "policy", "days"),
    [("synthesized_prod", "Retain", 30), ("synthesized", "Delete", 7)],
)
def test_kms_keys_fit_the_stage(
    fixture: str, policy: str, days: int, request: pytest.FixtureRequest
) -> None:
    synthesized: Synthesized = request.getfixturevalue(fixture)
    for template in synthesized.templates.values():
        keys = template.find_resources("AWS::KMS::Key")
        assert keys
        for key in keys.values():
            assert key["DeletionPolicy"] == key["UpdateReplacePolicy"] == policy
            assert key["Properties"]["PendingWindowInDays"] == days
            assert key["Properties"]["EnableKeyRotation"] is True


def test_prod_payloads_use_the_queues_customer_managed_key(synthesized_prod: Synthesized) -> None:
    template = synthesized_prod.templates["WriteBuffer"]
    queue_keys = {
        q["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
        for q in template.find_resources("AWS::SQS::Queue").values()
    }
    (key_id,) = queue_keys
    assert key_id.startswith("IngestKey")
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {
                        "BucketKeyEnabled": True,
                        "ServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
                        },
                    }
                ]
            }
        },
    )
    # The consumer that reads payloads may decrypt them with that key.
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Action": "kms:Decrypt",
                            "Effect": "Allow",
                            "Resource": {"Fn::GetAtt": [key_id, "Arn"]},
                        }
                    ]
                )
            }
        },
    )


def test_dev_payloads_stay_s3_managed(synthesized: Synthesized) -> None:
    synthesized.templates["WriteBuffer"].has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            }
        },
    )


# ------------------------------------------------------------- review gates


def acknowledgements(synthesized: Synthesized, stack: str) -> dict[str, str]:
    """Every cdk-nag acknowledgement in ``stack``'s assembly metadata: rule -> reason."""
    found: dict[str, str] = {}
    metadata = json.loads((synthesized.outdir / f"{stack}.metadata.json").read_text())
    for entries in metadata.values():
        for entry in entries:
            if entry["type"] == "aws:cdk:acknowledged-rules":
                found.update(entry["data"])
    return found


@pytest.mark.parametrize("fixture", ["synthesized", "synthesized_prod"])
def test_acknowledged_findings_are_few_and_named(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    synthesized: Synthesized = request.getfixturevalue(fixture)
    rules = {
        rule.split("[")[0].removeprefix("Annotation::").removeprefix("AwsSolutions::")
        for stack in OWN_STACKS
        for rule in acknowledgements(synthesized, stack)
    }
    # No L1: the functions run the newest Python runtime (python3.14).
    assert rules == {"AwsSolutions-S1", "AwsSolutions-IAM5"}


def test_the_s1_reason_states_what_the_bucket_does(synthesized_prod: Synthesized) -> None:
    (reason,) = [
        text
        for rule, text in acknowledgements(synthesized_prod, "WriteBuffer").items()
        if rule.endswith("AwsSolutions-S1")
    ]
    template = synthesized_prod.templates["WriteBuffer"]
    (bucket,) = template.find_resources("AWS::S3::Bucket").values()
    (rule,) = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    assert f"expire after {rule['ExpirationInDays']} days" in reason
    assert bucket["Properties"]["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert "refuses public access and requests without TLS" in reason
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
    assert "CloudTrail" not in reason.split("Turn on")[0]  # no claim that audit exists
