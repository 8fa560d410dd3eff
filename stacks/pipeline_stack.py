"""A user's own pipeline: ``lambdas/<name>/handler.py`` fed by its own queue pair.

Composed from the same patterns as the write-buffer stack: a queue pair, a
Lambda consumer (its settings validated by ``SqsLambdaConsumer``), an optional
provisioned table, and the shipped pipelines' alarms and dashboard. The handler
finds the table through ``TABLE_NAME``, the fields that key its items through
``KEY_FIELDS``, its share of the write capacity (the table's WCU over the
consumer's maximum concurrency) through ``WCU_PER_SECOND`` and a retry deadline
within the function timeout through ``WRITE_DEADLINE_S``, as the write buffer
does: ``WriteBuffer.from_env()`` reads them all. The function may call
``dynamodb:BatchWriteItem`` on its table, what that idiom calls, and the
actions the block's ``table.extra_actions`` names.
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
from sqs_blueprint_cdk._validation import Problems
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
        tracing: str = "off",
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
            tracing=tracing,
            description=f"Runs lambdas/{name}/handler.py on {self.queues.node.path}",
        )
        if own and self.table:
            self.table.grant(self.consumer.role, *table_actions(self, own.extra_actions))
        export_queue_pair(self, "", self.queues)
        self.observability = observe_consumer(
            self,
            self.queues,
            config.alarms,
            Duration.seconds(config.acceptable_latency_s),
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


# What the handler idiom calls on the table: WriteBuffer.upserter().put_many.
IDIOM_ACTIONS = ("dynamodb:BatchWriteItem",)


def table_actions(stack: Stack, extra: tuple[str, ...]) -> list[str]:
    """The idiom's actions and ``extra``, each a DynamoDB action named in full."""
    problems = Problems(f"PipelineStack '{stack.node.path}'")
    for action in extra:
        problems.check(
            action.startswith("dynamodb:") and "*" not in action,
            "table.extra_actions",
            action,
            "names one DynamoDB action on the pipeline's table, in full",
            "write it as dynamodb:GetItem, dynamodb:Query, ... (no wildcard)",
        )
    problems.raise_if_any()
    return sorted({*IDIOM_ACTIONS, *extra})
