"""The second production review, read from the synthesized prod templates: alarms in
minutes, worker health, data kept, least privilege, availability and delivery."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app import build_app
from sqs_blueprint_cdk import InvalidPropsError
from sqs_blueprint_cdk.workers.image import machine_image
from tests.infra.conftest import PROD_TARGET, Synthesized
from tests.infra.own_pipeline import BLOCK, context_with, own_handler
from tests.infra.test_production import acknowledgements
from tests.infra.test_workers import heredoc, user_data, workers_role_statements

# ------------------------------------------------------------------ detection


def test_prod_workers_alarm_when_heartbeats_go_missing(synthesized_prod: Synthesized) -> None:
    template = synthesized_prod.templates["Workers"]
    (alarm,) = [
        a["Properties"]
        for a in template.find_resources("AWS::CloudWatch::Alarm").values()
        if "heartbeat" in a["Properties"]["AlarmDescription"]
    ]
    assert alarm["ComparisonOperator"] == "LessThanThreshold"
    assert alarm["Threshold"] == 0.5
    assert alarm["TreatMissingData"] == "breaching"  # no heartbeat at all is the worst case
    by_id = {m["Id"]: m for m in alarm["Metrics"]}
    expression = next(m["Expression"] for m in alarm["Metrics"] if "Expression" in m)
    assert expression.startswith("IF(inservice > 0, FILL(beats, 0)")
    beats = by_id["beats"]["MetricStat"]["Metric"]
    assert beats["Namespace"] == "sqs-blueprint/Workers"
    assert beats["MetricName"] == "Heartbeat"
    (queue_id,) = [
        k
        for k, q in template.find_resources("AWS::SQS::Queue").items()
        if "RedrivePolicy" in q["Properties"]
    ]
    assert beats["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}
    ]
    inservice = by_id["inservice"]["MetricStat"]["Metric"]
    assert inservice["MetricName"] == "GroupInServiceInstances"


def test_prod_instances_whose_worker_fails_mark_themselves_unhealthy(
    synthesized_prod: Synthesized,
) -> None:
    template = synthesized_prod.templates["Workers"]
    script = user_data(template)
    unit = heredoc(script, "/etc/systemd/system/sqs-blueprint-worker.service")
    for line in (
        "StartLimitIntervalSec=300",
        "StartLimitBurst=5",
        "OnFailure=sqs-blueprint-unhealthy.service",
    ):
        assert line in unit
    marker = "\n".join(heredoc(script, "/usr/local/bin/sqs-blueprint-unhealthy"))
    assert "aws autoscaling set-instance-health" in marker
    assert "--health-status Unhealthy" in marker
    # A failed boot marks it too, after signalling the failure.
    on_exit = script[script.index("on_exit() {") : script.index("trap on_exit EXIT")]
    assert "/usr/local/bin/sqs-blueprint-unhealthy" in on_exit
    actions = {a for s in workers_role_statements(template) for a in _actions(s) if "Instance" in a}
    assert "autoscaling:SetInstanceHealth" in actions


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def test_prod_role_has_no_ssm_parameter_access(synthesized_prod: Synthesized) -> None:
    template = synthesized_prod.templates["Workers"]
    (role,) = [
        r["Properties"]
        for k, r in template.find_resources("AWS::IAM::Role").items()
        if k.startswith("WorkersRole")
    ]
    assert "ManagedPolicyArns" not in role
    actions = {a for s in workers_role_statements(template) for a in _actions(s)}
    assert not any(a.startswith("ssm:GetParameter") or a.endswith("*") for a in actions)
    assert {"ssm:UpdateInstanceInformation", "ssmmessages:OpenDataChannel"} <= actions


def test_checkov_is_told_once_why_session_manager_needs_any_resource(
    synthesized_prod: Synthesized,
) -> None:
    """The one checkov skip in the templates sits on the policy holding only the SSM
    Agent's actions, which have no resource-level permissions."""
    skipped = {
        (stack, key): resource
        for stack, raw in synthesized_prod.raw.items()
        for key, resource in raw["Resources"].items()
        if "checkov" in resource.get("Metadata", {})
    }
    [((stack, key), resource)] = skipped.items()
    assert (stack, key.startswith("WorkersSessionManagerPolicy")) == ("Workers", True)
    assert [s["id"] for s in resource["Metadata"]["checkov"]["skip"]] == ["CKV_AWS_111"]
    [statement] = resource["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Resource"] == "*"
    assert {a.split(":")[0] for a in _actions(statement)} == {"ssm", "ssmmessages", "ec2messages"}
    assert "ssm:UpdateInstanceInformation" in _actions(statement)


# ------------------------------------------------------------------ data kept


