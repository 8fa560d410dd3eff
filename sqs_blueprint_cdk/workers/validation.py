"""Every setting of Ec2QueueWorkers checked before anything is built, all problems at once."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration, Token
from aws_cdk import aws_dynamodb as dynamodb

from sqs_blueprint.limits import SQS_BATCH_MAX_ENTRIES, SQS_MAX_WAIT_TIME_S
from sqs_blueprint.write_buffer import FIELD_NAME_FIX, FIELD_NAME_RULE, field_name_ok
from sqs_blueprint_cdk._validation import Problems
from sqs_blueprint_cdk.queue_pair import MAX_VISIBILITY_S

BUILTIN_WRITE_BUFFER = "builtin:write-buffer"
MAX_RECEIVE_BATCH = SQS_BATCH_MAX_ENTRIES
MAX_WAIT_S = SQS_MAX_WAIT_TIME_S
MAX_HEARTBEAT_S = 7_200  # Auto Scaling: a lifecycle hook's heartbeat timeout is 30..7,200 s
MIN_ROOT_GIB = 8  # the size of the Amazon Linux 2023 AMI's root snapshot
# systemd's stop timeout beyond the drain deadline: one long poll that is
# already waiting, plus the give-back and final deletes after the drain.
STOP_SLACK_S = 15
# The hook's heartbeat beyond systemd's stop timeout: the watcher polls every
# 5 s and then makes two Auto Scaling calls.
HOOK_SLACK_S = 60
# How long CloudFormation waits for an instance's signal: dnf, the offline pip install
# and the worker staying active for 15 s take a few minutes; this leaves room.
SIGNAL_TIMEOUT = Duration.minutes(15)

_HANDLER = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENV_UNSAFE = re.compile(r"[\n\r\"'\\$`%]")
# What json.dumps escapes with a backslash, which systemd's environment file would eat.
_FIELD_UNSAFE = re.compile(r'[\x00-\x1f"\\]')
# Variables the pattern sets itself (write_buffer.py reads them).
RESERVED_ENV = (
    "AWS_DEFAULT_REGION",
    "TABLE_NAME",
    "KEY_FIELDS",
    "VERSION_FIELD",
    "PAYLOAD_BUCKET",
    "WCU_PER_SECOND",
)

Check = Callable[[bool, str, Any, str, str], None]


@dataclass(frozen=True)
class Settings:
    """The construct's settings, as plain numbers where they are durations."""

    fifo: bool
    handler: str
    environment: Mapping[str, str]
    table: dynamodb.ITable | None
    table_write_capacity: int | None
    key_fields: Sequence[str]
    version_field: str | None
    min_capacity: int
    max_capacity: int
    concurrency: int
    max_messages: int
    wait_s: float
    max_processing_s: float
    latency_s: float
    seconds_per_message: float
    drain_s: float
    warmup_s: float
    root_volume_gib: int


def validate(problems: Problems, settings: Settings) -> None:
    """Record every problem of ``settings`` in ``problems`` (which raises later, once)."""
    check = problems.check
    _check_handler(check, settings)
    _check_environment(check, settings.environment)
    _check_capacity(check, settings)
    _check_timing(check, settings)


def _check_handler(check: Check, s: Settings) -> None:
    check(
        s.handler == BUILTIN_WRITE_BUFFER or bool(_HANDLER.fullmatch(s.handler)),
        "handler",
        s.handler,
        f"must be '{BUILTIN_WRITE_BUFFER}' or module:function (Python names only)",
        "name the function that takes one record, e.g. 'my_jobs.handlers:process'",
    )
    if s.handler == BUILTIN_WRITE_BUFFER:
        check(
            s.table is not None,
            "table",
            None,
            "the built-in write buffer writes into a DynamoDB table",
            "pass table=<the table> (string partition key 'pk')",
        )
        check(
            not (s.fifo and not s.version_field),
            "version_field",
            s.version_field,
            "the batched write buffer does not keep FIFO order after a failure",
            "name the body field that orders updates, e.g. version_field='version'",
        )
    rule = (
        f"{FIELD_NAME_RULE}; and, as values in the systemd environment file, without '\\', "
        "'\"' or control characters (JSON would escape them with a backslash, which systemd "
        "removes)"
    )
    check(
        all(_field_ok(f) for f in s.key_fields),
        "key_fields",
        list(s.key_fields),
        rule,
        FIELD_NAME_FIX,
    )
    check(
        s.version_field is None or _field_ok(s.version_field),
        "version_field",
        s.version_field,
        rule,
        FIELD_NAME_FIX,
    )
    if s.table_write_capacity is not None:
        check(
            s.table_write_capacity >= max(s.max_capacity, 1),
            "table_write_capacity",
            s.table_write_capacity,
            f"each of up to max_capacity={s.max_capacity} instances needs at least 1 WCU/s",
            "raise the table's write capacity or lower max_capacity",
        )


