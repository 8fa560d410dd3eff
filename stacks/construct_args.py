"""Keyword arguments that cdk.json settings give the constructs, as TypedDicts.

``QueueConfig.props()`` and ``TableConfig.props()`` (stacks/config/model.py) return
these; mypy checks each key and type against the signature of the construct they
are unpacked into, so a renamed or retyped argument fails the type check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_


class QueueProps(TypedDict):
    """The keyword arguments of ``QueueWithDlq`` that a :class:`QueueConfig` sets;
    mypy checks them against its signature where they are unpacked."""

    max_receive_count: int
    max_message_bytes: int
    retention_period: Duration
    dlq_retention_period: Duration
    customer_managed_key: bool


class BufferProps(TypedDict):
    """The keyword arguments of ``DynamoWriteBuffer`` that a :class:`TableConfig` sets."""

    provisioned_pollers: lambda_.ProvisionedPollerConfig | None
    filters: tuple[Mapping[str, Any], ...]
    write_capacity: int
    read_capacity: int
    item_kb: float
    max_item_kb: float | None
    function_timeout: Duration
    batch_size: int
    max_batching_window: Duration | None
    key_fields: tuple[str, ...]
