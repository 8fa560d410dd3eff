"""The local event-source mapping follows Lambda where emulators are known to differ:
a malformed partial-batch response fails the whole batch, a disabled mapping does
not poll until it is enabled, an error or a timeout leaves the batch to the queue's
visibility timeout, and no event passes Lambda's 6 MB invocation payload.

Each test maps a queue of its own to one probe function, run by a runner of this
module; the probe writes one file per record it receives (receive count, time,
event size) and behaves as the first record's body says.
"""

from __future__ import annotations

import io
import json
import textwrap
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from sqs_blueprint import limits
from sqs_blueprint.local import DeployedStack, LocalCloud
from sqs_blueprint.local.runner import LocalRunner
from tests.e2e.grants import let_consume

pytestmark = pytest.mark.e2e

FUNCTION_TIMEOUT_S = 1
PROBE = """
import json, os, time

def lambda_handler(event, context):
    records = event["Records"]
    size = len(json.dumps(event, ensure_ascii=False).encode())
    for record in records:
        count = record["attributes"]["ApproximateReceiveCount"]
        path = os.path.join(os.environ["OUT_DIR"], f"{record['messageId']}-{count}")
        with open(path, "w") as out:
            json.dump({"at": time.time(), "size": size, "records": len(records)}, out)
    body = records[0]["body"]
    action = json.loads(body) if body.startswith("{") else {}
    first = records[0]["attributes"]["ApproximateReceiveCount"] == "1"
    if action.get("raise_once") and first:
        raise RuntimeError("the whole batch fails")
    if action.get("sleep_once") and first:
        time.sleep(action["sleep_once"])
    return action.get("respond")
"""


@dataclass
class Probe:
    cloud: LocalCloud
    runner: LocalRunner
    name: str
    role: str
    out: Path

    def queue(self, visibility_s: int) -> tuple[str, str]:
        """A new queue: its URL and ARN."""
        sqs = self.cloud.client("sqs")
        url = sqs.create_queue(
            QueueName=f"probe-{uuid.uuid4().hex[:12]}",
            Attributes={"VisibilityTimeout": str(visibility_s)},
        )["QueueUrl"]
        return url, let_consume(sqs, url, self.role)

    def map(self, queue_arn: str, **settings: Any) -> str:
        """Map ``queue_arn`` to the probe; the runner starts polling it by itself."""
        lam = self.cloud.client("lambda")
        created = lam.create_event_source_mapping(
            EventSourceArn=queue_arn, FunctionName=self.name, **settings
        )
        uuid_: str = created["UUID"]
        return uuid_

    def send(self, url: str, *bodies: str) -> list[str]:
        sqs = self.cloud.client("sqs")
        return [sqs.send_message(QueueUrl=url, MessageBody=b)["MessageId"] for b in bodies]

    def deliveries(self, message_id: str) -> dict[int, dict[str, Any]]:
        """What the probe recorded for each receive of ``message_id``, by receive count."""
        return {
            int(path.name.rsplit("-", 1)[1]): json.loads(path.read_text())
            for path in self.out.glob(f"{message_id}-*")
        }

    def counts(self, url: str) -> tuple[int, int]:
        """(visible, in flight) messages of the queue at ``url``."""
        attributes = self.cloud.client("sqs").get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        )

    def stat(self, counter: str) -> int:
        function = self.runner.stats().functions.get(self.name)
        return 0 if function is None else int(getattr(function, counter))


def wait_for(condition: Callable[[], bool], timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met before the deadline"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def probe(
    cloud: LocalCloud, deployed: DeployedStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Probe]:
    code = tmp_path_factory.mktemp("probe-code")
    (code / "handler.py").write_text(textwrap.dedent(PROBE))
    out = tmp_path_factory.mktemp("probe-out")
    lam = cloud.client("lambda")
    role = lam.get_function(FunctionName=deployed.outputs["FnAName"])["Configuration"]["Role"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("handler.py", "")  # the runner runs the code directory itself
    name = f"probe-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role,
        Handler="handler.lambda_handler",
        Code={"ZipFile": archive.getvalue()},
        Timeout=FUNCTION_TIMEOUT_S,
        Environment={"Variables": {"OUT_DIR": str(out)}},
    )
    location = lam.get_function(FunctionName=name)["Code"]["Location"]
    cloud.code_dirs[urlparse(location).path.lstrip("/")] = code
    logs = tmp_path_factory.mktemp("probe-logs")
    # One poller a mapping, so that one batch can collect every message of a test.
    with LocalRunner(cloud, functions=[name], log_dir=logs, refresh_s=0.2, max_pollers=1) as runner:
        yield Probe(cloud, runner, name, role, out)


