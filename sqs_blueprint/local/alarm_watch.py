"""The local alarm watch: evaluates the deployed stacks' ``AWS::CloudWatch::Alarm``
definitions against the local cloud's own metrics, and tells their state changes
(docs/local-cloud.md#alarms).

Local time is compressed: an alarm's period of ``P`` seconds lasts ``P / scale``
seconds here (``DEFAULT_SCALE`` = 60: a five-minute period lasts five seconds).
Metric values are not scaled (an age is in real seconds, a count is a count). Each
tick samples the metrics (:mod:`.alarm_metrics`); when a period ends, each alarm's
datapoints for the periods of its evaluation range are computed with its statistic
(and math) and its state follows CloudWatch's rules (:mod:`.alarm_rules`), starting
from INSUFFICIENT_DATA as a new alarm does. Each alarm is also created in moto's
CloudWatch (PutMetricAlarm) and its state set there (SetAlarmState), so DescribeAlarms
and DescribeAlarmHistory show it; a change is published to the SNS topics of its
AlarmActions or OKActions, as CloudWatch does.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sqs_blueprint.local.alarm_defs import AlarmDef, read_alarms, resolver
from sqs_blueprint.local.alarm_metrics import LocalMetrics, Stats
from sqs_blueprint.local.alarm_rules import INSUFFICIENT, evaluate, statistic
from sqs_blueprint.local.alarm_sources import MetricKey
from sqs_blueprint.local.deploy import DeployedStack
from sqs_blueprint.local.server import LocalCloud

DEFAULT_SCALE = 60.0  # one alarm minute lasts one local second
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Change:
    alarm: str
    stack: str
    old: str
    new: str
    datapoint: float | None

    def __str__(self) -> str:
        return f"alarm {self.alarm}: {self.new}"


@dataclass
class _Watched:
    stack: str
    alarm: AlarmDef
    seconds: float  # the local length of one period
    state: str = INSUFFICIENT
    evaluated: int = 0  # periods ended and evaluated


def template(cloud: LocalCloud, stack_name: str) -> dict[str, Any]:
    """The template the local cloud's CloudFormation holds for ``stack_name``."""
    body = cloud.client("cloudformation").get_template(StackName=stack_name)["TemplateBody"]
    found: dict[str, Any] = json.loads(body) if isinstance(body, str) else body
    return found


def watched_alarms(
    cloud: LocalCloud, stacks: Iterable[DeployedStack]
) -> tuple[list[tuple[str, AlarmDef]], dict[str, str]]:
    """The alarms of ``stacks`` that can be evaluated locally (with their stack's name),
    and the others as ``stack/logical id`` with the reason."""
    found: list[tuple[str, AlarmDef]] = []
    refused: dict[str, str] = {}
    for stack in stacks:
        body = template(cloud, stack.name)
        alarms, why = read_alarms(stack.name, body, resolver(stack.resources))
        refused |= {f"{stack.name}/{lid}": reason for lid, reason in why.items()}
        found += [(stack.name, alarm) for alarm in alarms]
    return found, refused


