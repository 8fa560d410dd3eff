"""Checks across a stage's settings, once they have the right types.

Where a stage deploys, where its alarms go (each pipeline's ``alarms.to``
filled from the stage's ``alarms_to`` when unset), the names and handlers of
users' own pipelines, and fair-queue tenants only on standard queues. Each check
appends its messages to ``errors`` so that every problem is reported at once.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from sqs_blueprint.write_buffer import FIELD_NAME_FIX, FIELD_NAME_RULE, field_name_ok
from sqs_blueprint_cdk.tracing import MODES as TRACING_MODES
from stacks.config.inputs import check_inputs
from stacks.config.model import NO_ALARMS, AlarmsConfig, StageConfig

# Stages that may follow the CLI's account and region and may send alarms nowhere.
CLI_STAGES = ("dev", "local")
PLACEHOLDER_ACCOUNT = "111111111111"
_ACCOUNT = re.compile(r"[0-9]{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]")
_EMAIL = re.compile(r"[^@\s,]+@[^@\s,]+\.[^@\s,]+")
_TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}")
# RFC 2606 / RFC 6761: mail to these domains is never delivered.
_RESERVED_DOMAINS = re.compile(r"(^|\.)(example\.(com|net|org)|example|invalid|test|localhost)\Z")
# Your own pipelines' handlers: lambdas/<name>/handler.py in this app's folder.
LAMBDAS_DIR = Path(__file__).resolve().parents[2] / "lambdas"
# A user pipeline's name becomes a folder under lambdas/ and part of a CloudFormation
# stack name, which takes letters, digits and hyphens only.
_PIPELINE_NAME = re.compile(r"[a-z][a-z0-9-]{0,39}")
# The shipped stacks' name suffixes (app.py) and handler folders.
SHIPPED_PIPELINES = ("write-buffer", "ordered", "request-response", "workers", "responder")


def check_stage(config: StageConfig, path: str, errors: list[str]) -> StageConfig:
    """Run every check on ``config`` (at ``path`` in cdk.json); return it with
    each pipeline's ``alarms.to`` filled."""
    config = _check_target(config, path, errors)
    config = _check_pipelines(config, path, errors)
    _check_tenants(config, path, errors)
    _check_tracing(config, path, errors)
    check_inputs(config, path, errors)
    return config


def _check_target(config: StageConfig, path: str, errors: list[str]) -> StageConfig:
    """Refuse a stage that deploys to an unnamed place or alarms nobody; fill ``alarms.to``."""
    name = config.name
    pinned = name not in CLI_STAGES
    how = "or pass -c account=123456789012 -c region=eu-west-1"
    if pinned and (config.account is None or config.region is None):
        errors.append(
            f"stage '{name}' must name the account and region it deploys to: set "
            f"'{path}.account' (12 digits) and '{path}.region' (e.g. eu-west-1) in cdk.json, {how}"
        )
    if config.account == PLACEHOLDER_ACCOUNT:
        errors.append(
            f"'{path}.account' is the documented placeholder {PLACEHOLDER_ACCOUNT}: set it to "
            f"the AWS account id stage '{name}' deploys to, {how}"
        )
    elif config.account is not None and not _ACCOUNT.fullmatch(config.account):
        errors.append(f"'{path}.account' must be 12 digits, got {config.account!r}")
    if config.region is not None and not _REGION.fullmatch(config.region):
        errors.append(
            f"'{path}.region' must be a region name such as eu-west-1, got {config.region!r}"
        )
    pipelines = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    changes: dict[str, Any] = {}
    for key, pipeline in pipelines.items():
        alarms = getattr(pipeline, "alarms", None)
        if not isinstance(alarms, AlarmsConfig):
            continue
        filled = _filled_alarms(alarms, f"{path}.{key}", config, path, errors)
        changes[key] = dataclasses.replace(pipeline, alarms=filled)
    errors[:] = list(dict.fromkeys(errors))  # pipelines sharing the stage's value fail once
    return dataclasses.replace(config, **changes)


def _check_pipelines(config: StageConfig, path: str, errors: list[str]) -> StageConfig:
    """Refuse a pipeline name that cannot name a folder and a stack, or has no handler;
    fill each pipeline's ``alarms.to`` as :func:`_check_target` does for the shipped ones."""
    pipelines = {}
    for name, pipeline in config.pipelines.items():
        # An unprintable name (a trailing newline, say) is shown escaped: one line per error.
        shown = name if name.isprintable() else repr(name)[1:-1]
        where = f"{path}.pipelines.{shown}"
        _check_pipeline_name(name, where, errors)
        if pipeline.fifo and pipeline.queue.tenants:
            errors.append(
                f"'{where}.queue.tenants' is true on a FIFO pipeline, where MessageGroupId "
                "orders each group and fair queues do not apply: remove 'tenants' or 'fifo'"
            )
        table = pipeline.table
        if table and min(table.write_capacity, table.read_capacity) < 1:
            errors.append(
                f"'{where}.table': a provisioned table needs at least 1 write and 1 read "
                f"capacity unit, got write_capacity={table.write_capacity}, "
                f"read_capacity={table.read_capacity}"
            )
        if table and not all(field_name_ok(f) for f in table.key_fields):
            errors.append(
                f"'{where}.table.key_fields' is {list(table.key_fields)!r}: {FIELD_NAME_RULE}. "
                f"Fix: {FIELD_NAME_FIX}"
            )
        filled = _filled_alarms(pipeline.alarms, where, config, path, errors)
        pipelines[name] = dataclasses.replace(pipeline, alarms=filled)
    errors[:] = list(dict.fromkeys(errors))  # pipelines sharing the stage's value fail once
    return dataclasses.replace(config, pipelines=pipelines)


