"""One synthesized fixture app, one embedded moto server and one runner per session."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sqs_blueprint.local import DeployedStack, LocalCloud
from sqs_blueprint.local.runner import LocalRunner, RunStats
from tests.e2e.fixtures.app import build


@pytest.fixture(scope="session")
def fixture_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("runner-fixture.out")
    build(str(outdir)).synth()
    return outdir


@pytest.fixture(scope="session")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud.start() as started:
        yield started


@pytest.fixture(scope="session")
def deployed(cloud: LocalCloud, fixture_assembly: Path) -> DeployedStack:
    [stack] = cloud.deploy(fixture_assembly)
    return stack


@pytest.fixture(scope="session")
def runner(
    cloud: LocalCloud, deployed: DeployedStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalRunner]:
    functions = deployed.physical_ids("AWS::Lambda::Function")
    logs = tmp_path_factory.mktemp("function-logs")
    with LocalRunner(cloud, log_dir=logs, functions=functions) as started:
        yield started


@dataclass
class Harness:
    """What a runner test needs: send, wait, and read what the handlers saw."""

    cloud: LocalCloud
    stack: DeployedStack
    runner: LocalRunner
    tag: str

    def output(self, key: str) -> str:
        return self.stack.outputs[key]

    def send(self, queue: str, *actions: str, **kwargs: Any) -> list[str]:
        """Send one message per action to the queue of output ``queue``; their ids."""
        sqs = self.cloud.client("sqs")
        ids = []
        for start in range(0, len(actions), 10):
            entries = [
                {
                    "Id": str(i),
                    "MessageBody": json.dumps({"tag": self.tag, "action": a, "i": start + i}),
                    **kwargs,
                }
                for i, a in enumerate(actions[start : start + 10])
            ]
            if queue.endswith("OrderedQueueUrl"):
                for entry in entries:
                    entry.setdefault("MessageGroupId", "g")
                    entry["MessageDeduplicationId"] = f"{self.tag}-{entry['Id']}-{start}"
            response = sqs.send_message_batch(QueueUrl=self.output(queue), Entries=entries)
            assert not response.get("Failed"), response
            ids += [ok["MessageId"] for ok in sorted(response["Successful"], key=_entry_order)]
        return ids

    def seen(self) -> dict[str, Any]:
        """Every object the handlers wrote for this test's tag, by key (without the tag)."""
        s3 = self.cloud.client("s3")
        bucket = self.output("SeenBucket")
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{self.tag}/").get("Contents", [])
        return {
            obj["Key"].split("/", 1)[1]: json.loads(
                s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            )
            for obj in listed
        }

    def dead_letters(self) -> list[dict[str, Any]]:
        sqs = self.cloud.client("sqs")
        found = []
        while True:
            got = sqs.receive_message(
                QueueUrl=self.output("WorkDlqUrl"),
                MaxNumberOfMessages=10,
                VisibilityTimeout=30,
                MessageSystemAttributeNames=["All"],
            ).get("Messages", [])
            if not got:
                return [m for m in found if json.loads(m["Body"])["tag"] == self.tag]
            found += got

    def drain(self, timeout_s: float = 120.0) -> RunStats:
        """Wait until every mapped queue is empty (a generous deadline: it returns at once)."""
        stats = self.runner.drain(timeout_s)
        assert stats.drained, f"queues not empty after {timeout_s} s: {stats}"
        return stats


def _entry_order(entry: dict[str, Any]) -> int:
    return int(entry["Id"])


@pytest.fixture
def harness(cloud: LocalCloud, deployed: DeployedStack, runner: LocalRunner) -> Harness:
    return Harness(cloud, deployed, runner, tag=uuid.uuid4().hex[:12])


def delta(before: RunStats, after: RunStats, function: str, counter: str) -> int:
    def get(stats: RunStats) -> int:
        fs = stats.functions.get(function)
        return 0 if fs is None else int(getattr(fs, counter))

    return get(after) - get(before)