def test_prod_queues_and_log_groups_outlive_their_stack(synthesized_prod: Synthesized) -> None:
    queues = 0
    for template in synthesized_prod.templates.values():
        for kind in ("AWS::SQS::Queue", "AWS::Logs::LogGroup"):
            for resource in template.find_resources(kind).values():
                assert resource["DeletionPolicy"] == "Retain", kind
                assert resource["UpdateReplacePolicy"] == "Retain", kind
                queues += kind == "AWS::SQS::Queue"
    assert queues == 8  # four pipelines, each a source queue and its DLQ


def test_dev_queues_go_with_their_stack(synthesized: Synthesized) -> None:
    for template in synthesized.templates.values():
        for resource in template.find_resources("AWS::SQS::Queue").values():
            assert resource.get("DeletionPolicy", "Delete") == "Delete"


def test_every_prod_queue_and_bucket_uses_a_customer_managed_key(
    synthesized_prod: Synthesized,
) -> None:
    for name, template in synthesized_prod.templates.items():
        keys = set(template.find_resources("AWS::KMS::Key"))
        for queue in template.find_resources("AWS::SQS::Queue").values():
            key = queue["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"]
            assert key[0] in keys and key[1] == "Arn", name
        for bucket in template.find_resources("AWS::S3::Bucket").values():
            (rule,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            default = rule["ServerSideEncryptionByDefault"]
            assert default["SSEAlgorithm"] == "aws:kms", name
            assert default["KMSMasterKeyID"]["Fn::GetAtt"][0] in keys, name


# ------------------------------------------------------------ least privilege


def test_prod_workers_may_list_their_payload_bucket(synthesized_prod: Synthesized) -> None:
    template = synthesized_prod.templates["Workers"]
    (bucket_id,) = template.find_resources("AWS::S3::Bucket")
    listing = [s for s in workers_role_statements(template) if s["Action"] == "s3:ListBucket"]
    assert listing == [
        {
            "Action": "s3:ListBucket",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [bucket_id, "Arn"]},
        }
    ]


def test_prod_validation_report_holds_every_acknowledgement_with_its_reason(
    synthesized_prod: Synthesized,
) -> None:
    report = json.loads((synthesized_prod.outdir / "validation-report.json").read_text())
    (nag,) = report["pluginReports"]
    assert nag["conclusion"] == "success" and nag["violations"] == []
    suppressed = nag["suppressedViolations"]
    assert all(len(s["reason"]) > 40 for s in suppressed)
    s1 = sorted(
        c["constructPath"]
        for s in suppressed
        if s["ruleName"] == "AwsSolutions-S1"
        for c in s["violatingConstructs"]
    )
    assert s1 == ["Workers/Payloads/Bucket/Resource", "WriteBuffer/Payloads/Bucket/Resource"]
    # Nothing acknowledged outside the report (an annotation-only acknowledgement).
    for stack in synthesized_prod.stacks:
        assert not any(
            r.startswith("Annotation::") for r in acknowledgements(synthesized_prod, stack)
        )


def test_prod_rpc_client_acknowledgement_states_the_real_boundary(
    synthesized_prod: Synthesized,
) -> None:
    reasons = [
        reason
        for rule, reason in acknowledgements(synthesized_prod, "RequestResponse").items()
        if "reply-*" in rule and "RpcClient" in reason
    ]
    assert reasons
    for reason in reasons:
        assert "delete another client's response queue" in reason
        assert "sessions all share it" in reason


def test_prod_own_pipeline_role_gets_the_idiom_and_what_the_block_adds(
    tmp_path: Path,
) -> None:
    pipelines = {
        "own-idiom": {**BLOCK},
        "own-extra": {**BLOCK, "table": {**BLOCK["table"], "extra_actions": ["dynamodb:GetItem"]}},
    }
    with own_handler("own-idiom"), own_handler("own-extra"):
        app, stacks = build_app(
            context_with("prod", pipelines, **PROD_TARGET), outdir=str(tmp_path)
        )
        assembly = app.synth()
    by_id = {s.node.id: s for s in stacks}
    for name, expected in (
        ("own-idiom", "dynamodb:BatchWriteItem"),
        ("own-extra", ["dynamodb:BatchWriteItem", "dynamodb:GetItem"]),
    ):
        raw = assembly.get_stack_artifact(by_id[name].artifact_id).template
        actions = [
            s["Action"]
            for r in raw["Resources"].values()
            if r["Type"] == "AWS::IAM::Policy"
            for s in r["Properties"]["PolicyDocument"]["Statement"]
            if "dynamodb" in str(s["Action"])
        ]
        assert actions == [expected], name


def test_extra_actions_are_named_in_full() -> None:
    pipelines = {
        "own-wild": {**BLOCK, "table": {**BLOCK["table"], "extra_actions": ["dynamodb:*"]}}
    }
    with own_handler("own-wild"), pytest.raises(InvalidPropsError) as raised:
        build_app(context_with("prod", pipelines, **PROD_TARGET))
    assert "table.extra_actions='dynamodb:*': names one DynamoDB action" in str(raised.value)


