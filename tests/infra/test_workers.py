"""Template assertions for the EC2 workers pattern, its stack and its install bundle."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Annotations, Match, Template

from sqs_blueprint_cdk import Ec2QueueWorkers, InvalidPropsError, LargePayloadBucket, QueueWithDlq
from sqs_blueprint_cdk.workers import LIFECYCLE_HOOK_NAME
from stacks.config import AlarmsConfig, WorkersConfig, load_stage
from tests.infra.conftest import cdk_context

CONFIG = load_stage(cdk_context()["sqs-blueprint"], "dev").workers


def resources(template: Template, type_: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = template.find_resources(type_)
    return found


def only(template: Template, type_: str) -> dict[str, Any]:
    (resource,) = resources(template, type_).values()
    props: dict[str, Any] = resource["Properties"]
    return props


def logical_id(template: Template, type_: str) -> str:
    (name,) = resources(template, type_)
    return name


def render(value: Any) -> str:
    """A CloudFormation string as text; references become ``${LogicalId}`` like Fn::Sub."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(render(p) for p in parts)
    if "Ref" in value:
        return "${" + value["Ref"] + "}"
    if "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    if "Fn::Sub" in value:
        return str(value["Fn::Sub"])
    raise AssertionError(f"unexpected intrinsic {value}")


def user_data(template: Template) -> str:
    data = only(template, "AWS::EC2::LaunchTemplate")["LaunchTemplateData"]["UserData"]
    return render(data["Fn::Base64"])


def heredoc(script: str, path: str) -> list[str]:
    match = re.search(rf"^cat > {re.escape(path)} <<'EOF'\n(.*?)\nEOF$", script, re.S | re.M)
    assert match, f"{path} is not written by the user data"
    return match.group(1).split("\n")


