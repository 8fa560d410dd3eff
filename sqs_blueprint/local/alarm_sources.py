"""Which metrics the local cloud produces for its alarms (:mod:`.alarm_metrics` samples
them), so that an alarm on any other is reported as not evaluated, with the reason."""

from __future__ import annotations

MetricKey = tuple[str, str, tuple[tuple[str, str], ...]]  # namespace, name, dimensions

# CloudWatch's queue metric -> the GetQueueAttributes attribute it is sampled from.
QUEUE_GAUGES = {
    "ApproximateNumberOfMessagesVisible": "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible": "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed": "ApproximateNumberOfMessagesDelayed",
}
FUNCTION_COUNTERS = ("Invocations", "Errors", "Throttles")
MAPPING_COUNTERS = ("PolledEventCount", "FailedInvokeEventCount")
# Metrics published only when what they count happens, which it never does locally.
NEVER_LOCALLY = {
    ("AWS/DynamoDB", n) for n in ("WriteThrottleEvents", "ReadThrottleEvents", "ThrottledRequests")
} | {
    ("AWS/SNS", n)
    for n in (
        "NumberOfNotificationsFailed",
        "NumberOfNotificationsRedrivenToDlq",
        "NumberOfNotificationsFailedToRedriveToDlq",
    )
}
_SOURCES: set[tuple[str, str, frozenset[str]]] = (
    {("AWS/SQS", n, frozenset({"QueueName"})) for n in QUEUE_GAUGES}
    | {("AWS/SQS", "ApproximateAgeOfOldestMessage", frozenset({"QueueName"}))}
    | {("AWS/Lambda", n, frozenset({"FunctionName"})) for n in FUNCTION_COUNTERS}
    | {("AWS/Lambda", n, frozenset({"EventSourceMappingUUID"})) for n in MAPPING_COUNTERS}
    | {("AWS/AutoScaling", "GroupInServiceInstances", frozenset({"AutoScalingGroupName"}))}
)


def missing_source(key: MetricKey) -> str | None:
    """Why the local cloud has no source for ``key``, or None when it has one (custom
    namespaces are read from what was sent with PutMetricData)."""
    namespace, name, dimensions = key
    names = frozenset(d for d, _ in dimensions)
    if not namespace.startswith("AWS/") or (namespace, name) in NEVER_LOCALLY:
        return None
    if (namespace, name, names) in _SOURCES:
        return None
    return f"the local cloud does not produce {namespace} {name} by {', '.join(sorted(names))}"
