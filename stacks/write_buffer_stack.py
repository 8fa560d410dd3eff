"""The write-buffer pipeline: a standard queue pair, a payload bucket, DynamoDB."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from constructs import Construct

from stacks.config import WriteBufferConfig
from stacks.outputs import export_queue_pair, observe
from stacks.patterns import (
    DynamoWriteBuffer,
    LargePayloadBucket,
    QueueWithDlq,
)


class WriteBufferStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: WriteBufferConfig,
        powertools_layer_version: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        q, t = config.queue, config.table
        self.queues = QueueWithDlq(
            self,
            "Ingest",
            max_receive_count=q.max_receive_count,
            retention_period=Duration.days(q.retention_days),
            dlq_retention_period=Duration.days(q.dlq_retention_days),
            customer_managed_key=q.customer_managed_key,
        )
        self.payloads = LargePayloadBucket(self, "Payloads", queues=[self.queues])
        self.buffer = DynamoWriteBuffer(
            self,
            "Buffer",
            queue=self.queues,
            write_capacity=t.write_capacity,
            read_capacity=t.read_capacity,
            item_kb=t.item_kb,
            function_timeout=Duration.seconds(t.function_timeout_s),
            batch_size=t.batch_size,
            max_batching_window=Duration.seconds(t.batching_window_s)
            if t.batching_window_s
            else None,
            key_fields=t.key_fields,
            payload_bucket=self.payloads,
            powertools_layer_version=powertools_layer_version,
        )
        export_queue_pair(self, "Ingest", self.queues)
        CfnOutput(self, "PayloadBucketName", value=self.payloads.bucket.bucket_name)
        CfnOutput(self, "TableName", value=self.buffer.table.table_name)
        CfnOutput(self, "FunctionName", value=self.buffer.consumer.function.function_name)
        self.observability = observe(
            self,
            self.queues,
            config.alarms,
            consumer_function=self.buffer.consumer.function,
            table=self.buffer.table,
        )
