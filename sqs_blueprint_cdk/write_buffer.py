"""SQS in front of a provisioned DynamoDB table: writes never exceed its capacity.

The consumer's maximum concurrency, batch size and per-invocation write budget
come from :func:`sqs_blueprint.capacity.plan_write_buffer`, so that concurrency
x budget <= the table's WCU (docs/aws-facts.md#dynamodb: never plan on burst capacity). The
budget reaches the function as ``WCU_PER_SECOND``.

With ``provisioned_pollers`` the mapping has no maximum concurrency; each poller
runs up to ``limits.LAMBDA_POLLER_INVOKES`` invocations, so maximum pollers x
that must stay within the plan's concurrency, or the table would be overrun.

A full batch of the largest items (``max_item_kb``) must fit in what one invocation
may write before its deadline (:mod:`sqs_blueprint_cdk.write_budget`), or its last
records would return unwritten on every receive until the DLQ; the function refuses
larger items (``MAX_ITEM_KB``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from sqs_blueprint import capacity, limits
from sqs_blueprint.versioning import VERSIONED_KEY_RULE, versioned_key_ok
from sqs_blueprint.write_buffer import (
    FIELD_NAME_FIX,
    FIELD_NAME_RULE,
    WriteBufferSettings,
    field_name_ok,
)
from sqs_blueprint_cdk._validation import Problems
from sqs_blueprint_cdk.consumer import SqsLambdaConsumer
from sqs_blueprint_cdk.payload_bucket import LargePayloadBucket
from sqs_blueprint_cdk.queue_pair import QueueWithDlq
from sqs_blueprint_cdk.write_budget import DEADLINE_SHARE, largest_item_kb


class DynamoWriteBuffer(Construct):
    """``.table`` fed from ``queue`` by ``.consumer`` (a :class:`SqsLambdaConsumer`).

    ``.plan`` holds the derived settings, ``.settings`` the function's (set as its
    environment with :meth:`WriteBufferSettings.to_env`). ``handler`` names the function under
    ``sqs_blueprint_cdk/handlers/``: ``write_buffer`` (batched overwrite) or ``ordered`` (FIFO,
    versioned by ``version_field``).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        queue: QueueWithDlq,
        write_capacity: int,
        item_kb: float = 1,
        max_item_kb: float | None = None,
        read_capacity: int = 5,
        function_timeout: Duration = Duration.seconds(30),
        batch_size: int = 10,
        max_batching_window: Duration | None = None,
        record_ms: float = capacity.DEFAULT_RECORD_MS,
        key_fields: Sequence[str] = (),
        version_field: str | None = None,
        payload_bucket: LargePayloadBucket | None = None,
        handler: str = "write_buffer",
        provisioned_pollers: lambda_.ProvisionedPollerConfig | None = None,
        filters: Sequence[Mapping[str, Any]] = (),
        tracing: str = "off",
    ) -> None:
        super().__init__(scope, id_)
        problems = Problems(f"DynamoWriteBuffer '{self.node.path}'")
        _check_props(
            problems,
            fifo=queue.fifo,
            read_capacity=read_capacity,
            key_fields=key_fields,
            version_field=version_field,
            handler=handler,
        )
        plan = _plan(
            problems,
            write_capacity=write_capacity,
            item_kb=item_kb,
            function_timeout=function_timeout,
            batch_size=batch_size,
            record_ms=record_ms,
            max_batching_window=max_batching_window,
        )
        if plan is not None:
            _check_pollers_fit(problems, provisioned_pollers, plan.max_concurrency)
            self.max_item_kb = largest_item_kb(
                problems,
                plan,
                function_timeout_s=function_timeout.to_seconds(),
                max_item_kb=max_item_kb,
                replan=lambda wcu: _plan(
                    Problems(""),
                    write_capacity=wcu,
                    item_kb=item_kb,
                    function_timeout=function_timeout,
                    batch_size=batch_size,
                    record_ms=record_ms,
                    max_batching_window=max_batching_window,
                ),
            )
        problems.raise_if_any()
        assert plan is not None  # a failed plan is one of the problems raised above
        self.plan = plan

        self.table = provisioned_table(
            self, "Table", read_capacity=read_capacity, write_capacity=write_capacity
        )
        # What the handler reads back with WriteBufferSettings.from_env().
        self.settings = table_settings(
            self.table,
            wcu_per_second=self.plan.budget_wcu_per_s,
            function_timeout=function_timeout,
            key_fields=key_fields,
            version_field=version_field,
            payload_buckets=(payload_bucket.bucket.bucket_name,) if payload_bucket else (),
            max_item_kb=self.max_item_kb,
        )
        self.consumer = SqsLambdaConsumer(
            self,
            "Consumer",
            queue=queue,
            handler=handler,
            function_timeout=function_timeout,
            batch_size=self.plan.batch_size,
            max_batching_window=max_batching_window,
            max_concurrency=None if provisioned_pollers else self.plan.max_concurrency,
            provisioned_pollers=provisioned_pollers,
            filters=filters,
            environment=self.settings.to_env(),
            tracing=tracing,
            description=f"Drains {queue.node.path} into a {write_capacity}-WCU table",
        )
        actions = ["dynamodb:PutItem"] if version_field else ["dynamodb:BatchWriteItem"]
        self.table.grant(self.consumer.role, *actions)
        if payload_bucket:
            payload_bucket.grant_read(self.consumer.role)