def workers_role_statements(template: Template) -> list[dict[str, Any]]:
    role = next(k for k in resources(template, "AWS::IAM::Role") if k.startswith("WorkersRole"))
    return [
        statement
        for policy in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


@pytest.fixture(scope="module")
def template(synthesized: Any) -> Template:
    result: Template = synthesized.templates["Workers"]
    return result


# ------------------------------------------------------------------ scaling


def test_scaling_policy_tracks_visible_messages_per_in_service_instance(
    template: Template,
) -> None:
    policy = only(template, "AWS::AutoScaling::ScalingPolicy")
    group = logical_id(template, "AWS::AutoScaling::AutoScalingGroup")
    assert policy["PolicyType"] == "TargetTrackingScaling"
    assert policy["AutoScalingGroupName"] == {"Ref": group}
    assert policy["EstimatedInstanceWarmup"] == CONFIG.instance_warmup_s == 180
    tracking = policy["TargetTrackingConfiguration"]
    # acceptable latency / seconds per message: 120 s / 0.2 s = 600 messages per instance.
    assert (
        tracking["TargetValue"] == 600 == CONFIG.acceptable_latency_s / CONFIG.seconds_per_message
    )
    visible, inservice, backlog = tracking["CustomizedMetricSpecification"]["Metrics"]
    assert visible["Id"] == "visible" and visible["ReturnData"] is False
    assert visible["MetricStat"]["Stat"] == "Sum"
    metric = visible["MetricStat"]["Metric"]
    assert (metric["Namespace"], metric["MetricName"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    ((dimension),) = metric["Dimensions"]
    assert dimension["Name"] == "QueueName"
    queue, attribute = dimension["Value"]["Fn::GetAtt"]
    assert queue.startswith("JobsQueue") and attribute == "QueueName"
    assert inservice["Id"] == "inservice" and inservice["ReturnData"] is False
    metric = inservice["MetricStat"]["Metric"]
    assert (metric["Namespace"], metric["MetricName"]) == (
        "AWS/AutoScaling",
        "GroupInServiceInstances",
    )
    assert metric["Dimensions"] == [{"Name": "AutoScalingGroupName", "Value": {"Ref": group}}]
    assert backlog == {
        "Id": "backlog",
        "Expression": "visible / IF(inservice > 0, inservice, 1)",
        "Label": "Visible messages per in-service instance",
        "ReturnData": True,
    }


def test_group_collects_in_service_metric_and_keeps_its_bounds(template: Template) -> None:
    group = only(template, "AWS::AutoScaling::AutoScalingGroup")
    assert (group["MinSize"], group["MaxSize"]) == ("1", "2")
    assert "DesiredCapacity" not in group  # a deploy never resets what scaling chose
    (collection,) = group["MetricsCollection"]
    assert "GroupInServiceInstances" in collection["Metrics"]
    assert group["DefaultInstanceWarmup"] == 180
    subnets = [s["Ref"] for s in group["VPCZoneIdentifier"]]
    assert len(subnets) == 2 and all(s.startswith("VpcWorkersSubnet") for s in subnets)
    (resource,) = resources(template, "AWS::AutoScaling::AutoScalingGroup").values()
    # Instances start after the private subnets' route to the NAT exists (AWS APIs).
    assert any(d.startswith("VpcWorkersSubnet1DefaultRoute") for d in resource["DependsOn"])


def test_a_failed_boot_fails_the_deploy_and_a_deploy_keeps_capacity(
    synthesized: Any, template: Template
) -> None:
    (resource,) = resources(template, "AWS::AutoScaling::AutoScalingGroup").values()
    # Creation waits for min_capacity instances to signal a running worker.
    assert resource["CreationPolicy"] == {"ResourceSignal": {"Count": 1, "Timeout": "PT15M"}}
    rolling = resource["UpdatePolicy"]["AutoScalingRollingUpdate"]
    assert rolling["WaitOnResourceSignals"] is True
    assert rolling["PauseTime"] == "PT15M"
    assert rolling["MaxBatchSize"] == 1
    assert rolling["MinInstancesInService"] == CONFIG.min_capacity == 1
    assert int(resource["Properties"]["MaxSize"]) > rolling["MinInstancesInService"]
    # The signal names this group, in this stack.
    script = user_data(template)
    group = logical_id(template, "AWS::AutoScaling::AutoScalingGroup")
    assert (
        f"cfn-signal --stack '{synthesized.stacks['Workers'].stack_name}' --resource '{group}' "
        "--region '${AWS::Region}' --exit-code \"$1\"" in script
    )


def test_worker_logs_go_to_a_log_group_with_retention(template: Template) -> None:
    groups = {
        k: v
        for k, v in resources(template, "AWS::Logs::LogGroup").items()
        if k.startswith("WorkersLogs")
    }
    ((name, group),) = groups.items()
    assert group["Properties"]["RetentionInDays"] == 30
    config = json.loads(
        "\n".join(heredoc(user_data(template), "/etc/sqs-blueprint/cloudwatch-agent.json"))
    )
    collected = config["logs"]["logs_collected"]["files"]["collect_list"]
    assert {c["file_path"] for c in collected} == {
        "/var/log/sqs-blueprint/worker.log",
        "/var/log/cloud-init-output.log",
    }
    assert {c["log_group_name"] for c in collected} == {f"${{{name}}}"}
    unit = heredoc(user_data(template), "/etc/systemd/system/sqs-blueprint-worker.service")
    assert "StandardOutput=append:/var/log/sqs-blueprint/worker.log" in unit
    assert "StandardError=append:/var/log/sqs-blueprint/worker.log" in unit
    (logs,) = [s for s in workers_role_statements(template) if "logs:PutLogEvents" in s["Action"]]
    assert sorted(logs["Action"]) == [
        "logs:CreateLogStream",
        "logs:DescribeLogStreams",
        "logs:PutLogEvents",
    ]
    assert logs["Resource"] == {"Fn::GetAtt": [name, "Arn"]}


def test_scale_in_waits_for_the_drain(template: Template) -> None:
    hook = only(template, "AWS::AutoScaling::LifecycleHook")
    assert hook["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING"
    assert hook["DefaultResult"] == "CONTINUE"
    assert hook["LifecycleHookName"] == LIFECYCLE_HOOK_NAME
    unit = heredoc(user_data(template), "/etc/systemd/system/sqs-blueprint-worker.service")
    stop = int(next(line for line in unit if line.startswith("TimeoutStopSec=")).split("=")[1])
    drain = CONFIG.max_processing_time_s
    assert f"--drain-timeout {drain}" in next(line for line in unit if line.startswith("ExecStart"))
    assert stop > drain
    assert hook["HeartbeatTimeout"] > stop
    watcher = heredoc(user_data(template), "/usr/local/bin/sqs-blueprint-drain-on-scale-in")
    assert any('autoscaling/target-lifecycle-state)" = Terminated' in x for x in watcher)
    assert "systemctl stop sqs-blueprint-worker.service" in watcher
    assert any(
        x.startswith("exec aws autoscaling complete-lifecycle-action")
        and f"--lifecycle-hook-name {LIFECYCLE_HOOK_NAME}" in x
        for x in watcher
    )


def test_queue_visibility_covers_the_processing_time(template: Template) -> None:
    source = next(
        q["Properties"]
        for q in resources(template, "AWS::SQS::Queue").values()
        if "RedrivePolicy" in q["Properties"]
    )
    assert source["VisibilityTimeout"] == CONFIG.max_processing_time_s == 60


# ------------------------------------------------------------------ instances


def test_launch_template_is_locked_down(synthesized: Any, template: Template) -> None:
    data = only(template, "AWS::EC2::LaunchTemplate")["LaunchTemplateData"]
    assert data["MetadataOptions"] == {"HttpTokens": "required", "HttpPutResponseHopLimit": 1}
    assert "KeyName" not in data
    assert data["InstanceType"] == "t4g.small"
    (device,) = data["BlockDeviceMappings"]
    assert device["DeviceName"] == "/dev/xvda"
    assert device["Ebs"] == {
        "Encrypted": True,
        "DeleteOnTermination": True,
        "VolumeSize": 8,
        "VolumeType": "gp3",
    }
    parameter = data["ImageId"]["Ref"]
    default = synthesized.raw["Workers"]["Parameters"][parameter]
    assert default["Type"] == "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"
    assert re.fullmatch(
        r"/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-[\d.]+-arm64", default["Default"]
    )
    assert "NetworkInterfaces" not in data  # no public address: private subnets only
    (group,) = data["SecurityGroupIds"]
    sg = template.find_resources("AWS::EC2::SecurityGroup")[group["Fn::GetAtt"][0]]["Properties"]
    assert "SecurityGroupIngress" not in sg
    assert sg["SecurityGroupEgress"] == [
        {
            "CidrIp": "0.0.0.0/0",
            "Description": "HTTPS to AWS APIs and package repositories",
            "FromPort": 443,
            "IpProtocol": "tcp",
            "ToPort": 443,
        }
    ]
    assert not resources(template, "AWS::EC2::SecurityGroupIngress")


# What the SSM Agent needs for Session Manager (docs/aws-facts.md#ec2-workers).
SESSION_MANAGER = (
    "ec2messages:AcknowledgeMessage",
    "ec2messages:DeleteMessage",
    "ec2messages:FailMessage",
    "ec2messages:GetEndpoint",
    "ec2messages:GetMessages",
    "ec2messages:SendReply",
    "ssm:UpdateInstanceInformation",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
)


def group_id(template: Template) -> str:
    return logical_id(template, "AWS::AutoScaling::AutoScalingGroup")


def test_role_has_exactly_what_the_worker_needs(template: Template) -> None:
    role = next(
        r["Properties"]
        for k, r in resources(template, "AWS::IAM::Role").items()
        if k.startswith("WorkersRole")
    )
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
        }
    ]
    # Session Manager by its agent's own actions: no managed policy, no ssm:GetParameter*.
    assert "ManagedPolicyArns" not in role
    by_action = {
        tuple(sorted(s["Action"])) if isinstance(s["Action"], list) else (s["Action"],): s
        for s in workers_role_statements(template)
    }
    assert set(by_action) == {
        (
            "sqs:ChangeMessageVisibility",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:GetQueueUrl",
            "sqs:ReceiveMessage",
        ),
        ("dynamodb:BatchWriteItem",),
        ("s3:GetObject",),
        ("s3:ListBucket",),
        ("logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"),
        ("autoscaling:DescribeAutoScalingInstances",),
        ("autoscaling:CompleteLifecycleAction",),
        ("cloudformation:SignalResource",),
        ("cloudwatch:PutMetricData",),
        ("autoscaling:SetInstanceHealth",),
        ("xray:PutTelemetryRecords", "xray:PutTraceSegments"),  # dev traces (adot)
        SESSION_MANAGER,
    }
    beat = by_action[("cloudwatch:PutMetricData",)]
    assert beat["Condition"] == {"StringEquals": {"cloudwatch:namespace": "sqs-blueprint/Workers"}}
    health = render(by_action[("autoscaling:SetInstanceHealth",)]["Resource"])
    assert health.endswith(f":autoScalingGroupName/${{{group_id(template)}}}")
    signal = by_action[("cloudformation:SignalResource",)]
    assert signal["Resource"] == {"Ref": "AWS::StackId"}  # its own stack only
    assert all(s["Effect"] == "Allow" for s in by_action.values())
    sqs = by_action[
        (
            "sqs:ChangeMessageVisibility",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:GetQueueUrl",
            "sqs:ReceiveMessage",
        )
    ]
    assert sqs["Resource"]["Fn::GetAtt"][0].startswith("JobsQueue")
    table = render(by_action[("dynamodb:BatchWriteItem",)]["Resource"])
    assert re.fullmatch(r"\$\{Table\w+\.Arn\}", table)
    s3_statements = [s for s in workers_role_statements(template) if s["Action"] == "s3:GetObject"]
    objects = sorted(render(s["Resource"]) for s in s3_statements)
    assert len(objects) == 2
    assert re.fullmatch(r"\$\{PayloadsBucket\w+\.Arn\}/\*", objects[0])
    # The bundle: one object of the asset bucket, not the bucket.
    assert re.fullmatch(
        r"arn:\$\{AWS::Partition\}:s3:::cdk-\w+-assets-.*/[0-9a-f]{64}\.zip", objects[1]
    )
    lifecycle = render(by_action[("autoscaling:CompleteLifecycleAction",)]["Resource"])
    group = logical_id(template, "AWS::AutoScaling::AutoScalingGroup")
    assert lifecycle.endswith(f":autoScalingGroup:*:autoScalingGroupName/${{{group}}}")


def test_user_data_installs_offline_and_runs_the_worker_under_systemd(
    template: Template,
) -> None:
    script = user_data(template)
    lines = script.split("\n")
    assert lines[:2] == ["#!/bin/bash", "set -euo pipefail"]
    assert any(
        re.fullmatch(
            r"  aws s3 cp 's3://cdk-\w+-assets-\S+/[0-9a-f]{64}\.zip' "
            r"/opt/sqs-blueprint/bundle.zip && break",
            x,
        )
        for x in lines
    )
    assert (
        "dnf install -y python3.11 python3.11-pip aws-cfn-bootstrap amazon-cloudwatch-agent "
        "logrotate"
    ) in lines
    assert "python3.11 -m venv /opt/sqs-blueprint/venv" in lines
    (install,) = [x for x in lines if " install " in x and "/venv/bin/pip" in x]
    assert install.startswith(
        "/opt/sqs-blueprint/venv/bin/pip install --no-index --find-links /opt/sqs-blueprint/wheels"
    )
    assert not re.search(r"pypi|index-url|https?://(?!169\.254)", script)
    unit = heredoc(script, "/etc/systemd/system/sqs-blueprint-worker.service")
    (exec_start,) = [x for x in unit if x.startswith("ExecStart=")]
    assert re.fullmatch(
        r"ExecStart=/opt/sqs-blueprint/venv/bin/sqs-blueprint worker "
        r"--queue-url \$\{JobsQueue\w+\} "
        r"--handler builtin:write-buffer --concurrency 4 --max-messages 10 --wait 20 "
        r"--drain-timeout 60",
        exec_start,
    )
    for setting in (
        "User=sqs-worker",
        "EnvironmentFile=/etc/sqs-blueprint/worker.env",
        "Restart=on-failure",
        "KillSignal=SIGTERM",
        "KillMode=mixed",
        "TimeoutStopSec=95",
        "NoNewPrivileges=yes",
        "WantedBy=multi-user.target",
    ):
        assert setting in unit
    env = dict(x.split("=", 1) for x in heredoc(script, "/etc/sqs-blueprint/worker.env"))
    assert env.keys() == {
        "AWS_DEFAULT_REGION",
        "TABLE_NAME",
        "PAYLOAD_BUCKET",
        "WCU_PER_SECOND",
        "HEARTBEAT_NAMESPACE",
        "SQS_BLUEPRINT_TRACING",  # dev traces (adot): test_tracing_templates.py
        "OTEL_PROPAGATORS",
    }
    assert env["HEARTBEAT_NAMESPACE"] == "sqs-blueprint/Workers"
    assert env["AWS_DEFAULT_REGION"] == "${AWS::Region}"
    assert re.fullmatch(r"\$\{Table\w+\}", env["TABLE_NAME"])
    assert re.fullmatch(r"\$\{PayloadsBucket\w+\}", env["PAYLOAD_BUCKET"])
    # Each of at most 2 instances gets half of the table's 10 WCU.
    assert float(env["WCU_PER_SECOND"]) * CONFIG.max_capacity <= CONFIG.write_capacity
    assert float(env["WCU_PER_SECOND"]) == 5
    assert (
        "systemctl enable --now sqs-blueprint-worker.service "
        "sqs-blueprint-drain-on-scale-in.service"
    ) in lines
    assert lines[-1] == "signal 0"


def test_bundle_asset_installs_offline_and_the_console_script_imports(
    synthesized: Any, template: Template, tmp_path: Path
) -> None:
    key = re.search(r"/([0-9a-f]{64})\.zip'", user_data(template))
    assert key
    bundle = synthesized.outdir / f"asset.{key.group(1)}"
    names = sorted(p.name for p in bundle.iterdir())
    assert "sqs_blueprint-0.1.0-py3-none-any.whl" in names
    assert any(n.startswith("boto3-") for n in names)
    assert any(n.startswith("botocore-") for n in names)
    assert all(n.endswith(".whl") for n in names)
    with zipfile.ZipFile(bundle / "sqs_blueprint-0.1.0-py3-none-any.whl") as archive:
        members = archive.namelist()
        assert {"sqs_blueprint/worker/__init__.py", "sqs_blueprint/cli/__init__.py"} <= set(members)
        assert not any(n.startswith("sqs_blueprint/local/") for n in members)
        metadata = archive.read("sqs_blueprint-0.1.0.dist-info/METADATA").decode()
        assert "Requires-Dist: boto3<2,>=1.34" in metadata.splitlines()
    # What the instance runs: an offline install of the package from the bundle alone.
    target = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--no-index", "--quiet"]
    subprocess.run(
        [*pip, "--find-links", str(bundle), "--target", str(target), "sqs-blueprint"],
        check=True,
        env={"PATH": "/usr/bin:/bin", "PIP_CONFIG_FILE": "/dev/null"},
    )
    assert (target / "bin" / "sqs-blueprint").is_file()
    assert (target / "boto3").is_dir()
    probe = "import sqs_blueprint.cli as c, sqs_blueprint.worker, boto3; print(c.__file__)"
    result = subprocess.run(
        [sys.executable, "-S", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); {probe}"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert result.stdout.strip() == str(target / "sqs_blueprint" / "cli" / "__init__.py")


# ------------------------------------------------------------------ network


def test_vpc_two_azs_one_nat_gateway_endpoints_and_flow_logs(template: Template) -> None:
    subnets = resources(template, "AWS::EC2::Subnet")
    assert len(subnets) == 4
    zones = {render_az(s["Properties"]["AvailabilityZone"]) for s in subnets.values()}
    assert zones == {"0", "1"}  # Fn::Select over Fn::GetAZs: nothing looked up at synth
    assert len(resources(template, "AWS::EC2::NatGateway")) == 1
    endpoints = [
        render(e["Properties"]["ServiceName"])
        for e in resources(template, "AWS::EC2::VPCEndpoint").values()
    ]
    assert sorted(e.rsplit(".", 1)[1] for e in endpoints) == ["dynamodb", "s3"]
    flow = only(template, "AWS::EC2::FlowLog")
    assert flow["TrafficType"] == "ALL" and flow["LogDestinationType"] == "cloud-watch-logs"
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})


def render_az(value: Any) -> str:
    index, azs = value["Fn::Select"]
    assert azs == {"Fn::GetAZs": ""}
    return str(index)


def test_outputs(synthesized: Any) -> None:
    outputs = synthesized.raw["Workers"]["Outputs"]
    assert {
        "JobsQueueUrl",
        "JobsDeadLetterQueueUrl",
        "TableName",
        "PayloadBucketName",
        "AutoScalingGroupName",
    } <= set(outputs)


def test_config_reads_the_workers_block() -> None:
    config = load_stage({"stages": {"dev": {"alarms_to": "none", "workers": {"max_capacity": 8}}}})
    assert config.workers == WorkersConfig(max_capacity=8, alarms=AlarmsConfig(to="none"))


# ------------------------------------------------------------------ construct and bad input


def workers(stack: Stack, pair: QueueWithDlq | None = None, **props: Any) -> Ec2QueueWorkers:
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=1)
    table = dynamodb.Table(
        stack,
        "Table",
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
    )
    settings: dict[str, Any] = {
        "table": table,
        "max_processing_time": Duration.seconds(60),
        "acceptable_latency": Duration.seconds(60),
        "seconds_per_message": 0.5,
        **props,
    }
    return Ec2QueueWorkers(
        stack, "Workers", queue=pair or QueueWithDlq(stack, "Pair"), vpc=vpc, **settings
    )


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"min_capacity": 3, "max_capacity": 2},
            "min_capacity=3: must not exceed max_capacity (2)",
        ),
        (
            {"min_capacity": 2, "max_capacity": 2},
            "max_capacity=2: must exceed min_capacity (2): a rolling update keeps min_capacity "
            "instances in service and starts each replacement beside them. "
            "Fix: set max_capacity to at least 3.",
        ),
        ({"min_capacity": -1}, "min_capacity=-1: must be 0 or more"),
        ({"max_capacity": 0, "min_capacity": 0}, "max_capacity=0: must be at least 1"),
        (
            {"acceptable_latency": Duration.seconds(10), "seconds_per_message": 20.0},
            "acceptable_latency='10 s': over seconds_per_message (20) gives a target backlog of "
            "0.5 messages per instance; it must be at least 1",
        ),
        ({"seconds_per_message": 0.0}, "seconds_per_message=0.0: must be more than 0"),
        (
            {"acceptable_latency": Duration.seconds(0)},
            "acceptable_latency='0 s': must be more than 0",
        ),
        (
            {"max_processing_time": Duration.seconds(0), "drain_timeout": Duration.seconds(30)},
            "max_processing_time='0 s': must be more than 0 and at most 43200 s",
        ),
        (
            {"max_processing_time": Duration.hours(13), "drain_timeout": Duration.seconds(30)},
            "max_processing_time='46800 s': must be more than 0 and at most 43200 s",
        ),
        (
            {"max_processing_time": Duration.hours(2)},
            "drain_timeout='7200 s': must be more than 0 and at most 7105 s: the scale-in "
            "lifecycle hook holds an instance for at most 7200 s",
        ),
        ({"drain_timeout": Duration.seconds(0)}, "drain_timeout='0 s': must be more than 0"),
        ({"concurrency": 0}, "concurrency=0: must be at least 1"),
        ({"max_messages": 11}, "max_messages=11: must be 1..10 (ReceiveMessage limit)"),
        ({"wait_time": Duration.seconds(21)}, "wait_time='21 s': must be 0..20 s (long polling)"),
        ({"instance_warmup": Duration.hours(2)}, "instance_warmup='7200 s': must be 0..3600 s"),
        ({"root_volume_gib": 4}, "root_volume_gib=4: must be at least 8"),
        (
            {"handler": "not a handler"},
            "handler='not a handler': must be 'builtin:write-buffer' or module:function",
        ),
        (
            {"handler": "my_jobs.handlers:process\n"},
            "handler='my_jobs.handlers:process\\n': must be 'builtin:write-buffer' or "
            "module:function",
        ),
        ({"environment": {"MODE\n": "x"}}, "environment='MODE\\n': names are letters"),
        ({"table": None}, "table=None: the built-in write buffer writes into a DynamoDB table"),
        ({"key_fields": ["pk"]}, "key_fields=['pk']: each names a top-level body field"),
        (
            {"key_fields": ['a"b']},
            "key_fields=['a\"b']: each names a top-level body field: not empty, without "
            "surrounding spaces, and not 'pk', the table's partition key, which a body may not "
            "carry (every record would be refused); and, as values in the systemd environment "
            "file, without '\\', '\"' or control characters",
        ),
        (
            {"table_write_capacity": 3, "max_capacity": 4},
            "table_write_capacity=3: each of up to max_capacity=4 instances needs at least 1 WCU/s",
        ),
        ({"environment": {"TABLE_NAME": "x"}}, "environment='TABLE_NAME': names are letters"),
        ({"environment": {"1X": "x"}}, "environment='1X': names are letters"),
        (
            {"environment": {"MODE": 'a"b'}},
            "environment['MODE']='a\"b': values go into a systemd environment file",
        ),
    ],
)
def test_bad_input(new_stack: Callable[[], Stack], props: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidPropsError) as error:
        workers(new_stack(), **props)
    text = str(error.value)
    assert text.startswith("Ec2QueueWorkers 'Test/Workers': 1 invalid setting:\n  - "), text
    assert message in text


