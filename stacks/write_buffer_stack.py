"""The write-buffer pipeline: a standard queue pair in front of DynamoDB."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from constructs import Construct

from stacks.config import WriteBufferConfig
from stacks.outputs import export_queue_pair
from stacks.patterns import QueueWithDlq


class WriteBufferStack(Stack):
    def __init__(
        self, scope: Construct, id_: str, *, config: WriteBufferConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        q = config.queue
        self.queues = QueueWithDlq(
            self,
            "Ingest",
            max_receive_count=q.max_receive_count,
            retention_period=Duration.days(q.retention_days),
            dlq_retention_period=Duration.days(q.dlq_retention_days),
            customer_managed_key=q.customer_managed_key,
        )
        export_queue_pair(self, "Ingest", self.queues)
