"""``Ec2QueueWorkers``: the role, the package asset, the instances, the drain hook, the scaling."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from aws_cdk import (
    Annotations,
    AssetHashType,
    BundlingOptions,
    BundlingOutput,
    DockerImage,
    Duration,
    RemovalPolicy,
    Stack,
)
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from sqs_blueprint.capacity import share
from sqs_blueprint.write_buffer import key_fields_text, wcu_text
from sqs_blueprint_cdk import tracing as worker_tracing
from sqs_blueprint_cdk._validation import Problems, acknowledge
from sqs_blueprint_cdk.payload_bucket import LargePayloadBucket
from sqs_blueprint_cdk.queue_pair import QueueWithDlq
from sqs_blueprint_cdk.workers import user_data
from sqs_blueprint_cdk.workers.bundle import PACKAGE_DIR, BundleBuilder, Target
from sqs_blueprint_cdk.workers.drain import add_drain_hook, grant_lifecycle
from sqs_blueprint_cdk.workers.health import (
    HEARTBEAT_ENV,
    grant_set_health,
    heartbeat_metric,
    instance_role,
)
from sqs_blueprint_cdk.workers.image import LATEST, machine_image
from sqs_blueprint_cdk.workers.scaling import backlog_scaling_policy, backlog_target
from sqs_blueprint_cdk.workers.validation import (
    BUILTIN_WRITE_BUFFER,
    HOOK_SLACK_S,
    MAX_RECEIVE_BATCH,
    MAX_WAIT_S,
    MIN_ROOT_GIB,
    SIGNAL_TIMEOUT,
    STOP_SLACK_S,
    Settings,
    validate,
)


class Ec2QueueWorkers(Construct):
    """``.auto_scaling_group`` of instances from ``.launch_template`` running the worker.

    ``seconds_per_message`` is one instance's throughput, all its threads
    together: 0.1 means an instance clears ten messages a second. The group
    keeps about ``.target_backlog_per_instance`` visible messages per instance.
    ``table_write_capacity`` (the table's provisioned WCU) paces each instance
    to ``WCU / max_capacity``, so the whole group never exceeds the table
    (docs/aws-facts.md#dynamodb). ``.role``, ``.scaling_policy``, ``.lifecycle_hook``,
    ``.security_group``, ``.log_group`` and ``.bundle`` (the S3 asset with
    the package's and its dependencies' wheels) are public for extension;
    custom handlers (``module:function``) must be importable on the instance.

    Each instance signals CloudFormation once the worker has stayed active,
    or signals failure: the group's creation waits for ``min_capacity``
    signals and a rolling update replaces one instance at a time, keeping
    ``min_capacity`` in service and waiting for each new instance's signal
    (up to ``SIGNAL_TIMEOUT``), so a broken boot fails the deploy and rolls
    it back instead of leaving instances that never work.
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
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        vpc_subnets: ec2.SubnetSelection | None = None,
        allow_short_visibility: bool = False,
        ami: str = LATEST,
        tracing: str = worker_tracing.OFF,
    ) -> None:
        super().__init__(scope, id_)
        self.ami = ami  # image.py: "latest", an AMI id or "ssm:/name"
        instance_type = instance_type or ec2.InstanceType("t4g.small")
        drain = drain_timeout if drain_timeout is not None else max_processing_time
        problems = Problems(f"Ec2QueueWorkers '{self.node.path}'")
        settings = Settings(
            fifo=queue.fifo,
            handler=handler,
            environment=dict(environment or {}),
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
        validate(problems, settings)
        worker_tracing.check(problems, tracing)
        problems.raise_if_any()
        self.tracing = tracing
        _cover_processing_time(queue, max_processing_time, allow_short_visibility)
        self.queue = queue
        self.target_backlog_per_instance = backlog_target(acceptable_latency, seconds_per_message)
        self.drain_timeout_s = math.ceil(drain.to_seconds())
        self.stop_timeout_s = self.drain_timeout_s + math.ceil(settings.wait_s) + STOP_SLACK_S

        grants = self._identity(settings, payload_bucket)
        arm = instance_type.architecture == ec2.InstanceArchitecture.ARM_64
        self._package(Target.for_arm(arm))
        self._logs(log_retention)
        self._instances(settings, vpc, vpc_subnets, instance_type, instance_warmup)
        self.lifecycle_hook = add_drain_hook(
            self.auto_scaling_group, Duration.seconds(self.stop_timeout_s + HOOK_SLACK_S)
        )
        # Instances start only once their permissions and their route out exist:
        # the user data fetches the bundle from S3 and then calls AWS APIs.
        for grant in grants:
            self.launch_template.node.add_dependency(grant)
        self._after_the_route_out(vpc, vpc_subnets)
        grant_lifecycle(self, self.role, self.auto_scaling_group)
        grant_set_health(self, self.role, self.auto_scaling_group)
        self.heartbeat = heartbeat_metric(queue)
        self._acknowledge_group()
        if min_capacity == 0:
            self._warn_scaling_from_zero()
        self.scaling_policy = backlog_scaling_policy(
            self,
            group_name=self.auto_scaling_group.auto_scaling_group_name,
            queue_name=queue.queue.queue_name,
            target=self.target_backlog_per_instance,
            instance_warmup=instance_warmup,
        )

    def _identity(
        self, settings: Settings, payload_bucket: LargePayloadBucket | None
    ) -> list[iam.Policy]:
        """The instance role and the worker's environment; returns the grants to wait for."""
        self.role = instance_role(self)
        self.queue.queue.grant_consume_messages(self.role)
        # boto3 does not read the region from the instance metadata.
        env: dict[str, str] = {"AWS_DEFAULT_REGION": Stack.of(self).region, **HEARTBEAT_ENV}
        table = settings.table
        if table is not None:
            env["TABLE_NAME"] = table.table_name
            table.grant(
                self.role,
                "dynamodb:PutItem" if settings.version_field else "dynamodb:BatchWriteItem",
            )
        if settings.key_fields:
            env["KEY_FIELDS"] = key_fields_text(settings.key_fields)
        if settings.version_field:
            env["VERSION_FIELD"] = settings.version_field
        if settings.table_write_capacity is not None:
            env["WCU_PER_SECOND"] = wcu_text(
                share(settings.table_write_capacity, settings.max_capacity)
            )
        grants: list[iam.Policy] = []
        if payload_bucket is not None:
            env["PAYLOAD_BUCKET"] = payload_bucket.bucket.bucket_name
            grants.append(payload_bucket.grant_read(self.role))
        env |= worker_tracing.worker_environment(self.tracing, Stack.of(self).region)
        traced = worker_tracing.grant_worker(self, self.role, self.tracing)
        self.environment = {**env, **settings.environment}
        return [*grants, *([traced] if traced else [])]

    def _package(self, target: Target) -> None:
        """The install bundle as an asset; the role may read exactly that object."""
        self.bundle = s3_assets.Asset(
            self,
            "Bundle",
            path=str(PACKAGE_DIR),
            asset_hash_type=AssetHashType.OUTPUT,
            bundling=BundlingOptions(
                image=DockerImage.from_registry("unused-local-bundling-only"),
                local=BundleBuilder(target),
                output_type=BundlingOutput.NOT_ARCHIVED,
            ),
        )
        # Exactly the one object, not the whole asset bucket (Asset.grant_read).
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[self.bundle.bucket.arn_for_objects(self.bundle.s3_object_key)],
            )
        )

    def _logs(self, retention: logs.RetentionDays) -> None:
        """The worker's output and boot log; the role may write to this group only."""
        self.log_group = logs.LogGroup(
            self, "Logs", retention=retention, removal_policy=RemovalPolicy.DESTROY
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=[self.log_group.log_group_arn],
            )
        )

    def _instances(
        self,
        settings: Settings,
        vpc: ec2.IVpc,
        vpc_subnets: ec2.SubnetSelection | None,
        instance_type: ec2.InstanceType,
        instance_warmup: Duration,
    ) -> None:
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
        boot = ec2.UserData.for_linux()
        self.launch_template = self._launch_template(instance_type, settings, boot)
        self.auto_scaling_group = self._group(settings, vpc, vpc_subnets, instance_warmup)
        self._boot_script(boot, settings)

    def _group(
        self,
        settings: Settings,
        vpc: ec2.IVpc,
        vpc_subnets: ec2.SubnetSelection | None,
        instance_warmup: Duration,
    ) -> autoscaling.AutoScalingGroup:
        return autoscaling.AutoScalingGroup(
            self,
            "Group",
            vpc=vpc,
            vpc_subnets=_subnets(vpc_subnets),
            launch_template=self.launch_template,
            min_capacity=settings.min_capacity,
            max_capacity=settings.max_capacity,
            default_instance_warmup=instance_warmup,
            # GroupInServiceInstances is the divisor of the scaling metric.
            group_metrics=[
                autoscaling.GroupMetrics(
                    autoscaling.GroupMetric.IN_SERVICE_INSTANCES,
                    autoscaling.GroupMetric.DESIRED_CAPACITY,
                    autoscaling.GroupMetric.TERMINATING_INSTANCES,
                )
            ],
            # Creation waits for min_capacity instances to report a running worker.
            signals=autoscaling.Signals.wait_for_min_capacity(timeout=SIGNAL_TIMEOUT)
            if settings.min_capacity
            else None,
            # A deploy with a new bundle replaces the instances one at a time, keeping
            # min_capacity in service and waiting for each new one's signal; each old one
            # drains on the way out.
            update_policy=autoscaling.UpdatePolicy.rolling_update(
                max_batch_size=1,
                min_instances_in_service=settings.min_capacity,
                wait_on_resource_signals=True,
                pause_time=SIGNAL_TIMEOUT,
            ),
        )

    def _boot_script(self, boot: ec2.UserData, settings: Settings) -> None:
        """The user data: install offline, start the worker, signal this group."""
        unit = user_data.worker_unit(
            queue_url=self.queue.queue.queue_url,
            handler=settings.handler,
            concurrency=settings.concurrency,
            max_messages=settings.max_messages,
            wait_s=math.ceil(settings.wait_s),
            drain_s=self.drain_timeout_s,
            stop_timeout_s=self.stop_timeout_s,
        )
        stack = Stack.of(self)
        group = self.auto_scaling_group.node.default_child
        assert isinstance(group, autoscaling.CfnAutoScalingGroup)
        boot.add_commands(
            user_data.boot_script(
                bundle_url=f"s3://{self.bundle.s3_bucket_name}/{self.bundle.s3_object_key}",
                environment=self.environment,
                worker_unit=unit,
                stack=stack.stack_name,
                resource=stack.get_logical_id(group),
                region=self.environment["AWS_DEFAULT_REGION"],
                log_group=self.log_group.log_group_name,
            )
        )

    def _launch_template(
        self, instance_type: ec2.InstanceType, settings: Settings, boot: ec2.UserData
    ) -> ec2.LaunchTemplate:
        arm = instance_type.architecture == ec2.InstanceArchitecture.ARM_64
        return ec2.LaunchTemplate(
            self,
            "LaunchTemplate",
            machine_image=machine_image(self, self.ami, arm=arm),
            instance_type=instance_type,
            role=self.role,
            user_data=boot,
            security_group=self.security_group,
            require_imdsv2=True,
            http_put_response_hop_limit=1,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",
                    volume=ec2.BlockDeviceVolume.ebs(
                        settings.root_volume_gib,
                        encrypted=True,
                        delete_on_termination=True,
                        volume_type=ec2.EbsDeviceVolumeType.GP3,
                    ),
                )
            ],
        )

    def _after_the_route_out(self, vpc: ec2.IVpc, vpc_subnets: ec2.SubnetSelection | None) -> None:
        subnets = _subnets(vpc_subnets)
        selected = vpc.select_subnets(
            availability_zones=subnets.availability_zones,
            one_per_az=subnets.one_per_az,
            subnet_filters=subnets.subnet_filters,
            subnet_group_name=subnets.subnet_group_name,
            subnets=subnets.subnets,
            subnet_type=subnets.subnet_type,
        )
        self.auto_scaling_group.node.add_dependency(selected.internet_connectivity_established)

    def _warn_scaling_from_zero(self) -> None:
        Annotations.of(self.auto_scaling_group).add_warning_v2(
            "sqs-blueprint:WorkersFromZero",
            "min_capacity is 0: with no instance in service the backlog per instance is the "
            f"whole backlog, and target tracking may not start an instance while it stays "
            f"below the target ({self.target_backlog_per_instance:g} messages). Keep "
            "min_capacity at 1, or add a step scaling policy on the queue's visible messages.",
        )

    def _acknowledge_group(self) -> None:
        acknowledge(
            self.auto_scaling_group,
            "AwsSolutions::AwsSolutions-AS3",
            "No SNS notifications per group: a failed boot fails the deployment through the "
            "CreationPolicy resource signals, in-service instances are on the pipeline "
            "dashboard, and Auto Scaling records every launch and termination in the group's "
            "activity history and as EventBridge events without setup.",
        )


def _subnets(selection: ec2.SubnetSelection | None) -> ec2.SubnetSelection:
    return selection or ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)


def _cover_processing_time(queue: QueueWithDlq, processing: Duration, allow_short: bool) -> None:
    processing_s = math.ceil(processing.to_seconds())
    queue.ensure_visibility_at_least(
        Duration.seconds(processing_s),
        reason=(
            f"the workers' maximum processing time ({processing_s} s), so that a record "
            "is not handed to a second worker if the heartbeat that extends it is lost"
        ),
        allow_short=allow_short,
    )
