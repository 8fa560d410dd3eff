"""The write-buffer pipeline: a standard queue pair, a payload bucket, DynamoDB."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from constructs import Construct

from sqs_blueprint_cdk import (
    DynamoWriteBuffer,
    LargePayloadBucket,
    QueueWithDlq,
)
from stacks.config import WriteBufferConfig
from stacks.inputs import add_inputs
from stacks.outputs import export_queue_pair, observe_consumer


class WriteBufferStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: WriteBufferConfig,
        tracing: str = "off",
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.queues = QueueWithDlq(
            self,
            "Ingest",
            **config.queue.props(),
        )
        self.payloads = LargePayloadBucket(self, "Payloads", queues=[self.queues])
        self.buffer = DynamoWriteBuffer(
            self,
            "Buffer",
            queue=self.queues,
            **config.table.props(),
            payload_bucket=self.payloads,
            tracing=tracing,
        )
        export_queue_pair(self, "Ingest", self.queues)
        CfnOutput(self, "PayloadBucketName", value=self.payloads.bucket.bucket_name)
        self.observability = observe_consumer(
            self,
            self.queues,
            config.alarms,
            Duration.seconds(config.acceptable_latency_s),
            self.buffer.consumer,
            self.buffer.table,
            tenants=config.queue.tenants,
        )
        self.inputs = add_inputs(
            self,
            raw=config.inputs,
            queue=self.queues,
            observability=self.observability,
            function=self.buffer.consumer.function,
            known_fields=config.table.key_fields or None,
        )
