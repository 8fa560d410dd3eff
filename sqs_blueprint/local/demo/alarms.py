"""The demo's alarms: the two pipelines' synthesized alarms evaluated while the runner
drains (:mod:`sqs_blueprint.local.alarm_watch`), their moves into and out of ALARM told
as story lines by the main thread (the watch runs in a thread of its own)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from sqs_blueprint.local.alarm_rules import ALARM
from sqs_blueprint.local.alarm_watch import DEFAULT_SCALE, AlarmWatch
from sqs_blueprint.local.deploy import DeployedStack
from sqs_blueprint.local.runner import LocalRunner
from sqs_blueprint.local.server import LocalCloud


class AlarmLines:
    """The watch's changes into or out of ALARM, told by :meth:`flush` once each."""

    def __init__(self) -> None:
        self.watch: AlarmWatch | None = None
        self._told = 0

    def flush(self, say: Callable[[str], None]) -> None:
        if self.watch is None:
            return
        changes = self.watch.changes_since(self._told)
        self._told += len(changes)
        for change in changes:
            if ALARM in (change.old, change.new):
                say(f"   {change}")

    def settle(self, queue_name: str, state: str, say: Callable[[str], None]) -> None:
        """Wait until the alarms on ``queue_name`` are in ``state``, then tell the changes."""
        if self.watch is not None:
            wait_for(self.watch, queue_name, state)
        self.flush(say)


@contextmanager
def watching(
    cloud: LocalCloud, runner: LocalRunner, stacks: Iterable[DeployedStack], lines: AlarmLines
) -> Iterator[AlarmWatch]:
    """The alarms of ``stacks`` evaluated with the runner's counters until the block ends."""
    with AlarmWatch(cloud, stats=lambda: runner.stats().functions, stacks=stacks) as watch:
        lines.watch = watch
        yield watch


def wait_for(watch: AlarmWatch, queue_name: str, state: str) -> bool:
    """Wait (two of their periods at most) until the alarms on ``queue_name`` are in
    ``state``: an alarm changes state only when a period ends."""
    names = {
        w.alarm.name
        for w in watch.alarms
        if any(dict(m.dimensions).get("QueueName") == queue_name for m in w.alarm.metrics.values())
    }
    longest = max((w.seconds for w in watch.alarms if w.alarm.name in names), default=0.0)
    deadline = time.monotonic() + 2 * longest + 2 * watch.tick_s
    while True:
        states = watch.states()
        if all(states[n] == state for n in names):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(watch.tick_s)


def scale_line(watch: AlarmWatch) -> str:
    periods = sorted({w.alarm.period for w in watch.alarms})
    shown = ", ".join(f"{p} s -> {p / DEFAULT_SCALE:g} s" for p in periods)
    return (
        f"   alarms: {len(watch.alarms)} of the pipelines' alarms evaluated locally, "
        f"periods {DEFAULT_SCALE:g}x shorter ({shown})"
    )
