"""The worker's heartbeat metric, published to moto's CloudWatch."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from sqs_blueprint.worker.heartbeat import Heartbeat

URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs-queue"


@pytest.fixture
def cloudwatch() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("cloudwatch", region_name="eu-west-1")


def beats(cloudwatch: Any, namespace: str) -> list[dict[str, Any]]:
    return list(cloudwatch.list_metrics(Namespace=namespace)["Metrics"])


def test_off_without_the_namespace() -> None:
    assert Heartbeat.from_env(queue_url=URL, alive=lambda: True, environ={}) is None


def test_beats_under_the_queue_name_while_alive_and_stops(cloudwatch: Any) -> None:
    alive = threading.Event()
    alive.set()
    heartbeat = Heartbeat.from_env(
        queue_url=URL,
        alive=alive.is_set,
        cloudwatch=cloudwatch,
        environ={"HEARTBEAT_NAMESPACE": "sqs-blueprint/Workers"},
    )
    assert heartbeat is not None
    heartbeat.interval_s = 0.01
    heartbeat.start()
    while heartbeat.beats < 3:  # a condition, not a sleep
        threading.Event().wait(0.01)
    alive.clear()
    heartbeat.stop()
    stopped_at = heartbeat.beats
    (metric,) = beats(cloudwatch, "sqs-blueprint/Workers")
    assert metric["MetricName"] == "Heartbeat"
    assert metric["Dimensions"] == [{"Name": "QueueName", "Value": "jobs-queue"}]
    assert heartbeat.beats == stopped_at  # the thread has ended


def test_a_refused_beat_is_logged_and_the_next_one_tried(cloudwatch: Any) -> None:
    heartbeat = Heartbeat(namespace="ns", queue_url=URL, cloudwatch=cloudwatch, alive=lambda: True)
    with Stubber(cloudwatch) as stub:
        stub.add_client_error("put_metric_data", "Throttling")
        assert heartbeat.beat() is False
    assert heartbeat.beat() is True
    assert heartbeat.beats == 1
