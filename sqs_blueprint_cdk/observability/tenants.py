"""The fair-queue metrics of a multi-tenant standard queue, graphed and alarmed.

On a standard queue whose messages carry a ``MessageGroupId`` per tenant, SQS
delivers quiet tenants' messages before those of a noisy tenant and publishes
how many groups it finds noisy and the quiet groups' own counts and age
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-fair-queues.html,
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html,
docs/aws-facts.md#2025-features). The quiet groups' oldest message is what a
quiet tenant waits: the alarm watches it, the queue-wide age keeps its own.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs

from sqs_blueprint_cdk._validation import Problems
from sqs_blueprint_cdk.observability.widgets import graph

DEFAULT_QUIET_GROUP_AGE = Duration.minutes(5)
NOISY_GROUPS = "ApproximateNumberOfNoisyGroups"
QUIET_GROUP_AGE = "ApproximateAgeOfOldestMessageInQuietGroups"
# The quiet groups' message counts on the dashboard, by label.
QUIET_GROUP_COUNTS = {
    "Visible": "ApproximateNumberOfMessagesVisibleInQuietGroups",
    "In flight": "ApproximateNumberOfMessagesNotVisibleInQuietGroups",
    "Delayed": "ApproximateNumberOfMessagesDelayedInQuietGroups",
}


def quiet_group_age(queue: sqs.IQueue) -> cloudwatch.Metric:
    """The age of the oldest message outside the noisy groups, in seconds."""
    return queue.metric(QUIET_GROUP_AGE, statistic=cloudwatch.Stats.MAXIMUM)


def tenant_graphs(queue: sqs.IQueue, age_threshold_s: float) -> list[cloudwatch.IWidget]:
    """Noisy groups; the quiet groups' messages; their oldest message beside the queue's."""
    maximum = cloudwatch.Stats.MAXIMUM
    return [
        graph(
            "Noisy tenants (message groups)",
            [queue.metric(NOISY_GROUPS, statistic=maximum, label="Noisy groups")],
        ),
        graph(
            "Quiet tenants' messages",
            [
                queue.metric(name, statistic=maximum, label=label)
                for label, name in QUIET_GROUP_COUNTS.items()
            ],
        ),
        graph(
            "Age of oldest message, quiet tenants (s)",
            [
                quiet_group_age(queue).with_(label="Quiet tenants"),
                queue.metric_approximate_age_of_oldest_message(
                    statistic=maximum, label="All tenants"
                ),
            ],
            annotation=(age_threshold_s, "Alarm"),
        ),
    ]


def validate_tenants(
    problems: Problems, *, queue: sqs.IQueue, tenants: bool, age: Duration, retention: Duration
) -> None:
    """A tenant alarm needs a standard queue and an age inside the queue's retention."""
    if tenants:
        problems.check(
            not queue.fifo,
            "tenants",
            tenants,
            "fair queues are standard queues: on a FIFO queue MessageGroupId orders each group "
            "and SQS publishes no quiet-group metrics",
            "leave tenants unset for a FIFO queue",
        )
    seconds = age.to_seconds()
    problems.check(
        0 < seconds < retention.to_seconds(),
        "quiet_group_age",
        f"{seconds:g} s",
        f"must be more than 0 s and less than the queue's retention "
        f"({retention.to_seconds():g} s): the alarm fires when a quiet tenant's oldest message "
        "is older than this",
        f"use e.g. Duration.minutes({DEFAULT_QUIET_GROUP_AGE.to_minutes():g})",
    )
