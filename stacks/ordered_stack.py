"""The ordered pipeline: a FIFO queue pair, in order per message group."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
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
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.queues = QueueWithDlq(
            self,
            "Events",
            fifo=True,
            high_throughput=config.high_throughput,
            **config.queue.props(),
        )
        self.buffer = DynamoWriteBuffer(
            self,
            "Buffer",
            queue=self.queues,
            handler="ordered",
            version_field=config.version_field,
            **config.table.props(),
        )
        export_queue_pair(self, "Events", self.queues)
        CfnOutput(self, "TableName", value=self.buffer.table.table_name)
        CfnOutput(self, "FunctionName", value=self.buffer.consumer.function.function_name)
        self.observability = observe(
            self,
            self.queues,
            config.alarms,
            consumer_function=self.buffer.consumer.function,
            event_source_mapping=self.buffer.consumer.event_source_mapping,
            table=self.buffer.table,
        )
