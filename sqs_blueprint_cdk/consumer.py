"""A Lambda function consuming a QueueWithDlq through an event-source mapping.

Rules, with their sources in docs/aws-facts.md#lambda-event-source-mapping:
- partial batch responses (ReportBatchItemFailures) are always on;
- batch size 1..10,000, more than 10 needs a batching window of at least 1 s;
  FIFO queues take at most 10 and no window; the window is at most 300 s;
- maximum concurrency 2..1,000 (it bounds the consumer without throttling);
- the source queue's visibility is at least 6 x function timeout + window;
- one scaling mode: ``max_concurrency`` or ``provisioned_pollers``, never both;
- mapping metrics (``MetricsConfig`` ``EventCount``) are always on;
- ``filters`` are body patterns the local cloud applies the same way
  (:mod:`sqs_blueprint.filters`), at most ``max_filters`` of them;
- ``tracing`` is ``off``, ``adot`` or ``otlp`` (:mod:`sqs_blueprint_cdk.tracing`).
Sources: :mod:`sqs_blueprint.limits`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from sqs_blueprint import capacity, limits
from sqs_blueprint import filters as event_filters
from sqs_blueprint_cdk import powertools
from sqs_blueprint_cdk import tracing as function_tracing
from sqs_blueprint_cdk._validation import Check, Problems
from sqs_blueprint_cdk.bundling import function_code
from sqs_blueprint_cdk.delivery import live_alias
from sqs_blueprint_cdk.queue_pair import QueueWithDlq

# docs/aws-facts.md#lambda-event-source-mapping and the Lambda service limits.
MAX_BATCH_SIZE = limits.LAMBDA_MAX_BATCH_SIZE
MAX_FIFO_BATCH_SIZE = limits.LAMBDA_FIFO_MAX_BATCH_SIZE
MAX_BATCH_WITHOUT_WINDOW = limits.LAMBDA_MAX_BATCH_WITHOUT_WINDOW
MAX_WINDOW_S = limits.LAMBDA_MAX_BATCHING_WINDOW_S
MIN_CONCURRENCY, MAX_CONCURRENCY = limits.LAMBDA_MIN_CONCURRENCY, limits.LAMBDA_MAX_CONCURRENCY
MAX_FUNCTION_TIMEOUT_S = limits.LAMBDA_MAX_TIMEOUT_S


class SqsLambdaConsumer(Construct):
    """``.function`` consumes ``queue.queue`` through ``.event_source_mapping``."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        queue: QueueWithDlq,
        handler: str | Path,
        function_timeout: Duration,
        max_concurrency: int | None = None,
        batch_size: int = 10,
        max_batching_window: Duration | None = None,
        memory_size: int = 256,
        environment: Mapping[str, str] | None = None,
        architecture: lambda_.Architecture = lambda_.Architecture.ARM_64,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        allow_short_visibility: bool = False,
        description: str | None = None,
        provisioned_pollers: lambda_.ProvisionedPollerConfig | None = None,
        filters: Sequence[Mapping[str, Any]] = (),
        max_filters: int = limits.LAMBDA_DEFAULT_MAX_FILTERS,
        tracing: str = function_tracing.OFF,
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
        _validate_mapping_options(
            problems,
            max_concurrency=max_concurrency,
            provisioned_pollers=provisioned_pollers,
            filters=filters,
            max_filters=max_filters,
        )
        function_tracing.check(problems, tracing)
        problems.raise_if_any()
        self.filters = tuple(filters)
        queue.ensure_visibility_at_least(
            Duration.seconds(capacity.visibility_timeout(timeout_s, window_s)),
            reason=(
                f"6 x function timeout ({timeout_s} s) + batching window ({window_s} s), "
                "as AWS advises for Lambda consumers"
            ),
            allow_short=allow_short_visibility,
        )
        self.queue = queue

        self._add_function(
            handler=handler,
            function_timeout=function_timeout,
            memory_size=memory_size,
            environment=environment,
            architecture=architecture,
            log_retention=log_retention,
            description=description,
            tracing=tracing,
        )
        self._add_mapping(
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            max_concurrency=max_concurrency,
            provisioned_pollers=provisioned_pollers,
        )

    def _add_function(
        self,
        *,
        handler: str | Path,
        function_timeout: Duration,
        memory_size: int,
        environment: Mapping[str, str] | None,
        architecture: lambda_.Architecture,
        log_retention: logs.RetentionDays,
        description: str | None,
        tracing: str,
    ) -> None:
        """``.log_group``, ``.role``, ``.tracing`` and ``.function``, which writes to its
        log group."""
        self.log_group = logs.LogGroup(
            self, "Logs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs {self.node.path}",
        )
        self.tracing = function_tracing.for_function(self, tracing)
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
            tracing=self.tracing.tracing,
            layers=[powertools.layer(self, architecture), *self.tracing.layers],
            environment={
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **(environment or {}),
                **self.tracing.environment,
            },
            description=description,
        )
        self.log_group.grant_write(self.role)
        self.alias = live_alias(self, self.function, self.role, traced=self.tracing.on)

    def _add_mapping(
        self,
        *,
        batch_size: int,
        max_batching_window: Duration | None,
        max_concurrency: int | None,
        provisioned_pollers: lambda_.ProvisionedPollerConfig | None,
    ) -> None:
        """``.event_source_mapping`` from the queue to the function, with partial batch
        responses, mapping metrics and the filters."""
        consume = self.queue.queue.grant_consume_messages(self.role)
        self.event_source_mapping = lambda_.EventSourceMapping(
            self,
            "Mapping",
            target=self.alias,
            event_source_arn=self.queue.queue.queue_arn,
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            max_concurrency=max_concurrency,
            report_batch_item_failures=True,
            provisioned_poller_config=provisioned_pollers,
            metrics_config=lambda_.MetricsConfig(metrics=[lambda_.MetricType.EVENT_COUNT]),
            filters=[{"pattern": json.dumps(p, sort_keys=True)} for p in self.filters] or None,
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
    max_concurrency: int | None,
    timeout_s: int,
) -> None:
    check = problems.check
    _check_batching(check, fifo, batch_size, window_s, window_given)
    if max_concurrency is not None:
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


