"""EC2 workers that long-poll a QueueWithDlq and scale on backlog per instance.

An Auto Scaling group runs ``sqs-blueprint worker`` (the same record core as the
Lambda consumers) as a systemd service on Amazon Linux 2023. The design:

- Launch template: the AMI's architecture follows the instance type (Graviton
  by default), IMDSv2 only with a hop limit of 1, an encrypted gp3 root volume,
  no key pair and a security group without inbound rules (access goes through
  SSM Session Manager); outbound is HTTPS only.
- The runtime library arrives as a wheel built at synth (see ``wheel.py``),
  installed into a Python 3.11 venv; boto3 comes from PyPI, so the instances
  need a route to the internet (WorkersStack gives them one NAT gateway).
- The role can consume the one queue, read the payload bucket, write the
  table (BatchWriteItem, or PutItem when versioned), read the one wheel object,
  and complete its own scale-in lifecycle action. Nothing else but SSM.
- Scaling: target tracking on ``visible / IF(inservice > 0, inservice, 1)``,
  the backlog per in-service instance, towards
  ``acceptable_latency / seconds_per_message`` messages (FACTS §8: the L2
  refuses metric math, so the CloudFormation-level policy is used).

Scale-in, and why a lifecycle hook rather than the systemd stop alone: when an
instance is terminated, EC2 shuts the OS down and systemd sends the worker
SIGTERM, but EC2 does not promise how long it waits before it powers the
instance off, so a drain longer than that could be cut short. A termination
lifecycle hook holds the instance in ``Terminating:Wait`` for up to its
heartbeat timeout instead. A small service on the instance watches the
instance's target lifecycle state in the instance metadata; when it reads
``Terminated`` it stops the worker (SIGTERM: no more receives, unstarted
messages given back at once, running ones finish within the drain deadline)
and then completes the lifecycle action, so the instance goes as soon as it
has drained. If the watcher fails, the hook times out and the termination
continues; the systemd stop is then the last line of defence. Either way a
message that is not finished returns to the queue when its visibility ends,
which is why the queue's visibility must cover the maximum processing time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

from aws_cdk import (
    Annotations,
    ArnFormat,
    AssetHashType,
    BundlingOptions,
    BundlingOutput,
    DockerImage,
    Duration,
    Stack,
    Token,
)
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from stacks.patterns._validation import Problems, acknowledge, nag_text
from stacks.patterns.payload_bucket import LargePayloadBucket
from stacks.patterns.queue_pair import MAX_VISIBILITY_S, QueueWithDlq
from stacks.patterns.wheel import PACKAGE_DIR, Project, WheelBundler

BUILTIN_WRITE_BUFFER = "builtin:write-buffer"
SERVICE = "sqs-blueprint-worker"
WATCHER = "sqs-blueprint-drain-on-scale-in"
LIFECYCLE_HOOK_NAME = "sqs-blueprint-drain"
INSTALL_DIR = "/opt/sqs-blueprint"
ENV_FILE = "/etc/sqs-blueprint/worker.env"
WORKER_USER = "sqs-worker"

MAX_RECEIVE_BATCH = 10  # FACTS §1
MAX_WAIT_S = 20  # FACTS §1: long polling
MAX_HEARTBEAT_S = 7_200  # Auto Scaling: a lifecycle hook's heartbeat timeout is 30..7,200 s
MIN_ROOT_GIB = 8  # the size of the Amazon Linux 2023 AMI's root snapshot
# systemd's stop timeout beyond the drain deadline: one long poll that is
# already waiting, plus the give-back and final deletes after the drain.
_STOP_SLACK_S = 15
# The hook's heartbeat beyond systemd's stop timeout: the watcher polls every
# 5 s and then makes two Auto Scaling calls.
_HOOK_SLACK_S = 60

_HANDLER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENV_UNSAFE = re.compile(r"[\n\r\"'\\$`%]")
# Variables the pattern sets itself (write_buffer.py reads them).
_RESERVED_ENV = (
    "AWS_DEFAULT_REGION",
    "TABLE_NAME",
    "KEY_FIELDS",
    "VERSION_FIELD",
    "PAYLOAD_BUCKET",
    "WCU_PER_SECOND",
)


def backlog_target(acceptable_latency: Duration, seconds_per_message: float) -> float:
    """Messages one instance may have waiting: how many it clears within the latency."""
    return acceptable_latency.to_seconds() / seconds_per_message


class Ec2QueueWorkers(Construct):
    """``.auto_scaling_group`` of instances from ``.launch_template`` running the worker.

    ``seconds_per_message`` is one instance's throughput, all its threads
    together: 0.1 means an instance clears ten messages a second. The group
    keeps about ``.target_backlog_per_instance`` visible messages per instance.
    ``table_write_capacity`` (the table's provisioned WCU) paces each instance
    to ``WCU / max_capacity``, so the whole group never exceeds the table
    (FACTS §3). ``.role``, ``.scaling_policy``, ``.lifecycle_hook``,
    ``.security_group`` and ``.wheel`` are public for extension; custom
    handlers (``module:function``) must be importable on the instance, e.g.
    installed by commands added to ``.launch_template.user_data``.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        queue: QueueWithDlq,
        vpc: ec2.IVpc,
        max_processing_time: Duration,
        acceptable_latency: Duration,
        seconds_per_message: float,
        handler: str = BUILTIN_WRITE_BUFFER,
        environment: Mapping[str, str] | None = None,
        table: dynamodb.ITable | None = None,
        table_write_capacity: int | None = None,
        key_fields: Sequence[str] = (),
        version_field: str | None = None,
        payload_bucket: LargePayloadBucket | None = None,
        instance_type: ec2.InstanceType | None = None,
        min_capacity: int = 1,
        max_capacity: int = 4,
        concurrency: int = 4,
        max_messages: int = MAX_RECEIVE_BATCH,
        wait_time: Duration = Duration.seconds(MAX_WAIT_S),
        drain_timeout: Duration | None = None,
        instance_warmup: Duration = Duration.minutes(3),
        root_volume_gib: int = MIN_ROOT_GIB,
        vpc_subnets: ec2.SubnetSelection | None = None,
        allow_short_visibility: bool = False,
    ) -> None:
        super().__init__(scope, id_)
        instance_type = instance_type or ec2.InstanceType("t4g.small")
        environment = dict(environment or {})
        drain = drain_timeout if drain_timeout is not None else max_processing_time
        problems = Problems(f"Ec2QueueWorkers '{self.node.path}'")
        _validate(
            problems,
            fifo=queue.fifo,
            handler=handler,
            environment=environment,
            table=table,
            table_write_capacity=table_write_capacity,
            key_fields=key_fields,
            version_field=version_field,
            min_capacity=min_capacity,
            max_capacity=max_capacity,
            concurrency=concurrency,
            max_messages=max_messages,
            wait_s=wait_time.to_seconds(),
            max_processing_s=max_processing_time.to_seconds(),
            latency_s=acceptable_latency.to_seconds(),
            seconds_per_message=seconds_per_message,
            drain_s=drain.to_seconds(),
            warmup_s=instance_warmup.to_seconds(),
            root_volume_gib=root_volume_gib,
        )
        problems.raise_if_any()
        processing_s = math.ceil(max_processing_time.to_seconds())
        queue.ensure_visibility_at_least(
            Duration.seconds(processing_s),
            reason=(
                f"the workers' maximum processing time ({processing_s} s), so that a record "
                "is not handed to a second worker if the heartbeat that extends it is lost"
            ),
            allow_short=allow_short_visibility,
        )
        self.queue = queue
        self.target_backlog_per_instance = backlog_target(acceptable_latency, seconds_per_message)
        self.drain_timeout_s = math.ceil(drain.to_seconds())
        self.stop_timeout_s = (
            self.drain_timeout_s + math.ceil(wait_time.to_seconds()) + _STOP_SLACK_S
        )
        heartbeat_s = self.stop_timeout_s + _HOOK_SLACK_S

        # ------------------------------------------------------------------ identity
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description=f"Instances of {self.node.path}",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSSMManagedInstanceCore")
            ],
        )
        acknowledge(
            self.role,
            "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
            "AmazonSSMManagedInstanceCore]",
            "Session Manager is the only way onto these instances (no SSH key, no inbound "
            "rule); AWS maintains the minimal policy its agent needs.",
        )
        queue.queue.grant_consume_messages(self.role)
        # boto3 does not read the region from the instance metadata.
        env: dict[str, str] = {"AWS_DEFAULT_REGION": Stack.of(self).region}
        if table is not None:
            env["TABLE_NAME"] = table.table_name
            table.grant(
                self.role, "dynamodb:PutItem" if version_field else "dynamodb:BatchWriteItem"
            )
        if key_fields:
            env["KEY_FIELDS"] = ",".join(key_fields)
        if version_field:
            env["VERSION_FIELD"] = version_field
        if table_write_capacity is not None:
            env["WCU_PER_SECOND"] = f"{_share(table_write_capacity, max_capacity):g}"
        grants: list[iam.Policy] = []
        if payload_bucket is not None:
            env["PAYLOAD_BUCKET"] = payload_bucket.bucket.bucket_name
            grants.append(payload_bucket.grant_read(self.role))
        self.environment = {**env, **environment}

        # ------------------------------------------------------------------ the package
        project = Project.load()
        self.wheel = s3_assets.Asset(
            self,
            "Wheel",
            path=str(PACKAGE_DIR),
            asset_hash_type=AssetHashType.OUTPUT,
            bundling=BundlingOptions(
                image=DockerImage.from_registry("unused-local-bundling-only"),
                local=WheelBundler(),
                output_type=BundlingOutput.SINGLE_FILE,
            ),
        )
        # Exactly the one object, not the whole asset bucket (Asset.grant_read).
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[self.wheel.bucket.arn_for_objects(self.wheel.s3_object_key)],
            )
        )

        # ------------------------------------------------------------------ instances
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            allow_all_outbound=False,
            description=f"{self.node.path}: no inbound; HTTPS out to AWS APIs and package repos",
        )
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to AWS APIs and package repositories"
        )
        subnets = vpc_subnets or ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
        arm = instance_type.architecture == ec2.InstanceArchitecture.ARM_64
        user_data = ec2.UserData.for_linux()
        user_data.add_commands(
            *_install_commands(
                wheel_url=f"s3://{self.wheel.s3_bucket_name}/{self.wheel.s3_object_key}",
                wheel_name=project.wheel_name,
            ),
            *_service_commands(
                environment=self.environment,
                exec_start=_worker_command(
                    queue_url=queue.queue.queue_url,
                    handler=handler,
                    concurrency=concurrency,
                    max_messages=max_messages,
                    wait_s=math.ceil(wait_time.to_seconds()),
                    drain_s=self.drain_timeout_s,
                ),
                stop_timeout_s=self.stop_timeout_s,
                region=env["AWS_DEFAULT_REGION"],
            ),
        )
        self.launch_template = ec2.LaunchTemplate(
            self,
            "LaunchTemplate",
            machine_image=ec2.MachineImage.latest_amazon_linux2023(
                cpu_type=ec2.AmazonLinuxCpuType.ARM_64 if arm else ec2.AmazonLinuxCpuType.X86_64
            ),
            instance_type=instance_type,
            role=self.role,
            user_data=user_data,
            security_group=self.security_group,
            require_imdsv2=True,
            http_put_response_hop_limit=1,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",
                    volume=ec2.BlockDeviceVolume.ebs(
                        root_volume_gib,
                        encrypted=True,
                        delete_on_termination=True,
                        volume_type=ec2.EbsDeviceVolumeType.GP3,
                    ),
                )
            ],
        )
        self.auto_scaling_group = autoscaling.AutoScalingGroup(
            self,
            "Group",
            vpc=vpc,
            vpc_subnets=subnets,
            launch_template=self.launch_template,
            min_capacity=min_capacity,
            max_capacity=max_capacity,
            default_instance_warmup=instance_warmup,
            # GroupInServiceInstances is the divisor of the scaling metric.
            group_metrics=[
                autoscaling.GroupMetrics(
                    autoscaling.GroupMetric.IN_SERVICE_INSTANCES,
                    autoscaling.GroupMetric.DESIRED_CAPACITY,
                    autoscaling.GroupMetric.TERMINATING_INSTANCES,
                )
            ],
            # A deploy with a new wheel replaces the instances; each one drains on the way out.
            update_policy=autoscaling.UpdatePolicy.rolling_update(),
        )
        self.lifecycle_hook = self.auto_scaling_group.add_lifecycle_hook(
            "Drain",
            lifecycle_hook_name=LIFECYCLE_HOOK_NAME,
            lifecycle_transition=autoscaling.LifecycleTransition.INSTANCE_TERMINATING,
            heartbeat_timeout=Duration.seconds(heartbeat_s),
            default_result=autoscaling.DefaultResult.CONTINUE,
        )
        # Instances start only once their permissions and their route out exist:
        # the user data fetches the wheel from S3 and boto3 from PyPI.
        for grant in grants:
            self.launch_template.node.add_dependency(grant)
        selected = vpc.select_subnets(
            availability_zones=subnets.availability_zones,
            one_per_az=subnets.one_per_az,
            subnet_filters=subnets.subnet_filters,
            subnet_group_name=subnets.subnet_group_name,
            subnets=subnets.subnets,
            subnet_type=subnets.subnet_type,
        )
        self.auto_scaling_group.node.add_dependency(selected.internet_connectivity_established)
        self._grant_lifecycle()
        self._acknowledge_group()
        if min_capacity == 0:
            Annotations.of(self.auto_scaling_group).add_warning_v2(
                "sqs-blueprint:WorkersFromZero",
                "min_capacity is 0: with no instance in service the backlog per instance is the "
                f"whole backlog, and target tracking may not start an instance while it stays "
                f"below the target ({self.target_backlog_per_instance:g} messages). Keep "
                "min_capacity at 1, or add a step scaling policy on the queue's visible messages.",
            )

        # ------------------------------------------------------------------ scaling
        self.scaling_policy = autoscaling.CfnScalingPolicy(
            self,
            "BacklogPerInstance",
            auto_scaling_group_name=self.auto_scaling_group.auto_scaling_group_name,
            policy_type="TargetTrackingScaling",
            estimated_instance_warmup=math.ceil(instance_warmup.to_seconds()),
            target_tracking_configuration=autoscaling.CfnScalingPolicy.TargetTrackingConfigurationProperty(
                target_value=round(self.target_backlog_per_instance, 3),
                customized_metric_specification=autoscaling.CfnScalingPolicy.CustomizedMetricSpecificationProperty(
                    metrics=_backlog_metrics(
                        queue.queue.queue_name, self.auto_scaling_group.auto_scaling_group_name
                    )
                ),
            ),
        )

    def _grant_lifecycle(self) -> None:
        """What the drain watcher needs: find its group, complete its own lifecycle action.

        A separate policy, so the launch template does not wait for the group's name.
        """
        stack = Stack.of(self)
        group_arn = stack.format_arn(
            service="autoscaling",
            resource="autoScalingGroup",
            resource_name=f"*:autoScalingGroupName/{self.auto_scaling_group.auto_scaling_group_name}",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        policy = iam.Policy(
            self,
            "LifecyclePolicy",
            statements=[
                iam.PolicyStatement(
                    actions=["autoscaling:DescribeAutoScalingInstances"], resources=["*"]
                ),
                iam.PolicyStatement(
                    actions=["autoscaling:CompleteLifecycleAction"], resources=[group_arn]
                ),
            ],
        )
        policy.attach_to_role(self.role)
        acknowledge(
            policy,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "autoscaling:DescribeAutoScalingInstances has no resource-level permissions; the "
            "drain watcher uses it to learn its own group's name.",
        )
        acknowledge(
            policy,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_text(self, group_arn)}]",
            "An Auto Scaling group's ARN holds a generated id; the wildcard stands only for "
            "that id, and the name pins this one group.",
        )

    def _acknowledge_group(self) -> None:
        acknowledge(
            self.auto_scaling_group,
            "AwsSolutions::AwsSolutions-AS3",
            "Scaling activities are in the group's activity history and on EventBridge "
            "(aws.autoscaling); subscribe there rather than to a topic per group.",
        )


