"""The ordered pipeline: a FIFO queue pair, in order per message group."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from constructs import Construct

from stacks.config import OrderedConfig
from stacks.outputs import export_queue_pair
from stacks.patterns import QueueWithDlq


class OrderedStack(Stack):
    def __init__(self, scope: Construct, id_: str, *, config: OrderedConfig, **kwargs: Any) -> None:
        super().__init__(scope, id_, **kwargs)
        q = config.queue
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
        export_queue_pair(self, "Events", self.queues)