def _check_pipeline_name(name: str, where: str, errors: list[str]) -> None:
    """A user's pipeline name must name a folder and a stack, not be a shipped
    pipeline's, and have its handler in ``lambdas/<name>/handler.py``."""
    if not _PIPELINE_NAME.fullmatch(name):
        errors.append(
            f"'{where}': a pipeline name must be 1..40 lowercase letters, digits and "
            "hyphens, starting with a letter (it names the folder lambdas/<name>/ and the "
            f"stack sqs-blueprint-<stage>-<name>), got {name!r}"
        )
    elif name in SHIPPED_PIPELINES:
        errors.append(
            f"'{where}': {name!r} is the name of a shipped pipeline or handler "
            f"{list(SHIPPED_PIPELINES)}; give your own pipeline another name"
        )
    elif not (LAMBDAS_DIR / name / "handler.py").is_file():
        errors.append(
            f"'{where}': there is no lambdas/{name}/handler.py; create it with the "
            "function lambda_handler(event, context), or correct the name"
        )


def _check_tenants(config: StageConfig, path: str, errors: list[str]) -> None:
    """Refuse ``tenants`` on the ordered pipeline, whose queue is FIFO."""
    if config.ordered.queue.tenants:
        errors.append(
            f"'{path}.ordered.queue.tenants' is true, but the ordered pipeline's queue is FIFO, "
            "where MessageGroupId orders each group and fair queues do not apply: remove "
            "'tenants' there (it is for standard queues: write_buffer, request_response, workers)"
        )


def _check_tracing(config: StageConfig, path: str, errors: list[str]) -> None:
    """Refuse a tracing mode the constructs do not know."""
    if config.tracing not in TRACING_MODES:
        errors.append(
            f"'{path}.tracing' must be one of {list(TRACING_MODES)}, got {config.tracing!r}: "
            "off (no spans), adot (the ADOT layer, through Lambda's X-Ray daemon) or otlp "
            "(the ADOT layer, to X-Ray's OTLP endpoint; needs Transaction Search) "
            "(docs/configuration.md)"
        )


def _filled_alarms(
    alarms: AlarmsConfig, where: str, config: StageConfig, path: str, errors: list[str]
) -> AlarmsConfig:
    """``alarms`` of the pipeline at ``where`` with ``to`` checked: its own value when
    set, otherwise the stage's ``alarms_to`` (reported at ``path``)."""
    own = alarms.to is not None
    value = alarms.to if own else config.alarms_to
    at = f"{where}.alarms.to" if own else f"{path}.alarms_to"
    return dataclasses.replace(alarms, to=_alarm_destination(value, at, config.name, errors))


def _alarm_destination(value: Any, path: str, stage: str, errors: list[str]) -> Any:
    """``value`` as a tuple of e-mail addresses, a topic ARN or ``"none"``."""
    if value is None:
        problem = f"stage '{stage}': alarms reach nobody"
        fix = (
            f"set '{path}' in cdk.json to e-mail addresses (e.g. [\"oncall@yourcompany.com\"]) "
            "or an SNS topic ARN, or pass -c alarms_to=..."
        )
        if stage in CLI_STAGES:
            fix += f', or "{NO_ALARMS}"'
        errors.append(f"{problem}: {fix}")
        return None
    if value == NO_ALARMS:
        if stage not in CLI_STAGES:
            errors.append(
                f"'{path}' is \"{NO_ALARMS}\", which only the stages {list(CLI_STAGES)} may use: "
                f"stage '{stage}' must send its alarms to e-mail addresses or an SNS topic ARN"
            )
        return NO_ALARMS
    if isinstance(value, str) and value.startswith("arn:"):
        if not _TOPIC_ARN.fullmatch(value):
            errors.append(
                f"'{path}' is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>), "
                f"got {value!r}"
            )
        return value
    return _addresses(value, path, errors)


def _addresses(value: Any, path: str, errors: list[str]) -> Any:
    """``value`` (a comma-separated string or a list) as a tuple of deliverable addresses."""
    addresses = tuple(a.strip() for a in value.split(",")) if isinstance(value, str) else value
    if not addresses:
        errors.append(f"'{path}' is an empty list: give at least one e-mail address")
    for address in addresses:
        domain = address.rpartition("@")[2].lower()
        if not _EMAIL.fullmatch(address):
            errors.append(f"'{path}': {address!r} is not an e-mail address")
        elif _RESERVED_DOMAINS.search(domain):
            errors.append(
                f"'{path}': {address!r} is at a reserved domain that receives no mail "
                "(RFC 2606): give a real address"
            )
    return addresses