def _backlog_metrics(
    queue_name: str, group_name: str
) -> list[autoscaling.CfnScalingPolicy.TargetTrackingMetricDataQueryProperty]:
    """Visible messages / in-service instances; the divisor is never zero (FACTS §8)."""
    query = autoscaling.CfnScalingPolicy.TargetTrackingMetricDataQueryProperty
    stat = autoscaling.CfnScalingPolicy.TargetTrackingMetricStatProperty
    metric = autoscaling.CfnScalingPolicy.MetricProperty
    dimension = autoscaling.CfnScalingPolicy.MetricDimensionProperty
    return [
        query(
            id="visible",
            metric_stat=stat(
                metric=metric(
                    namespace="AWS/SQS",
                    metric_name="ApproximateNumberOfMessagesVisible",
                    dimensions=[dimension(name="QueueName", value=queue_name)],
                ),
                stat="Sum",
            ),
            return_data=False,
        ),
        query(
            id="inservice",
            metric_stat=stat(
                metric=metric(
                    namespace="AWS/AutoScaling",
                    metric_name="GroupInServiceInstances",
                    dimensions=[dimension(name="AutoScalingGroupName", value=group_name)],
                ),
                stat="Average",
            ),
            return_data=False,
        ),
        query(
            id="backlog",
            expression="visible / IF(inservice > 0, inservice, 1)",
            label="Visible messages per in-service instance",
            return_data=True,
        ),
    ]


