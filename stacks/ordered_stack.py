"""The ordered pipeline: a FIFO queue pair, in order per message group."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from constructs import Construct

from stacks.config import OrderedConfig
from stacks.outputs import export_queue_pair, observe
from stacks.patterns import DynamoWriteBuffer, QueueWithDlq


class OrderedStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: OrderedConfig,
        powertools_layer_version: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        q, t = config.queue, config.table
        self.queues = QueueWithDlq(
            self,
            "Events",
            fifo=True,
            high_throughput=config.high_throughput,
            max_receive_count=q.max_receive_count,
            retention_period=Duration.days(q.retention_days),
            dlq_retention_period=Duration.days(q.dlq_retention_days),
            customer_managed_key=q.customer_managed_key,
        )
        self.buffer = DynamoWriteBuffer(
            self,
            "Buffer",
            queue=self.queues,
            handler="ordered",
            version_field=config.version_field,
            write_capacity=t.write_capacity,
            read_capacity=t.read_capacity,
            item_kb=t.item_kb,
            function_timeout=Duration.seconds(t.function_timeout_s),
            batch_size=t.batch_size,
            key_fields=t.key_fields,
            powertools_layer_version=powertools_layer_version,
        )
        export_queue_pair(self, "Events", self.queues)
        CfnOutput(self, "TableName", value=self.buffer.table.table_name)
        CfnOutput(self, "FunctionName", value=self.buffer.consumer.function.function_name)
        self.observability = observe(
            self,
            self.queues,
            config.alarms,
            consumer_function=self.buffer.consumer.function,
            table=self.buffer.table,
        )
