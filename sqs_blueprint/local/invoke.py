"""A function as the local runner invokes it: its configuration, its response read
with Lambda's rules, and the counters of what happened
(docs/aws-facts.md#lambda-event-source-mapping)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from sqs_blueprint.local.runtime import FunctionConfig, RuntimeFailure
from sqs_blueprint.local.server import LocalCloud


@dataclass
class FunctionStats:
    batches: int = 0
    records: int = 0
    deleted: int = 0
    failures_reported: int = 0  # records named in batchItemFailures
    errors: int = 0  # batches returned whole: exception, invalid response, failed start
    timeouts: int = 0  # batches returned whole because the function timed out
    restarts: int = 0  # runtimes replaced after a timeout, a crash or a new configuration
    last_error: str | None = None
    filtered: int = 0  # records deleted unseen: they matched none of the mapping's filters
    deferred: int = 0  # records left for the next poll: the event would pass 6 MB with them
    failed_records: int = 0  # records of the batches returned whole (errors and timeouts)

    def add(self, batch: FunctionStats) -> None:
        """Count one batch's figures in this total."""
        for name in (
            "batches",
            "records",
            "deleted",
            "failures_reported",
            "errors",
            "timeouts",
            "failed_records",
        ):
            setattr(self, name, getattr(self, name) + getattr(batch, name))
        self.restarts += batch.restarts + batch.timeouts
        self.last_error = batch.last_error or self.last_error


class InvalidResponse(Exception):
    pass


def failed_ids(result: Any, batch_ids: list[str], report_failures: bool) -> set[str]:
    """The records to leave in the queue, from a handler's successful return value.

    docs/aws-facts.md#lambda-event-source-mapping: without ReportBatchItemFailures any
    return is a success; with it, a null/empty response or failure list is a success,
    and a malformed one or an unknown itemIdentifier fails the whole batch
    (:class:`InvalidResponse`).
    """
    if not report_failures or not result:
        return set()
    if not isinstance(result, dict):
        raise InvalidResponse(f"response is not an object: {result!r:.200}")
    failures = result.get("batchItemFailures") or []
    if not isinstance(failures, list):
        raise InvalidResponse(f"batchItemFailures is not a list: {failures!r:.200}")
    out = set()
    for item in failures:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not ident or ident not in batch_ids:
            raise InvalidResponse(f"invalid batch item failure: {item!r:.200}")
        out.add(ident)
    return out


def function_config(cloud: LocalCloud, lam: Any, function: str) -> FunctionConfig:
    """A function's configuration, its code mapped back to the published asset directory."""
    described = lam.get_function(FunctionName=function)
    conf = described["Configuration"]
    key = urlparse(described["Code"].get("Location", "")).path.lstrip("/")
    code_dir = cloud.code_dir(key)
    if code_dir is None:
        raise RuntimeFailure(
            f"{conf['FunctionName']}: its code (object {key!r}) was not published by this "
            "local cloud; deploy the assembly with LocalCloud.deploy first"
        )
    return FunctionConfig(
        name=conf["FunctionName"],
        arn=conf["FunctionArn"],
        handler=conf["Handler"],
        timeout_s=float(conf.get("Timeout", 3)),
        memory_mb=int(conf.get("MemorySize", 128)),
        code_dir=code_dir,
        environment=dict(conf.get("Environment", {}).get("Variables", {})),
        role=conf.get("Role", ""),
    )


def function_role(lam: Any, function: str) -> str | None:
    """A function's execution role ARN (None if the function cannot be described)."""
    try:
        role: str = lam.get_function_configuration(FunctionName=function).get("Role", "")
    except ClientError:
        return None
    return role or None


def set_environment(
    lam: Any, function_name: str, changes: Mapping[str, str | None]
) -> dict[str, str]:
    """Set (or, with None, remove) environment variables of a deployed function."""
    current = lam.get_function_configuration(FunctionName=function_name)
    variables: dict[str, str] = dict(current.get("Environment", {}).get("Variables", {}))
    for key, value in changes.items():
        if value is None:
            variables.pop(key, None)
        else:
            variables[key] = value
    lam.update_function_configuration(
        FunctionName=function_name, Environment={"Variables": variables}
    )
    return variables
