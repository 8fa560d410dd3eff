"""The SQS event-source mappings of a local cloud, as the runner polls them
(docs/aws-facts.md#lambda-event-source-mapping)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from sqs_blueprint import filters as event_filters
from sqs_blueprint import limits
from sqs_blueprint.local.server import LocalCloud

log = logging.getLogger(__name__)

# docs/aws-facts.md#lambda-event-source-mapping: Lambda starts with 5 concurrent batches per queue
DEFAULT_CONCURRENCY = 5
SQS_BATCH = limits.SQS_BATCH_MAX_ENTRIES  # ReceiveMessage / DeleteMessageBatch entries


@dataclass(frozen=True)
class MappingConfig:
    """One SQS event-source mapping as the runner polls it."""

    uuid: str
    queue_arn: str
    queue_url: str
    function_arn: str
    batch_size: int
    window_s: float
    report_failures: bool
    concurrency: int
    filters: tuple[dict[str, Any], ...] = ()

    @property
    def function_name(self) -> str:
        return self.function_arn.split(":")[6]


def discover_mappings(
    cloud: LocalCloud, max_pollers: int = 10, clients: tuple[Any, Any] | None = None
) -> list[MappingConfig]:
    """Every enabled mapping of an SQS queue to a function in ``cloud``, read with
    ``clients`` (Lambda's and SQS's) if given."""
    lam, sqs = clients or (cloud.client("lambda"), cloud.client("sqs"))
    found = []
    for page in lam.get_paginator("list_event_source_mappings").paginate():
        for esm in page["EventSourceMappings"]:
            arn = esm.get("EventSourceArn", "")
            if not arn.startswith("arn:aws:sqs:") or esm.get("State") != "Enabled":
                log.debug("not polling mapping %s (%s, %s)", esm["UUID"], arn, esm.get("State"))
                continue
            _, _, _, _, account, queue_name = arn.split(":")
            try:
                url = sqs.get_queue_url(QueueName=queue_name, QueueOwnerAWSAccountId=account)
            except ClientError as exc:  # its queue was deleted (a redeploy replaced it)
                log.debug("not polling mapping %s: %s", esm["UUID"], exc)
                continue
            found.append(_config(esm, url["QueueUrl"], max_pollers))
    return found


def _config(esm: Mapping[str, Any], queue_url: str, max_pollers: int) -> MappingConfig:
    scaling = esm.get("ScalingConfig") or {}
    wanted = scaling.get("MaximumConcurrency") or _provisioned_concurrency(esm)
    concurrency = min(int(wanted or DEFAULT_CONCURRENCY), max_pollers)
    if wanted and int(wanted) > max_pollers:
        log.info("mapping %s: %s pollers instead of %s", esm["UUID"], max_pollers, wanted)
    return MappingConfig(
        uuid=esm["UUID"],
        queue_arn=esm["EventSourceArn"],
        queue_url=queue_url,
        function_arn=esm["FunctionArn"],
        batch_size=int(esm.get("BatchSize") or SQS_BATCH),
        window_s=float(esm.get("MaximumBatchingWindowInSeconds") or 0),
        report_failures="ReportBatchItemFailures" in (esm.get("FunctionResponseTypes") or []),
        concurrency=concurrency,
        filters=event_filters.parse_criteria(esm.get("FilterCriteria")),
    )


def _provisioned_concurrency(esm: Mapping[str, Any]) -> int | None:
    """Provisioned mode: up to 10 invocations a poller, maximum pollers 200 by default
    (``limits.LAMBDA_SQS_SCALING_URL``); None in the standard mode."""
    pollers = esm.get("ProvisionedPollerConfig")
    if not pollers:
        return None
    highest = pollers.get("MaximumPollers") or limits.LAMBDA_DEFAULT_MAX_POLLERS
    return int(highest) * limits.LAMBDA_POLLER_INVOKES
