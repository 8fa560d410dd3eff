"""The ordered pipeline: a FIFO queue pair, in order per message group."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from constructs import Construct

from sqs_blueprint_cdk import DynamoWriteBuffer, QueueWithDlq
from stacks.config import OrderedConfig
from stacks.inputs import add_inputs
from stacks.outputs import export_queue_pair, observe_consumer


class OrderedStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: OrderedConfig,
        tracing: str = "off",
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
            tracing=tracing,
        )
        export_queue_pair(self, "Events", self.queues)
        self.observability = observe_consumer(
            self,
            self.queues,
            config.alarms,
            Duration.seconds(config.acceptable_latency_s),
            self.buffer.consumer,
            self.buffer.table,
        )
        self.inputs = add_inputs(
            self,
            raw=config.inputs,
            queue=self.queues,
            observability=self.observability,
            function=self.buffer.consumer.function,
            known_fields=(*config.table.key_fields, config.version_field),
        )
