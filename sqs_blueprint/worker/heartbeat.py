"""The worker's heartbeat: one CloudWatch data point a minute while it runs.

``Ec2QueueWorkers`` sets ``HEARTBEAT_NAMESPACE`` on its instances and alarms
when the group's heartbeats fall short of one a minute per instance in
service, so a worker that never started, crash-loops or hangs before its run
is seen within minutes. Each beat is ``Heartbeat`` = 1 (Count) with the
dimension ``QueueName``; without ``HEARTBEAT_NAMESPACE`` (local runs, tests)
nothing is published. A refused beat is logged and the next one tried: the
heartbeat never stops the worker.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sqs_blueprint.worker.logs import log

NAMESPACE_ENV = "HEARTBEAT_NAMESPACE"
METRIC_NAME = "Heartbeat"
DIMENSION = "QueueName"
INTERVAL_S = 60.0


def queue_name(queue_url: str) -> str:
    """The queue's name: the last part of its URL."""
    return queue_url.rstrip("/").rsplit("/", 1)[-1]


class Heartbeat:
    """Publishes a beat every ``interval_s`` on a daemon thread while ``alive()``."""

    def __init__(
        self,
        *,
        namespace: str,
        queue_url: str,
        cloudwatch: Any,
        alive: Callable[[], bool],
        interval_s: float = INTERVAL_S,
    ) -> None:
        self.namespace = namespace
        self.queue_name = queue_name(queue_url)
        self.interval_s = interval_s
        self._cloudwatch = cloudwatch
        self._alive = alive
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self.beats = 0

    @classmethod
    def from_env(
        cls,
        *,
        queue_url: str,
        alive: Callable[[], bool],
        cloudwatch: Any = None,
        environ: Mapping[str, str] = os.environ,
    ) -> Heartbeat | None:
        """A heartbeat when ``HEARTBEAT_NAMESPACE`` is set, else None."""
        namespace = environ.get(NAMESPACE_ENV, "")
        if not namespace:
            return None
        if cloudwatch is None:
            import boto3

            cloudwatch = boto3.client("cloudwatch")
        return cls(namespace=namespace, queue_url=queue_url, cloudwatch=cloudwatch, alive=alive)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def beat(self) -> bool:
        """Publish one beat; False (and a log line) if CloudWatch refused it."""
        try:
            self._cloudwatch.put_metric_data(
                Namespace=self.namespace,
                MetricData=[
                    {
                        "MetricName": METRIC_NAME,
                        "Dimensions": [{"Name": DIMENSION, "Value": self.queue_name}],
                        "Value": 1.0,
                        "Unit": "Count",
                    }
                ],
            )
        except (BotoCoreError, ClientError) as error:
            log.warning("heartbeat refused", extra={"error": str(error)})
            return False
        self.beats += 1
        return True

    def _run(self) -> None:
        while not self._stop.is_set() and self._alive():
            self.beat()
            self._stop.wait(self.interval_s)
