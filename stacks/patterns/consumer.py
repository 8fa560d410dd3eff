"""A Lambda function consuming a QueueWithDlq through an event-source mapping.

Rules, with their sources in FACTS §2:
- partial batch responses (ReportBatchItemFailures) are always on;
- batch size 1..10,000, more than 10 needs a batching window of at least 1 s;
  FIFO queues take at most 10 and no window; the window is at most 300 s;
- maximum concurrency 2..1,000 (it bounds the consumer without throttling);
- the source queue's visibility is at least 6 x function timeout + window.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from sqs_blueprint import capacity
from stacks.patterns import powertools
from stacks.patterns._validation import Problems
from stacks.patterns.bundling import function_code
from stacks.patterns.queue_pair import QueueWithDlq

# FACTS §2 and the Lambda service limits.
MAX_BATCH_SIZE = 10_000
MAX_FIFO_BATCH_SIZE = 10
MAX_WINDOW_S = 300
MIN_CONCURRENCY, MAX_CONCURRENCY = 2, 1_000
MAX_FUNCTION_TIMEOUT_S = 900


class SqsLambdaConsumer(Construct):
    """``.function`` consumes ``queue.queue`` through ``.event_source_mapping``."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        queue: QueueWithDlq,
        handler: str,
        function_timeout: Duration,
        max_concurrency: int,
        batch_size: int = 10,
        max_batching_window: Duration | None = None,
        memory_size: int = 256,
        environment: Mapping[str, str] | None = None,
        architecture: lambda_.Architecture = lambda_.Architecture.ARM_64,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        allow_short_visibility: bool = False,
        description: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        window_s = int(max_batching_window.to_seconds()) if max_batching_window else 0
        timeout_s = int(function_timeout.to_seconds())
        problems = Problems(f"SqsLambdaConsumer '{self.node.path}'")
        _validate(
            problems,
            fifo=queue.fifo,
            batch_size=batch_size,
            window_s=window_s,
            window_given=max_batching_window is not None,
            max_concurrency=max_concurrency,
            timeout_s=timeout_s,
        )
        problems.raise_if_any()
        queue.ensure_visibility_at_least(
            Duration.seconds(capacity.visibility_timeout(timeout_s, window_s)),
            reason=(
                f"6 x function timeout ({timeout_s} s) + batching window ({window_s} s), "
                "as AWS advises for Lambda consumers"
            ),
            allow_short=allow_short_visibility,
        )
        self.queue = queue

        self.log_group = logs.LogGroup(
            self, "Logs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs {self.node.path}",
        )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=powertools.RUNTIME,
            architecture=architecture,
            handler="handler.lambda_handler",
            code=function_code(handler),
            timeout=function_timeout,
            memory_size=memory_size,
            role=self.role,
            log_group=self.log_group,
            layers=[powertools.layer(self, architecture)],
            environment={"POWERTOOLS_LOG_LEVEL": "INFO", **(environment or {})},
            description=description,
        )
        self.log_group.grant_write(self.role)
        consume = queue.queue.grant_consume_messages(self.role)
        self.event_source_mapping = lambda_.EventSourceMapping(
            self,
            "Mapping",
            target=self.function,
            event_source_arn=queue.queue.queue_arn,
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            max_concurrency=max_concurrency,
            report_batch_item_failures=True,
        )
        # The mapping polls with the function's role: its permissions must exist first.
        self.event_source_mapping.node.add_dependency(consume)


def _validate(
    problems: Problems,
    *,
    fifo: bool,
    batch_size: int,
    window_s: int,
    window_given: bool,
    max_concurrency: int,
    timeout_s: int,
) -> None:
    check = problems.check
    check(
        1 <= batch_size <= MAX_BATCH_SIZE,
        "batch_size",
        batch_size,
        f"must be 1..{MAX_BATCH_SIZE}",
        "choose a batch size within the limit",
    )
    check(
        0 <= window_s <= MAX_WINDOW_S,
        "max_batching_window",
        f"{window_s} s",
        f"must be 0..{MAX_WINDOW_S} s",
        "shorten the batching window",
    )
    if fifo:
        check(
            batch_size <= MAX_FIFO_BATCH_SIZE,
            "batch_size",
            batch_size,
            f"a FIFO queue delivers at most {MAX_FIFO_BATCH_SIZE} records per batch",
            "use batch_size <= 10",
        )
        check(
            not window_given,
            "max_batching_window",
            f"{window_s} s",
            "FIFO event-source mappings take no batching window",
            "drop max_batching_window",
        )
    elif batch_size > MAX_FIFO_BATCH_SIZE:
        check(
            window_s >= 1,
            "batch_size",
            batch_size,
            "a batch of more than 10 records needs a batching window of at least 1 s",
            "set max_batching_window=Duration.seconds(1) or more, or batch_size <= 10",
        )
    check(
        MIN_CONCURRENCY <= max_concurrency <= MAX_CONCURRENCY,
        "max_concurrency",
        max_concurrency,
        f"must be {MIN_CONCURRENCY}..{MAX_CONCURRENCY} (ScalingConfig.MaximumConcurrency)",
        "bound every consumer: choose a value in range",
    )
    check(
        1 <= timeout_s <= MAX_FUNCTION_TIMEOUT_S,
        "function_timeout",
        f"{timeout_s} s",
        f"must be 1..{MAX_FUNCTION_TIMEOUT_S} s",
        "choose a Lambda timeout within the limit",
    )