def provisioned_table(
    scope: Construct, id_: str, *, read_capacity: int, write_capacity: int
) -> dynamodb.Table:
    """A provisioned, encrypted table with point-in-time recovery, keyed by the string
    ``pk`` that :mod:`sqs_blueprint.upsert` writes (``sqs_blueprint.items.KEY_ATTRIBUTE``)."""
    return dynamodb.Table(
        scope,
        id_,
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PROVISIONED,
        read_capacity=read_capacity,
        write_capacity=write_capacity,
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
    )


def table_settings(
    table: dynamodb.ITable,
    *,
    wcu_per_second: float,
    function_timeout: Duration,
    key_fields: Sequence[str] = (),
    **more: Any,
) -> WriteBufferSettings:
    """The settings a handler reads back with ``WriteBufferSettings.from_env()`` to write
    into ``table``: the write budget of one invocation, a retry deadline within the
    function timeout, the fields that key its items, and ``more`` of its fields."""
    return WriteBufferSettings(
        table_name=table.table_name,
        key_fields=tuple(key_fields) or None,
        wcu_per_second=wcu_per_second,
        deadline_s=DEADLINE_SHARE * function_timeout.to_seconds(),
        **more,
    )


def _check_pollers_fit(
    problems: Problems, pollers: lambda_.ProvisionedPollerConfig | None, concurrency: int
) -> None:
    """Provisioned pollers may not run more invocations than the write budget is shared by."""
    if pollers is None:
        return
    per_poller = limits.LAMBDA_POLLER_INVOKES
    highest = pollers.maximum_pollers or limits.LAMBDA_DEFAULT_MAX_POLLERS
    fitting = concurrency // per_poller
    problems.check(
        highest * per_poller <= concurrency,
        "provisioned_pollers.maximum_pollers",
        highest,
        f"{highest} pollers run up to {highest * per_poller} invocations, but the table's "
        f"write budget is shared by {concurrency} (capacity plan)",
        f"use maximum_pollers <= {fitting}"
        if fitting >= 2
        else "raise the table's WCU, "
        "or keep the maximum-concurrency mode (`sqs-blueprint plan` recommends one)",
    )


def _check_props(
    problems: Problems,
    *,
    fifo: bool,
    read_capacity: int,
    key_fields: Sequence[str],
    version_field: str | None,
    handler: str,
) -> None:
    """The table's reads, the key fields, and a handler that suits the queue's type."""
    problems.check(
        read_capacity >= 1,
        "read_capacity",
        read_capacity,
        "a provisioned table needs at least 1 RCU",
        "use 1 or more",
    )
    problems.check(
        all(field_name_ok(f) for f in key_fields),
        "key_fields",
        list(key_fields),
        FIELD_NAME_RULE,
        FIELD_NAME_FIX,
    )
    problems.check(
        version_field is None or field_name_ok(version_field),
        "version_field",
        version_field,
        FIELD_NAME_RULE,
        FIELD_NAME_FIX,
    )
    problems.check(
        not (fifo and handler == "write_buffer"),
        "handler",
        handler,
        "the batched write buffer does not keep FIFO order after a failure",
        "use handler='ordered' with a version_field for a FIFO queue",
    )
    problems.check(
        versioned_key_ok(key_fields, version_field),
        "key_fields",
        list(key_fields),
        VERSIONED_KEY_RULE,
        "list the fields that identify the entity, e.g. key_fields=['account']",
    )
    problems.check(
        handler != "ordered" or bool(version_field),
        "version_field",
        version_field,
        "the ordered consumer upserts in versioned mode and needs the version field",
        "name the body field that orders updates, e.g. version_field='version'",
    )


def _plan(
    problems: Problems,
    *,
    write_capacity: int,
    item_kb: float,
    function_timeout: Duration,
    batch_size: int,
    record_ms: float,
    max_batching_window: Duration | None,
) -> capacity.WriteBufferPlan | None:
    """The consumer's settings from :func:`capacity.plan_write_buffer`, or ``None`` with
    the reason it cannot plan them noted in ``problems``."""
    try:
        return capacity.plan_write_buffer(
            wcu=write_capacity,
            item_kb=item_kb,
            function_timeout_s=function_timeout.to_seconds(),
            batch_size=batch_size,
            record_ms=record_ms,
            batching_window_s=max_batching_window.to_seconds() if max_batching_window else 0,
        )
    except ValueError as error:
        problems.items.append(f"capacity plan: {error}.")
        return None