def _field_ok(name: str) -> bool:
    return field_name_ok(name) and not _FIELD_UNSAFE.search(name)


def _check_environment(check: Check, environment: Mapping[str, str]) -> None:
    for name, value in sorted(environment.items()):
        check(
            bool(_ENV_NAME.fullmatch(name)) and name not in RESERVED_ENV,
            "environment",
            name,
            "names are letters, digits and '_' (not starting with a digit), and not one the "
            f"pattern sets itself ({', '.join(RESERVED_ENV)})",
            "rename the variable, or use the pattern's own setting (table, key_fields, ...)",
        )
        check(
            Token.is_unresolved(value) or not _ENV_UNSAFE.search(value),
            f"environment[{name!r}]",
            value,
            "values go into a systemd environment file and may not contain newlines, quotes, "
            "backslashes, '$', '`' or '%'",
            "pass a plain value",
        )


def _check_capacity(check: Check, s: Settings) -> None:
    check(
        s.min_capacity >= 0,
        "min_capacity",
        s.min_capacity,
        "must be 0 or more",
        "use 1 so that a small backlog is always served",
    )
    check(
        s.max_capacity >= 1,
        "max_capacity",
        s.max_capacity,
        "must be at least 1",
        "allow at least one instance",
    )
    check(
        s.min_capacity <= s.max_capacity,
        "min_capacity",
        s.min_capacity,
        f"must not exceed max_capacity ({s.max_capacity})",
        "lower min_capacity or raise max_capacity",
    )
    # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-updatepolicy.html
    check(
        s.min_capacity == 0 or s.min_capacity != s.max_capacity,
        "max_capacity",
        s.max_capacity,
        f"must exceed min_capacity ({s.min_capacity}): a rolling update keeps min_capacity "
        "instances in service and starts each replacement beside them",
        f"set max_capacity to at least {s.min_capacity + 1}",
    )
    check(s.concurrency >= 1, "concurrency", s.concurrency, "must be at least 1", "use 1 or more")
    check(
        1 <= s.max_messages <= MAX_RECEIVE_BATCH,
        "max_messages",
        s.max_messages,
        f"must be 1..{MAX_RECEIVE_BATCH} (ReceiveMessage limit)",
        "use 10 for the fewest requests",
    )


def _check_timing(check: Check, s: Settings) -> None:
    check(
        0 <= s.wait_s <= MAX_WAIT_S,
        "wait_time",
        f"{s.wait_s:g} s",
        f"must be 0..{MAX_WAIT_S} s (long polling)",
        f"use {MAX_WAIT_S} s for the fewest empty receives",
    )
    check(
        0 < s.max_processing_s <= MAX_VISIBILITY_S,
        "max_processing_time",
        f"{s.max_processing_s:g} s",
        f"must be more than 0 and at most {MAX_VISIBILITY_S} s (the longest visibility timeout)",
        "declare the longest time one record may take",
    )
    _check_latency(check, s)
    most_drain = MAX_HEARTBEAT_S - HOOK_SLACK_S - STOP_SLACK_S - MAX_WAIT_S
    check(
        0 < s.drain_s <= most_drain,
        "drain_timeout",
        f"{s.drain_s:g} s",
        f"must be more than 0 and at most {most_drain} s: the scale-in lifecycle hook holds an "
        f"instance for at most {MAX_HEARTBEAT_S} s",
        "pass drain_timeout explicitly; records still running then return to the queue",
    )
    check(
        0 <= s.warmup_s <= 3_600,
        "instance_warmup",
        f"{s.warmup_s:g} s",
        "must be 0..3600 s",
        "use about the time from launch to the worker's first receive",
    )
    check(
        s.root_volume_gib >= MIN_ROOT_GIB,
        "root_volume_gib",
        s.root_volume_gib,
        f"must be at least {MIN_ROOT_GIB} (the Amazon Linux 2023 AMI's root snapshot)",
        f"use {MIN_ROOT_GIB} or more",
    )


def _check_latency(check: Check, s: Settings) -> None:
    check(
        s.latency_s > 0,
        "acceptable_latency",
        f"{s.latency_s:g} s",
        "must be more than 0",
        "declare how long a message may wait before it is processed",
    )
    check(
        s.seconds_per_message > 0,
        "seconds_per_message",
        s.seconds_per_message,
        "must be more than 0",
        "measure one instance's throughput: 1 / messages per second",
    )
    if s.latency_s > 0 and s.seconds_per_message > 0:
        target = s.latency_s / s.seconds_per_message
        check(
            target >= 1,
            "acceptable_latency",
            f"{s.latency_s:g} s",
            f"over seconds_per_message ({s.seconds_per_message:g}) gives a target backlog of "
            f"{target:g} messages per instance; it must be at least 1",
            "accept a latency of at least one message's processing time",
        )