@pytest.mark.parametrize(
    "response",
    [
        {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]},
        {"batchItemFailures": [{"messageId": "a bad key name"}]},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": 7}]},
    ],
    ids=["unknown-id", "missing-field", "empty-id", "wrong-type"],
)
def test_a_malformed_failure_report_fails_the_whole_batch(
    probe: Probe, response: dict[str, Any]
) -> None:
    url, arn = probe.queue(visibility_s=120)  # the batch stays in flight for the test
    errors, deleted = probe.stat("errors"), probe.stat("deleted")
    ids = probe.send(url, *[json.dumps({"respond": response})] * 3)
    probe.map(arn, BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"])
    wait_for(lambda: probe.stat("errors") > errors)
    delivered = [probe.deliveries(i) for i in ids]
    assert all(1 in d for d in delivered), "the three messages were one batch"
    # Nothing was deleted: the whole batch waits for its visibility timeout.
    assert probe.stat("deleted") == deleted
    assert probe.counts(url) == (0, 3)
    last_error = probe.runner.stats().functions[probe.name].last_error or ""
    assert last_error.startswith("invalid batch item failure: ")


@pytest.mark.parametrize("action", ["raise_once", "sleep_once"])
def test_an_error_or_a_timeout_leaves_the_batch_to_the_visibility_timeout(
    probe: Probe, action: str
) -> None:
    visibility_s = 4
    url, arn = probe.queue(visibility_s=visibility_s)
    [message_id] = probe.send(url, json.dumps({action: FUNCTION_TIMEOUT_S * 3}))
    probe.map(arn, BatchSize=1, FunctionResponseTypes=["ReportBatchItemFailures"])
    wait_for(lambda: 2 in probe.deliveries(message_id))
    wait_for(lambda: probe.counts(url) == (0, 0))  # the second delivery succeeds
    first, second = probe.deliveries(message_id)[1], probe.deliveries(message_id)[2]
    # The runner did not return the batch early: the message came back only when
    # its visibility timeout expired (one receive before the first invocation).
    assert second["at"] - first["at"] >= visibility_s - 1


def test_a_disabled_mapping_polls_only_once_enabled(probe: Probe) -> None:
    url, arn = probe.queue(visibility_s=30)
    cfn = probe.cloud.client("cloudformation")
    stack = f"disabled-{uuid.uuid4().hex[:8]}"
    template = {
        "Resources": {
            "Mapping": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {"EventSourceArn": arn, "FunctionName": probe.name, "Enabled": False},
            }
        }
    }
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    wait_for(
        lambda: (
            cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
        )
    )
    mapping = cfn.describe_stack_resource(StackName=stack, LogicalResourceId="Mapping")
    mapping_uuid = mapping["StackResourceDetail"]["PhysicalResourceId"]
    lam = probe.cloud.client("lambda")
    assert lam.get_event_source_mapping(UUID=mapping_uuid)["State"] == "Disabled"

    [message_id] = probe.send(url, "waits for the mapping")
    probe.runner.sync()
    assert mapping_uuid not in {m.uuid for m in probe.runner.mappings}
    assert probe.counts(url) == (1, 0)  # never received

    lam.update_event_source_mapping(UUID=mapping_uuid, Enabled=True)
    wait_for(lambda: 1 in probe.deliveries(message_id))
    wait_for(lambda: probe.counts(url) == (0, 0))

    lam.update_event_source_mapping(UUID=mapping_uuid, Enabled=False)
    wait_for(lambda: mapping_uuid not in {m.uuid for m in probe.runner.mappings})
    [later] = probe.send(url, "sent while disabled")
    probe.runner.sync()
    assert probe.counts(url) == (1, 0)
    assert not probe.deliveries(later)


def test_no_event_passes_the_6_mb_invocation_payload(probe: Probe) -> None:
    url, arn = probe.queue(visibility_s=60)
    body_bytes = 200_000  # under moto's 256 KiB default; 32 of them pass 6 MB
    count = 40
    deferred = probe.stat("deferred")
    ids = probe.send(url, *[f"{i:04d}" + "x" * (body_bytes - 4) for i in range(count)])
    probe.map(arn, BatchSize=count, MaximumBatchingWindowInSeconds=3)
    wait_for(lambda: probe.counts(url) == (0, 0), timeout_s=120)

    deliveries = [d for i in ids for d in probe.deliveries(i).values()]
    assert {i for i in ids if probe.deliveries(i)} == set(ids)  # every message arrived
    assert max(d["size"] for d in deliveries) <= limits.LAMBDA_MAX_INVOKE_PAYLOAD_BYTES
    assert max(d["records"] for d in deliveries) < count  # the batch was cut short
    assert probe.stat("deferred") > deferred  # and the rest left for the next poll


def test_moto_never_receives_for_a_mapping_itself(probe: Probe) -> None:
    """A message sent at once after a mapping is created waits for the mapping's poller:
    moto's own trigger would receive it on arrival (and count that receive)."""
    lam = probe.cloud.client("lambda")
    probe_config = lam.get_function(FunctionName=probe.name)["Configuration"]
    unpolled = f"unpolled-{uuid.uuid4().hex[:8]}"  # no runner polls its mappings
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("handler.py", "")
    lam.create_function(
        FunctionName=unpolled,
        Runtime="python3.13",
        Role=probe_config["Role"],
        Handler="handler.lambda_handler",
        Code={"ZipFile": archive.getvalue()},
    )
    url, arn = probe.queue(visibility_s=30)
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=unpolled, BatchSize=1)
    probe.send(url, "sent right after the mapping")

    assert probe.counts(url) == (1, 0)  # waiting, received by nobody
    got = probe.cloud.client("sqs").receive_message(
        QueueUrl=url, MessageSystemAttributeNames=["ApproximateReceiveCount"]
    )
    [message] = got["Messages"]
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