# ------------------------------------------------------ availability, delivery


def test_prod_workers_have_a_nat_gateway_in_each_az(synthesized_prod: Synthesized) -> None:
    template = synthesized_prod.templates["Workers"]
    nats = template.find_resources("AWS::EC2::NatGateway")
    assert len(nats) == 2
    nat_subnets = {n["Properties"]["SubnetId"]["Ref"] for n in nats.values()}
    subnets = template.find_resources("AWS::EC2::Subnet")
    assert {subnets[s]["Properties"]["AvailabilityZone"]["Fn::Select"][0] for s in nat_subnets} == {
        0,
        1,
    }
    # Each private subnet's default route leaves through the NAT of its own AZ.
    routes = [
        r["Properties"]
        for r in template.find_resources("AWS::EC2::Route").values()
        if "NatGatewayId" in r["Properties"]
    ]
    assert len({r["NatGatewayId"]["Ref"] for r in routes}) == 2
    assoc = {
        a["Properties"]["RouteTableId"]["Ref"]: a["Properties"]["SubnetId"]["Ref"]
        for a in template.find_resources("AWS::EC2::SubnetRouteTableAssociation").values()
    }
    nat_az = {
        lid: subnets[n["Properties"]["SubnetId"]["Ref"]]["Properties"]["AvailabilityZone"]
        for lid, n in nats.items()
    }
    for route in routes:
        private = subnets[assoc[route["RouteTableId"]["Ref"]]]["Properties"]
        assert private["AvailabilityZone"] == nat_az[route["NatGatewayId"]["Ref"]]


def test_prod_workers_ami_is_pinned_by_the_stage(synthesized_prod: Synthesized) -> None:
    raw = synthesized_prod.raw["Workers"]
    (lt,) = [r for r in raw["Resources"].values() if r["Type"] == "AWS::EC2::LaunchTemplate"]
    image = lt["Properties"]["LaunchTemplateData"]["ImageId"]
    parameter = raw["Parameters"][image["Ref"]]
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"
    assert parameter["Default"] == "/sqs-blueprint/prod/workers-ami"
    assert not any(
        "/aws/service/ami-amazon-linux-latest" in str(p) for p in raw["Parameters"].values()
    )


def test_dev_workers_follow_the_latest_amazon_linux(synthesized: Synthesized) -> None:
    raw = synthesized.raw["Workers"]
    assert any(
        "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-" in str(p.get("Default"))
        for p in raw["Parameters"].values()
    )


def test_prod_mappings_invoke_a_published_version_through_its_alias(
    synthesized_prod: Synthesized,
) -> None:
    for name in ("WriteBuffer", "Ordered", "RequestResponse"):
        template = synthesized_prod.templates[name]
        (function_id,) = template.find_resources("AWS::Lambda::Function")
        (version_id,) = template.find_resources(
            "AWS::Lambda::Version", {"Properties": {"FunctionName": {"Ref": function_id}}}
        )
        (alias_id,) = template.find_resources(
            "AWS::Lambda::Alias",
            {
                "Properties": {
                    "FunctionName": {"Ref": function_id},
                    "FunctionVersion": {"Fn::GetAtt": [version_id, "Version"]},
                    "Name": "live",
                }
            },
        )
        (mapping,) = template.find_resources("AWS::Lambda::EventSourceMapping").values()
        assert f'"Ref": "{alias_id}"' in json.dumps(mapping["Properties"]["FunctionName"])


def test_prod_functions_trace_actively_and_may_send_segments(
    synthesized_prod: Synthesized,
) -> None:
    for name in ("WriteBuffer", "Ordered", "RequestResponse"):
        template = synthesized_prod.templates[name]
        functions = {k: f for k, f in template.find_resources("AWS::Lambda::Function").items()}
        for function in functions.values():
            assert function["Properties"]["TracingConfig"] == {"Mode": "Active"}
            role = function["Properties"]["Role"]["Fn::GetAtt"][0]
            statements = [
                s
                for p in template.find_resources("AWS::IAM::Policy").values()
                if {"Ref": role} in p["Properties"]["Roles"]
                for s in p["Properties"]["PolicyDocument"]["Statement"]
            ]
            xray = [s for s in statements if "xray:PutTraceSegments" in _actions(s)]
            assert [(sorted(_actions(s)), s["Resource"]) for s in xray] == [
                (["xray:PutTelemetryRecords", "xray:PutTraceSegments"], "*")
            ]


def test_a_malformed_ami_is_refused_in_one_line(new_stack: Any) -> None:
    with pytest.raises(InvalidPropsError) as raised:
        machine_image(new_stack(), "ami-XYZ", arm=True)
    assert "ami='ami-XYZ': must be 'latest', an AMI id" in str(raised.value)