def _check_batching(
    check: Check, fifo: bool, batch_size: int, window_s: int, window_given: bool
) -> None:
    """Batch size and window within the limits; FIFO's smaller batches and no window;
    a window for a standard batch of more than 10."""
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
            f"use batch_size <= {MAX_FIFO_BATCH_SIZE}",
        )
        check(
            not window_given,
            "max_batching_window",
            f"{window_s} s",
            "FIFO event-source mappings take no batching window",
            "drop max_batching_window",
        )
    elif batch_size > MAX_BATCH_WITHOUT_WINDOW:
        check(
            window_s >= 1,
            "batch_size",
            batch_size,
            f"a batch of more than {MAX_BATCH_WITHOUT_WINDOW} records needs a batching window "
            "of at least 1 s",
            "set max_batching_window=Duration.seconds(1) or more, "
            f"or batch_size <= {MAX_BATCH_WITHOUT_WINDOW}",
        )


def _validate_mapping_options(
    problems: Problems,
    *,
    max_concurrency: int | None,
    provisioned_pollers: lambda_.ProvisionedPollerConfig | None,
    filters: Sequence[Mapping[str, Any]],
    max_filters: int,
) -> None:
    """The scaling mode (limits.LAMBDA_SQS_SCALING_URL) and the filters (LAMBDA_FILTERING_URL)."""
    check = problems.check
    check(
        max_concurrency is not None or provisioned_pollers is not None,
        "max_concurrency",
        None,
        "every mapping needs a bound on its concurrency",
        f"set max_concurrency ({MIN_CONCURRENCY}..{MAX_CONCURRENCY}) or provisioned_pollers",
    )
    if provisioned_pollers is not None:
        _check_pollers(check, max_concurrency, provisioned_pollers)
    _check_filters(problems, filters, max_filters)


def _check_pollers(
    check: Check,
    max_concurrency: int | None,
    provisioned_pollers: lambda_.ProvisionedPollerConfig,
) -> None:
    """Provisioned pollers instead of maximum concurrency, each bound in range."""
    check(
        max_concurrency is None,
        "provisioned_pollers",
        "set",
        f"an SQS mapping scales either by maximum concurrency ({max_concurrency}) or by "
        "provisioned pollers, not both",
        "drop max_concurrency (bound it with maximum pollers x "
        f"{limits.LAMBDA_POLLER_INVOKES} invokes) or drop provisioned_pollers",
    )
    low = provisioned_pollers.minimum_pollers or limits.LAMBDA_DEFAULT_MIN_POLLERS
    high = provisioned_pollers.maximum_pollers or limits.LAMBDA_DEFAULT_MAX_POLLERS
    (min_lo, min_hi), (max_lo, max_hi) = (
        limits.LAMBDA_MIN_POLLERS_RANGE,
        limits.LAMBDA_MAX_POLLERS_RANGE,
    )
    check(
        min_lo <= low <= min_hi,
        "provisioned_pollers.minimum_pollers",
        low,
        f"must be {min_lo}..{min_hi} for an SQS mapping",
        "choose a minimum in range",
    )
    check(
        max_lo <= high <= max_hi,
        "provisioned_pollers.maximum_pollers",
        high,
        f"must be {max_lo}..{max_hi} for an SQS mapping (the Lambda API takes up to "
        f"{limits.LAMBDA_API_MAX_POLLERS:,}, the CDK's EventSourceMapping no more than {max_hi:,})",
        "choose a maximum in range",
    )
    check(
        low <= high,
        "provisioned_pollers",
        f"minimum {low}, maximum {high}",
        "the minimum must not exceed the maximum",
        "raise maximum_pollers or lower minimum_pollers",
    )


def _check_filters(
    problems: Problems, filters: Sequence[Mapping[str, Any]], max_filters: int
) -> None:
    """At most ``max_filters`` patterns, each in the syntax the local cloud applies."""
    check = problems.check
    raised = limits.LAMBDA_RAISED_MAX_FILTERS
    check(
        1 <= max_filters <= raised,
        "max_filters",
        max_filters,
        f"Lambda takes {limits.LAMBDA_DEFAULT_MAX_FILTERS} filters per mapping, {raised} at "
        "most with a quota increase",
        f"keep the default {limits.LAMBDA_DEFAULT_MAX_FILTERS}, or the quota your account has",
    )
    check(
        len(filters) <= max_filters,
        "filters",
        f"{len(filters)} patterns",
        f"a mapping takes at most {max_filters} filters",
        "merge patterns (a leaf lists several values) or request a quota increase and "
        "raise max_filters",
    )
    for index, pattern in enumerate(filters):
        for problem in event_filters.problems(pattern):
            problems.items.append(
                f"filters[{index}]={pattern!r}: {problem}. Fix: use the syntax "
                "sqs_blueprint.filters supports, so the local cloud filters as Lambda does."
            )