def test_every_problem_is_reported_at_once(new_stack: Callable[[], Stack]) -> None:
    with pytest.raises(InvalidPropsError) as error:
        workers(new_stack(), min_capacity=5, max_capacity=1, concurrency=0, max_messages=0)
    assert "3 invalid settings" in str(error.value)


def test_fifo_write_buffer_needs_a_version_field_and_writes_with_put_item(
    new_stack: Callable[[], Stack],
) -> None:
    stack = new_stack()
    with pytest.raises(InvalidPropsError, match="version_field=None: the batched write buffer"):
        workers(stack, QueueWithDlq(stack, "Pair", fifo=True))
    stack = new_stack()
    workers(stack, QueueWithDlq(stack, "Pair", fifo=True), version_field="version")
    actions = [
        s["Action"]
        for p in Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert "dynamodb:PutItem" in actions and "dynamodb:BatchWriteItem" not in actions


def test_given_short_visibility_is_refused(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    pair = QueueWithDlq(stack, "Pair", visibility_timeout=Duration.seconds(30))
    with pytest.raises(InvalidPropsError) as error:
        workers(stack, pair, max_processing_time=Duration.minutes(5))
    text = str(error.value)
    assert "visibility_timeout='30 s': the workers' maximum processing time (300 s)" in text
    assert "Duration.seconds(300)" in text


def test_short_visibility_can_be_allowed_with_a_warning(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    pair = QueueWithDlq(stack, "Pair", visibility_timeout=Duration.seconds(30))
    workers(stack, pair, max_processing_time=Duration.minutes(5), allow_short_visibility=True)
    Annotations.from_stack(stack).has_warning(
        "*", Match.string_like_regexp("visibility_timeout is 30 s")
    )


def test_visibility_left_unset_is_raised_to_the_processing_time(
    new_stack: Callable[[], Stack],
) -> None:
    stack = new_stack()
    workers(stack, max_processing_time=Duration.minutes(15))
    Template.from_stack(stack).has_resource_properties(
        "AWS::SQS::Queue", {"VisibilityTimeout": 900, "RedrivePolicy": Match.any_value()}
    )


def test_x86_instance_type_gets_the_x86_image(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    workers(stack, instance_type=ec2.InstanceType("m7i.large"))
    parameters = Template.from_stack(stack).to_json()["Parameters"]
    images = [
        p["Default"]
        for p in parameters.values()
        if "ami-amazon-linux-latest" in p.get("Default", "")
    ]
    assert len(images) == 1 and images[0].endswith("-x86_64")


def test_custom_handler_and_environment_reach_the_service(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    pair = QueueWithDlq(stack, "Pair")
    bucket = LargePayloadBucket(stack, "Payloads", queues=[pair])
    built = workers(
        stack,
        pair,
        handler="my_jobs.handlers:process",
        table=None,
        payload_bucket=bucket,
        environment={"MODE": "fast"},
        concurrency=8,
    )
    assert built.environment["MODE"] == "fast"
    script = user_data(Template.from_stack(stack))
    assert "--handler my_jobs.handlers:process --concurrency 8" in script
    env = heredoc(script, "/etc/sqs-blueprint/worker.env")
    assert "MODE=fast" in env and not any(x.startswith("TABLE_NAME=") for x in env)


def test_key_fields_reach_the_worker_as_the_write_buffer_reads_them(
    new_stack: Callable[[], Stack],
) -> None:
    stack = new_stack()
    workers(stack, key_fields=["city,country", "zone"])
    env = heredoc(user_data(Template.from_stack(stack)), "/etc/sqs-blueprint/worker.env")
    assert 'KEY_FIELDS=["city,country","zone"]' in env


def test_stack_with_an_account_and_region_looks_nothing_up() -> None:
    from aws_cdk import App, Environment

    from stacks.workers_stack import WorkersStack

    app = App(context={"aws:cdk:bundling-stacks": []})
    stack = WorkersStack(
        app,
        "Workers",
        config=WorkersConfig(),
        env=Environment(account="111111111111", region="eu-west-1"),
    )
    subnets = Template.from_stack(stack).find_resources("AWS::EC2::Subnet")
    assert {render_az(s["Properties"]["AvailabilityZone"]) for s in subnets.values()} == {"0", "1"}
    manifest = json.loads((Path(app.synth().directory) / "manifest.json").read_text())
    assert "missing" not in manifest  # no context lookup left for the CLI to make


def test_scaling_from_zero_is_warned_about(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    workers(stack, min_capacity=0)
    Annotations.from_stack(stack).has_warning(
        "*", Match.string_like_regexp("min_capacity is 0: .* below the target \\(120 messages\\)")
    )


def test_encrypted_queue_lets_the_workers_decrypt(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    workers(stack, QueueWithDlq(stack, "Pair", customer_managed_key=True))
    statements = [
        s
        for p in Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    (kms,) = [s for s in statements if s["Action"] == "kms:Decrypt"]
    assert kms["Resource"]["Fn::GetAtt"][0].startswith("PairKey")


def test_scaling_from_zero_waits_for_no_signal_at_creation(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    workers(stack, min_capacity=0)
    (group,) = (
        Template.from_stack(stack).find_resources("AWS::AutoScaling::AutoScalingGroup").values()
    )
    assert "CreationPolicy" not in group
    assert group["UpdatePolicy"]["AutoScalingRollingUpdate"]["WaitOnResourceSignals"] is True