class AlarmWatch:
    """``with AlarmWatch(cloud, stats=runner.function_stats) as watch:`` watches the
    alarms of ``stacks`` (default: every stack deployed into ``cloud``); ``notify`` hears
    each :class:`Change`; ``watch.states()`` is every alarm's state."""

    def __init__(
        self,
        cloud: LocalCloud,
        *,
        stats: Stats | None = None,
        scale: float = DEFAULT_SCALE,
        notify: Callable[[Change], None] | None = None,
        stacks: Iterable[DeployedStack] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if scale <= 0:
            raise ValueError(f"scale must be more than 0, got {scale}")
        self.cloud, self.clock, self.notify = cloud, clock, notify
        alarms, self.not_evaluated = watched_alarms(cloud, stacks or cloud.deployed)
        self.alarms = [_Watched(s, a, a.period / scale) for s, a in alarms]
        self.metrics = LocalMetrics(cloud, stats)
        self._cloudwatch, self._sns = cloud.client("cloudwatch"), cloud.client("sns")
        self.changes: list[Change] = []
        self._keys = sorted({m.key for w in self.alarms for m in w.alarm.metrics.values()})
        self._samples: dict[MetricKey, list[tuple[float, float | None]]] = {}
        shortest = min((w.seconds for w in self.alarms), default=1.0)
        self.tick_s = min(2.0, max(0.25, shortest / 4))
        self._keep_s = max(
            (w.seconds * (w.alarm.rule.evaluation_range + 1) for w in self.alarms), default=0
        )
        self._started = clock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def states(self) -> dict[str, str]:
        with self._lock:
            return {w.alarm.name: w.state for w in self.alarms}

    def changes_since(self, told: int) -> list[Change]:
        """The changes after the first ``told`` (each recorded with its new state)."""
        with self._lock:
            return self.changes[told:]

    def start(self) -> AlarmWatch:
        for watched in self.alarms:
            self._create(watched)
        self._started = self.clock()
        self._thread = threading.Thread(target=self._run, name="alarm-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.tick_s):
            try:
                self.step()
            except (ClientError, BotoCoreError, OSError):  # the cloud may be stopping
                log.debug("alarm watch: a sample failed", exc_info=True)

    def step(self) -> list[Change]:
        """Sample once; evaluate every alarm whose period ended; the changes."""
        now = self.clock()
        for key, value in self.metrics.sample(self._keys).items():
            kept = [s for s in self._samples.get(key, []) if s[0] >= now - self._keep_s]
            self._samples[key] = [*kept, (now, value)]
        changes = []
        for watched in self.alarms:
            ended = math.floor((now - self._started) / watched.seconds)
            if ended > watched.evaluated:
                watched.evaluated = ended
                change = self._evaluate(watched, ended)
                if change is not None:
                    changes.append(change)
        return changes

    def _evaluate(self, watched: _Watched, ended: int) -> Change | None:
        alarm, size = watched.alarm, watched.seconds
        first = max(0, ended - alarm.rule.evaluation_range)
        points = [
            self._datapoint(alarm, self._started + k * size, size) for k in range(first, ended)
        ]
        new = evaluate(alarm.rule, points, watched.state)
        if new == watched.state:
            return None
        change = Change(
            alarm.name, watched.stack, watched.state, new, points[-1] if points else None
        )
        with self._lock:
            watched.state = new
            self.changes.append(change)
        self._record(watched, change)
        if self.notify is not None:
            self.notify(change)
        return change

    def _datapoint(self, alarm: AlarmDef, start: float, size: float) -> float | None:
        values = {}
        for id_, metric in alarm.metrics.items():
            samples = self._samples.get(metric.key, [])
            inside = [v for t, v in samples if start <= t < start + size and v is not None]
            values[id_] = statistic(metric.stat, inside)
        return alarm.datapoint(values)

    def _create(self, watched: _Watched) -> None:
        """The alarm in moto's CloudWatch, INSUFFICIENT_DATA as a new alarm is."""
        props = dict(watched.alarm.props)
        try:
            self._cloudwatch.put_metric_alarm(AlarmName=watched.alarm.name, **props)
            self._cloudwatch.set_alarm_state(
                AlarmName=watched.alarm.name,
                StateValue=INSUFFICIENT,
                StateReason="Unchecked: Initial alarm creation",
            )
        except (ClientError, BotoCoreError):
            log.debug("moto refused alarm %s", watched.alarm.name, exc_info=True)

    def _record(self, watched: _Watched, change: Change) -> None:
        reason = (
            f"Threshold Crossed: datapoint {change.datapoint} against threshold "
            f"{watched.alarm.rule.threshold} ({watched.alarm.rule.comparison}), evaluated locally"
        )
        try:
            self._cloudwatch.set_alarm_state(
                AlarmName=change.alarm, StateValue=change.new, StateReason=reason
            )
            topics = watched.alarm.actions.get(change.new, ())
            for topic in topics:
                self._sns.publish(TopicArn=topic, Message=_message(change, reason))
        except (ClientError, BotoCoreError):
            log.debug("could not record the change of %s", change.alarm, exc_info=True)

    def __enter__(self) -> AlarmWatch:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _message(change: Change, reason: str) -> str:
    """The fields of CloudWatch's alarm notification that the local watch knows."""
    return json.dumps(
        {
            "AlarmName": change.alarm,
            "NewStateValue": change.new,
            "OldStateValue": change.old,
            "NewStateReason": reason,
            "StateChangeTime": datetime.now(UTC).isoformat(),
        }
    )