def _share(total: int, parts: int) -> float:
    """``total / parts`` rounded down to 3 decimals, so ``parts * share <= total``."""
    return math.floor(total / parts * 1000) / 1000


# ---------------------------------------------------------------------- user data


def _worker_command(
    *, queue_url: str, handler: str, concurrency: int, max_messages: int, wait_s: int, drain_s: int
) -> str:
    return (
        f"{INSTALL_DIR}/venv/bin/sqs-blueprint worker --queue-url {queue_url} "
        f"--handler {handler} --concurrency {concurrency} --max-messages {max_messages} "
        f"--wait {wait_s} --drain-timeout {drain_s}"
    )


def _install_commands(*, wheel_url: str, wheel_name: str) -> list[str]:
    wheel = f"{INSTALL_DIR}/{wheel_name}"
    return [
        "set -euo pipefail",
        f"install -d -m 0755 {INSTALL_DIR}",
        # The role's policies may take a few seconds to reach S3 after the launch.
        "for attempt in 1 2 3 4 5 6 7 8 9 10; do",
        f"  aws s3 cp '{wheel_url}' '{wheel}' && break",
        '  [ "$attempt" = 10 ] && exit 1',
        "  sleep 6",
        "done",
        "dnf install -y python3.11 python3.11-pip",
        f"python3.11 -m venv {INSTALL_DIR}/venv",
        f"{INSTALL_DIR}/venv/bin/pip install --no-cache-dir --disable-pip-version-check '{wheel}'",
        f"id -u {WORKER_USER} >/dev/null 2>&1 || "
        f"useradd --system --no-create-home --shell /sbin/nologin {WORKER_USER}",
    ]


