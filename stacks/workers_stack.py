"""The EC2 workers pipeline: a standard queue pair drained into DynamoDB by an
Auto Scaling group that scales on backlog per instance.

Network: a VPC over two AZs with public subnets and private subnets that reach
out through ``nat_gateways`` NAT gateways (cdk.json, per stage), plus free
gateway endpoints for S3 and DynamoDB. The instances need no package index
(their bundle carries every wheel; dnf reaches the Amazon Linux repositories in
S3 through the gateway endpoint), but they call SQS, KMS, CloudFormation (the
boot signal), CloudWatch and CloudWatch Logs, Auto Scaling and Session
Manager's ssm, ssmmessages and ec2messages. Interface endpoints for those nine
services in two AZs cost about 131 USD a month, twice as much as a NAT gateway
in each AZ (about 66 USD plus 7.30 USD of public IPv4), so the stage chooses
NAT gateways: one in dev (a single point of failure for egress, about 33 USD),
one per AZ in prod (``nat_gateways: 2``), where each private subnet leaves
through the NAT of its own AZ and one AZ's failure stops only its own workers
(docs/deploying.md, "Expected monthly cost"). The S3 and DynamoDB endpoints
keep payload and table traffic off the NAT's per-GB charge. Flow logs go to
CloudWatch Logs for a month. The AMI is the stage's ``workers.ami``
(sqs_blueprint_cdk/workers/image.py).

Alarms (DLQ depth, age of the oldest job, table write throttles) go to the
stack's alarm topic; the dashboard adds the instances in service and the
backlog per instance against the scaling target.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from sqs_blueprint_cdk import (
    Ec2QueueWorkers,
    LargePayloadBucket,
    QueueWithDlq,
    provisioned_table,
)
from stacks.config import WorkersConfig
from stacks.outputs import export_queue_pair, observe

_AZS = 2


class WorkersStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: WorkersConfig,
        tracing: str = "off",
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.queues = QueueWithDlq(
            self,
            "Jobs",
            **config.queue.props(),
        )
        self.payloads = LargePayloadBucket(self, "Payloads", queues=[self.queues])
        self.table = provisioned_table(
            self, "Table", read_capacity=config.read_capacity, write_capacity=config.write_capacity
        )
        self.vpc = self._vpc(config.nat_gateways)

        self.workers = Ec2QueueWorkers(
            self,
            "Workers",
            queue=self.queues,
            vpc=self.vpc,
            table=self.table,
            table_write_capacity=config.write_capacity,
            key_fields=config.key_fields,
            payload_bucket=self.payloads,
            instance_type=ec2.InstanceType(config.instance_type),
            min_capacity=config.min_capacity,
            max_capacity=config.max_capacity,
            concurrency=config.concurrency,
            max_processing_time=Duration.seconds(config.max_processing_time_s),
            acceptable_latency=Duration.seconds(config.acceptable_latency_s),
            seconds_per_message=config.seconds_per_message,
            instance_warmup=Duration.seconds(config.instance_warmup_s),
            ami=config.ami,
            tracing=tracing,
        )

        export_queue_pair(self, "Jobs", self.queues)
        CfnOutput(self, "PayloadBucketName", value=self.payloads.bucket.bucket_name)
        CfnOutput(self, "TableName", value=self.table.table_name)
        CfnOutput(
            self,
            "AutoScalingGroupName",
            value=self.workers.auto_scaling_group.auto_scaling_group_name,
        )
        self.observability = observe(
            self,
            self.queues,
            config.alarms,
            # A scale-out helps only once its instances are warm (README, "Alarms").
            Duration.seconds(config.acceptable_latency_s + config.instance_warmup_s),
            table=self.table,
            worker_heartbeat=self.workers.heartbeat,
            auto_scaling_group=self.workers.auto_scaling_group,
            backlog_target=self.workers.target_backlog_per_instance,
            tenants=config.queue.tenants,
        )

    def _vpc(self, nat_gateways: int) -> ec2.Vpc:
        """Two AZs, public and private subnets, S3 and DynamoDB gateway endpoints and
        flow logs (the module docstring says why)."""
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=_AZS,
            nat_gateways=nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="Public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24
                ),
                ec2.SubnetConfiguration(
                    name="Workers", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=24
                ),
            ],
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3),
                "DynamoDB": ec2.GatewayVpcEndpointOptions(
                    service=ec2.GatewayVpcEndpointAwsService.DYNAMODB
                ),
            },
        )
        flow_logs = logs.LogGroup(
            self,
            "FlowLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        vpc.add_flow_log(
            "FlowLog", destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs)
        )
        return vpc

    @property
    def availability_zones(self) -> list[str]:
        """The region's first two AZs, resolved at deploy: synth looks nothing up
        (docs/aws-facts.md#tooling)."""
        return [Fn.select(i, Fn.get_azs()) for i in range(_AZS)]
