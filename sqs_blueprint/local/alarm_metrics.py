"""The local cloud's own metrics, sampled for the alarm watch
(docs/local-cloud.md#alarms): one value a metric a sample, or None for no datapoint.

- ``AWS/SQS`` (``QueueName``): ``ApproximateNumberOfMessagesVisible``, ``...NotVisible``
  and ``...Delayed`` from GetQueueAttributes; ``ApproximateAgeOfOldestMessage`` from the
  embedded server's queue (seconds since the oldest message was sent, 0 when empty).
- ``AWS/Lambda`` (``FunctionName``): ``Invocations`` (batches), ``Errors`` (batches
  returned whole: error or timeout), ``Throttles`` (0: the runner never throttles);
  (``EventSourceMappingUUID``) ``PolledEventCount``, ``FailedInvokeEventCount``; counted
  by the local runner, a datapoint only in a sample where the function was invoked.
- ``AWS/AutoScaling`` ``GroupInServiceInstances``: the group's InService instances.
- ``AWS/DynamoDB`` throttle events and ``AWS/SNS`` delivery failures: never a
  datapoint, since the local cloud neither throttles nor fails a delivery (CloudWatch
  publishes these only when they happen).
- Any namespace outside ``AWS/`` (custom metrics, e.g. worker heartbeats): the sum of
  what was sent with PutMetricData since the last sample.
Counters are sampled as the increase since the last sample, so ``Sum`` over a period
is what happened in it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqs_blueprint.local.alarm_sources import QUEUE_GAUGES as _QUEUE_GAUGES
from sqs_blueprint.local.alarm_sources import MetricKey
from sqs_blueprint.local.invoke import FunctionStats
from sqs_blueprint.local.server import LocalCloud

Stats = Callable[[], Mapping[str, FunctionStats]]  # the runner's counters by function
_FUNCTION_COUNTERS: dict[str, Callable[[FunctionStats], int]] = {
    "Invocations": lambda s: s.batches,
    "Errors": lambda s: s.errors + s.timeouts,
    "Throttles": lambda s: 0,
}
_MAPPING_COUNTERS: dict[str, Callable[[FunctionStats], int]] = {
    "PolledEventCount": lambda s: s.records,
    "FailedInvokeEventCount": lambda s: s.failed_records,
}


class LocalMetrics:
    """Samples metrics of ``cloud``; ``stats`` gives the local runner's counters."""

    def __init__(self, cloud: LocalCloud, stats: Stats | None = None) -> None:
        self.cloud = cloud
        self.stats = stats or dict
        self._sqs, self._lambda = cloud.client("sqs"), cloud.client("lambda")
        self._autoscaling = cloud.client("autoscaling")
        self._cloudwatch = cloud.client("cloudwatch")
        self._urls: dict[str, str] = {}
        self._functions: dict[str, str] = {}  # mapping UUID -> function name
        self._last: dict[tuple[Any, ...], float] = {}  # counters' previous totals
        self._since = datetime.now(UTC)

    def sample(self, keys: list[MetricKey]) -> dict[MetricKey, float | None]:
        """One sample of each metric of ``keys``."""
        stats = dict(self.stats())
        now = datetime.now(UTC)
        found = {key: self._one(key, stats, now) for key in keys}
        self._since = now
        return found

    def _one(
        self, key: MetricKey, stats: Mapping[str, FunctionStats], now: datetime
    ) -> float | None:
        namespace, name, dimensions = key
        dims = dict(dimensions)
        if not namespace.startswith("AWS/"):
            return self._custom(key, now)
        if namespace == "AWS/SQS":
            return self._queue(dims["QueueName"], name)
        if namespace == "AWS/Lambda":
            return self._function(key, dims, stats)
        if namespace == "AWS/AutoScaling":
            return self._in_service(dims["AutoScalingGroupName"])
        return None  # NEVER_LOCALLY

    def _queue(self, queue: str, name: str) -> float | None:
        if name == "ApproximateAgeOfOldestMessage":
            return self._oldest_age(queue)
        if queue not in self._urls:
            self._urls[queue] = self._sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        attribute = _QUEUE_GAUGES[name]
        got = self._sqs.get_queue_attributes(QueueUrl=self._urls[queue], AttributeNames=[attribute])
        return float(got["Attributes"][attribute])

    def _oldest_age(self, queue: str) -> float | None:
        """Seconds since the oldest message of ``queue`` was sent (embedded server only)."""
        if not self.cloud.embedded:
            return None
        from moto.sqs.models import sqs_backends

        found = sqs_backends[self.cloud.account_id][self.cloud.region].queues.get(queue)
        messages = list(found._messages) if found is not None else []
        if not messages:
            return 0.0
        oldest_ms = min(float(m.sent_timestamp or 0) for m in messages)
        return max(0.0, time.time() - oldest_ms / 1000)

    def _function(
        self, key: MetricKey, dims: Mapping[str, str], stats: Mapping[str, FunctionStats]
    ) -> float | None:
        _, name, _ = key
        if "EventSourceMappingUUID" in dims:
            function = self._mapping_function(dims["EventSourceMappingUUID"])
            count = _MAPPING_COUNTERS[name]
            activity: Callable[[FunctionStats], int] = _MAPPING_COUNTERS["PolledEventCount"]
        else:
            function, count = dims["FunctionName"], _FUNCTION_COUNTERS[name]
            activity = _FUNCTION_COUNTERS["Invocations"]
        found = stats.get(function)
        if found is None:
            return None
        active = self._delta((*key, "activity"), float(activity(found)))
        value = self._delta(key, float(count(found)))
        return value if active else None

    def _delta(self, key: tuple[Any, ...], total: float) -> float:
        before = self._last.get(key, 0.0)
        self._last[key] = total
        return max(0.0, total - before)

    def _mapping_function(self, uuid: str) -> str:
        if uuid not in self._functions:
            arn = self._lambda.get_event_source_mapping(UUID=uuid)["FunctionArn"]
            self._functions[uuid] = arn.split(":function:", 1)[-1].split(":", 1)[0]
        return self._functions[uuid]

    def _in_service(self, group: str) -> float | None:
        groups = self._autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])
        if not groups["AutoScalingGroups"]:
            return None
        instances = groups["AutoScalingGroups"][0].get("Instances", [])
        return float(sum(i.get("LifecycleState") == "InService" for i in instances))

    def _custom(self, key: MetricKey, now: datetime) -> float | None:
        """The sum of what was put since the last sample (None when nothing was)."""
        namespace, name, dimensions = key
        got = self._cloudwatch.get_metric_statistics(
            Namespace=namespace,
            MetricName=name,
            Dimensions=[{"Name": n, "Value": v} for n, v in dimensions],
            StartTime=self._since,
            EndTime=now + timedelta(microseconds=1),
            Period=86_400,
            Statistics=["Sum"],
        )
        points: list[dict[str, Any]] = got.get("Datapoints", [])
        return sum(float(p["Sum"]) for p in points) if points else None