def _service_commands(
    *, environment: Mapping[str, str], exec_start: str, stop_timeout_s: int, region: str
) -> list[str]:
    env_lines = [f"{name}={value}" for name, value in sorted(environment.items())]
    unit = [
        "[Unit]",
        "Description=sqs-blueprint queue worker",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"User={WORKER_USER}",
        f"EnvironmentFile={ENV_FILE}",
        f"ExecStart={exec_start}",
        "Restart=on-failure",
        "RestartSec=5",
        # SIGTERM starts the worker's drain; SIGKILL only after the drain deadline.
        "KillSignal=SIGTERM",
        "KillMode=mixed",
        f"TimeoutStopSec={stop_timeout_s}",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    ]
    watcher_script = [
        "#!/bin/bash",
        "# Drains the worker once the Auto Scaling group marks this instance for",
        "# termination, then completes the lifecycle action that holds it.",
        "set -uo pipefail",
        "imds() {",
        "  local token",
        "  token=$(curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' "
        "http://169.254.169.254/latest/api/token) || return 1",
        '  curl -sf -H "X-aws-ec2-metadata-token: $token" '
        '"http://169.254.169.254/latest/meta-data/$1"',
        "}",
        'until [ "$(imds autoscaling/target-lifecycle-state)" = Terminated ]; do sleep 5; done',
        f"systemctl stop {SERVICE}.service",
        "instance=$(imds instance-id)",
        'group=$(aws autoscaling describe-auto-scaling-instances --instance-ids "$instance" '
        "--query 'AutoScalingInstances[0].AutoScalingGroupName' --output text)",
        "exec aws autoscaling complete-lifecycle-action "
        f"--lifecycle-hook-name {LIFECYCLE_HOOK_NAME} "
        '--auto-scaling-group-name "$group" --instance-id "$instance" '
        "--lifecycle-action-result CONTINUE",
    ]
    watcher_unit = [
        "[Unit]",
        "Description=Drain the sqs-blueprint worker before scale-in",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"Environment=AWS_DEFAULT_REGION={region}",
        f"ExecStart=/usr/local/bin/{WATCHER}",
        "Restart=on-failure",
        "RestartSec=10",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    ]
    return [
        "install -d -m 0755 /etc/sqs-blueprint",
        *_heredoc(ENV_FILE, env_lines),
        f"chmod 0644 {ENV_FILE}",
        *_heredoc(f"/etc/systemd/system/{SERVICE}.service", unit),
        *_heredoc(f"/usr/local/bin/{WATCHER}", watcher_script),
        f"chmod 0755 /usr/local/bin/{WATCHER}",
        *_heredoc(f"/etc/systemd/system/{WATCHER}.service", watcher_unit),
        "systemctl daemon-reload",
        f"systemctl enable --now {SERVICE}.service {WATCHER}.service",
    ]


