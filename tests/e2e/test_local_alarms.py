"""The fixture's DLQ alarm, evaluated by the local alarm watch: ALARM when a poison
message is dead-lettered, OK again once it is redriven and processed."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqs_blueprint.local.alarm_watch import AlarmWatch
from sqs_blueprint.redrive import redrive
from tests.e2e.conftest import Harness

ALARM_NAME = "runner-fixture-WorkDlqDepth"


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not {what} after {timeout_s} s"
        time.sleep(0.1)


def test_dlq_alarm_fires_on_a_poison_message_and_clears_after_the_redrive(
    harness: Harness,
) -> None:
    sqs, fn = harness.cloud.client("sqs"), harness.output("FnAName")
    dlq = harness.output("WorkDlqUrl")
    sqs.purge_queue(QueueUrl=dlq)  # dead letters other tests left
    stats = harness.runner.stats
    with AlarmWatch(
        harness.cloud, stats=lambda: stats().functions, stacks=[harness.stack]
    ) as watch:
        assert watch.not_evaluated == {}

        def state() -> str:
            return watch.states()[ALARM_NAME]

        wait_for(lambda: state() == "OK", 60, "OK with an empty DLQ")
        harness.send("WorkQueueUrl", "poison")
        wait_for(lambda: state() == "ALARM", 120, "ALARM with a dead letter")
        harness.runner.update_environment(fn, {"POISON_FIXED": "1"})
        try:
            assert redrive(dlq, sqs_client=sqs).moved == 1
            wait_for(lambda: state() == "OK", 120, "OK after the redrive")
        finally:
            harness.runner.update_environment(fn, {"POISON_FIXED": None})
        told = [(c.old, c.new) for c in watch.changes if c.alarm == ALARM_NAME]
    assert told == [("INSUFFICIENT_DATA", "OK"), ("OK", "ALARM"), ("ALARM", "OK")]
    cloudwatch = harness.cloud.client("cloudwatch")
    [alarm] = cloudwatch.describe_alarms(AlarmNames=[ALARM_NAME])["MetricAlarms"]
    assert (alarm["StateValue"], alarm["Threshold"], alarm["Period"]) == ("OK", 1.0, 60)
