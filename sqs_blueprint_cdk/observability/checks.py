"""The construct's settings, checked before anything is built."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Duration, Token
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_sns as sns

from sqs_blueprint_cdk._validation import Problems

# CloudWatch limits: standard-resolution alarms evaluate whole minutes, and
# periods x evaluation periods may cover at most one day.
_MAX_EVALUATION_S = 86_400
_DASHBOARD_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
DEFAULT_FAILED_INVOKE_SHARE = 0.05


def validate_mapping_alarm(problems: Problems, failed_invoke_share: float) -> None:
    problems.check(
        0 < failed_invoke_share < 1,
        "failed_invoke_share",
        failed_invoke_share,
        "must be between 0 and 1 (exclusive): the alarm fires when failed invokes pass this "
        "share of the events the mapping polled",
        f"use e.g. {DEFAULT_FAILED_INVOKE_SHARE} to hear when 1 event in "
        f"{round(1 / DEFAULT_FAILED_INVOKE_SHARE)} fails",
    )


def validate(
    problems: Problems,
    *,
    topic: sns.ITopic | None,
    age_share: float,
    alarm_emails: Sequence[str],
    period: Duration,
    evaluation_periods: int,
    dashboard_name: str | None,
    auto_scaling_group: autoscaling.IAutoScalingGroup | None,
    backlog_target: float | None,
) -> None:
    check = problems.check
    check(
        0 < age_share < 1,
        "age_share",
        age_share,
        "must be between 0 and 1 (exclusive): the alarm fires when the oldest message is older "
        "than this share of the queue's retention",
        "use e.g. 0.5 to hear about a backlog halfway to expiry",
    )
    seconds = period.to_seconds()
    check(
        seconds >= 60 and seconds % 60 == 0,
        "period",
        f"{seconds:g} s",
        "must be a whole number of minutes: SQS, Lambda and DynamoDB publish one-minute metrics",
        "use Duration.minutes(1) or more",
    )
    check(
        evaluation_periods >= 1 and evaluation_periods * seconds <= _MAX_EVALUATION_S,
        "evaluation_periods",
        evaluation_periods,
        f"must be at least 1, and evaluation_periods x period ({seconds:g} s) at most "
        f"{_MAX_EVALUATION_S} s (one day, a CloudWatch limit)",
        "choose fewer or shorter periods",
    )
    if topic is not None:
        check(
            not topic.fifo,
            "topic",
            topic.node.path,
            "CloudWatch alarms publish only to standard SNS topics, not FIFO topics",
            "pass a standard topic, or leave topic unset to create one",
        )
    for address in alarm_emails:
        check(
            bool(_EMAIL.fullmatch(address)),
            "alarm_emails",
            address,
            "must be one email address",
            "give addresses such as ops@example.com, one per list item",
        )
    _validate_graphs(problems, auto_scaling_group, backlog_target)
    if dashboard_name is not None and not Token.is_unresolved(dashboard_name):
        check(
            bool(_DASHBOARD_NAME.fullmatch(dashboard_name)),
            "dashboard_name",
            dashboard_name,
            "CloudWatch dashboard names are 1..255 letters, digits, '-' or '_'",
            "drop other characters, or leave dashboard_name unset",
        )


def _validate_graphs(
    problems: Problems,
    auto_scaling_group: autoscaling.IAutoScalingGroup | None,
    backlog_target: float | None,
) -> None:
    """The scaling target is drawn on the workers' backlog graph."""
    check = problems.check
    if backlog_target is not None:
        check(
            auto_scaling_group is not None,
            "backlog_target",
            backlog_target,
            "is drawn on the backlog-per-instance graph, which needs auto_scaling_group",
            "pass the workers' auto_scaling_group too, or leave backlog_target unset",
        )
        check(
            backlog_target > 0,
            "backlog_target",
            backlog_target,
            "must be more than 0 (visible messages per instance in service)",
            "pass the scaling target, e.g. Ec2QueueWorkers.target_backlog_per_instance",
        )