def _heredoc(path: str, lines: Sequence[str]) -> list[str]:
    """Write ``lines`` to ``path`` verbatim: the quoted delimiter turns off expansion."""
    return [f"cat > {path} <<'EOF'", *lines, "EOF"]


# ---------------------------------------------------------------------- validation


def _validate(
    problems: Problems,
    *,
    fifo: bool,
    handler: str,
    environment: Mapping[str, str],
    table: dynamodb.ITable | None,
    table_write_capacity: int | None,
    key_fields: Sequence[str],
    version_field: str | None,
    min_capacity: int,
    max_capacity: int,
    concurrency: int,
    max_messages: int,
    wait_s: float,
    max_processing_s: float,
    latency_s: float,
    seconds_per_message: float,
    drain_s: float,
    warmup_s: float,
    root_volume_gib: int,
) -> None:
    check = problems.check
    check(
        handler == BUILTIN_WRITE_BUFFER or bool(_HANDLER.match(handler)),
        "handler",
        handler,
        f"must be '{BUILTIN_WRITE_BUFFER}' or module:function (Python names only)",
        "name the function that takes one record, e.g. 'my_jobs.handlers:process'",
    )
    if handler == BUILTIN_WRITE_BUFFER:
        check(
            table is not None,
            "table",
            None,
            "the built-in write buffer writes into a DynamoDB table",
            "pass table=<the table> (string partition key 'pk')",
        )
        check(
            not (fifo and not version_field),
            "version_field",
            version_field,
            "the batched write buffer does not keep FIFO order after a failure",
            "name the body field that orders updates, e.g. version_field='version'",
        )
    check(
        all(f and "," not in f for f in key_fields),
        "key_fields",
        list(key_fields),
        "names top-level fields, none empty or containing ','",
        "list the field names, e.g. ['order_id']",
    )
    if table_write_capacity is not None:
        check(
            table_write_capacity >= max(max_capacity, 1),
            "table_write_capacity",
            table_write_capacity,
            f"each of up to max_capacity={max_capacity} instances needs at least 1 WCU/s",
            "raise the table's write capacity or lower max_capacity",
        )
    for name, value in sorted(environment.items()):
        check(
            bool(_ENV_NAME.match(name)) and name not in _RESERVED_ENV,
            "environment",
            name,
            "names are letters, digits and '_' (not starting with a digit), and not one the "
            f"pattern sets itself ({', '.join(_RESERVED_ENV)})",
            "rename the variable, or use the pattern's own setting (table, key_fields, ...)",
        )
        check(
            Token.is_unresolved(value) or not _ENV_UNSAFE.search(value),
            f"environment[{name!r}]",
            value,
            "values go into a systemd environment file and may not contain newlines, quotes, "
            "backslashes, '$', '`' or '%'",
            "pass a plain value",
        )
    check(
        min_capacity >= 0,
        "min_capacity",
        min_capacity,
        "must be 0 or more",
        "use 1 so that a small backlog is always served",
    )
    check(
        max_capacity >= 1,
        "max_capacity",
        max_capacity,
        "must be at least 1",
        "allow at least one instance",
    )
    check(
        min_capacity <= max_capacity,
        "min_capacity",
        min_capacity,
        f"must not exceed max_capacity ({max_capacity})",
        "lower min_capacity or raise max_capacity",
    )
    check(concurrency >= 1, "concurrency", concurrency, "must be at least 1", "use 1 or more")
    check(
        1 <= max_messages <= MAX_RECEIVE_BATCH,
        "max_messages",
        max_messages,
        f"must be 1..{MAX_RECEIVE_BATCH} (ReceiveMessage limit)",
        "use 10 for the fewest requests",
    )
    check(
        0 <= wait_s <= MAX_WAIT_S,
        "wait_time",
        f"{wait_s:g} s",
        f"must be 0..{MAX_WAIT_S} s (long polling)",
        f"use {MAX_WAIT_S} s for the fewest empty receives",
    )
    check(
        0 < max_processing_s <= MAX_VISIBILITY_S,
        "max_processing_time",
        f"{max_processing_s:g} s",
        f"must be more than 0 and at most {MAX_VISIBILITY_S} s (the longest visibility timeout)",
        "declare the longest time one record may take",
    )
    check(
        latency_s > 0,
        "acceptable_latency",
        f"{latency_s:g} s",
        "must be more than 0",
        "declare how long a message may wait before it is processed",
    )
    check(
        seconds_per_message > 0,
        "seconds_per_message",
        seconds_per_message,
        "must be more than 0",
        "measure one instance's throughput: 1 / messages per second",
    )
    if latency_s > 0 and seconds_per_message > 0:
        target = latency_s / seconds_per_message
        check(
            target >= 1,
            "acceptable_latency",
            f"{latency_s:g} s",
            f"over seconds_per_message ({seconds_per_message:g}) gives a target backlog of "
            f"{target:g} messages per instance; it must be at least 1",
            "accept a latency of at least one message's processing time",
        )
    most_drain = MAX_HEARTBEAT_S - _HOOK_SLACK_S - _STOP_SLACK_S - MAX_WAIT_S
    check(
        0 < drain_s <= most_drain,
        "drain_timeout",
        f"{drain_s:g} s",
        f"must be more than 0 and at most {most_drain} s: the scale-in lifecycle hook holds an "
        f"instance for at most {MAX_HEARTBEAT_S} s",
        "pass drain_timeout explicitly; records still running then return to the queue",
    )
    check(
        0 <= warmup_s <= 3_600,
        "instance_warmup",
        f"{warmup_s:g} s",
        "must be 0..3600 s",
        "use about the time from launch to the worker's first receive",
    )
    check(
        root_volume_gib >= MIN_ROOT_GIB,
        "root_volume_gib",
        root_volume_gib,
        f"must be at least {MIN_ROOT_GIB} (the Amazon Linux 2023 AMI's root snapshot)",
        f"use {MIN_ROOT_GIB} or more",
    )
