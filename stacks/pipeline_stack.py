"""A user's own pipeline: ``lambdas/<name>/handler.py`` fed by its own queue pair.

Composed from the same patterns as the write-buffer stack: a queue pair, a
Lambda consumer (its settings validated by ``SqsLambdaConsumer``), an optional
provisioned table, and the shipped pipelines' alarms and dashboard. The handler
finds the table through ``TABLE_NAME``, the fields that key its items through
``KEY_FIELDS``, its share of the write capacity (the table's WCU over the
consumer's maximum concurrency) through ``WCU_PER_SECOND`` and a retry deadline
within the function timeout through ``WRITE_DEADLINE_S``, as the write buffer
does: ``WriteBuffer.from_env()`` reads them all.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from constructs import Construct

from sqs_blueprint_cdk import (
    QueueWithDlq,
    SqsLambdaConsumer,
    provisioned_table,
    table_settings,
)
from stacks.config import PipelineConfig
from stacks.config.checks import LAMBDAS_DIR
from stacks.inputs import add_inputs
from stacks.outputs import export_queue_pair, observe_consumer


class PipelineStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        config: PipelineConfig,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.queues = QueueWithDlq(self, "Queue", fifo=config.fifo, **config.queue.props())
        own = config.table
        self.table = (
            provisioned_table(
                self, "Table", read_capacity=own.read_capacity, write_capacity=own.write_capacity
            )
            if own
            else None
        )
        timeout = Duration.seconds(config.function_timeout_s)
        environment = (
            table_settings(
                self.table,
                wcu_per_second=own.write_capacity / max(1, config.max_concurrency),
                function_timeout=timeout,
                key_fields=own.key_fields,
            ).to_env()
            if own and self.table
            else {}
        )
        window = config.batching_window_s
        self.consumer = SqsLambdaConsumer(
            self,
            "Consumer",
            queue=self.queues,
            handler=LAMBDAS_DIR / name,
            function_timeout=timeout,
            batch_size=config.batch_size,
            max_batching_window=Duration.seconds(window) if window else None,
            max_concurrency=config.max_concurrency,
            environment=environment,
            description=f"Runs lambdas/{name}/handler.py on {self.queues.node.path}",
        )
        if self.table:
            self.table.grant_read_write_data(self.consumer.role)
        export_queue_pair(self, "", self.queues)
        self.observability = observe_consumer(
            self,
            self.queues,
            config.alarms,
            self.consumer,
            self.table,
            tenants=config.queue.tenants,
        )
        self.inputs = add_inputs(
            self,
            raw=config.inputs,
            queue=self.queues,
            observability=self.observability,
            function=self.consumer.function,
            known_fields=own.key_fields if own and own.key_fields else None,
        )
