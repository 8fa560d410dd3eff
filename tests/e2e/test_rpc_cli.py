"""``sqs-blueprint rpc call`` against the shipped request/response stack (stage ``local``)
on the local cloud, run as a user would from another shell: no queue URL, no prefix."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import build_app
from sqs_blueprint.local import LocalCloud
from sqs_blueprint.local.assembly import Assembly, read_assembly
from sqs_blueprint.local.deploy import deploy_assembly
from sqs_blueprint.local.runner import LocalRunner
from tests.infra.conftest import cdk_context

pytestmark = pytest.mark.e2e
HANG_GUARD_S = 120  # only stops a hang; a call answers in seconds


@pytest.fixture(scope="module")
def responder(cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The request/response stack deployed and its responder running; its request queue."""
    outdir = tmp_path_factory.mktemp("rpc-cli.out")
    app, _ = build_app(cdk_context("local"), outdir=str(outdir))
    app.synth()
    assembly = read_assembly(Path(outdir))
    chosen = [s for s in assembly.stacks if s.artifact_id == "RequestResponse"]
    # update: the same stack may be deployed into this session's cloud already
    [stack] = deploy_assembly(cloud, Assembly(assembly.directory, chosen), update=True)
    logs = tmp_path_factory.mktemp("rpc-cli-logs")
    with LocalRunner(cloud, log_dir=logs, functions=[stack.outputs["FunctionName"]]):
        yield stack.outputs["RequestQueueUrl"]
    # What the refused call left behind would otherwise fail for other tests' runners.
    cloud.client("sqs").purge_queue(QueueUrl=stack.outputs["RequestQueueUrl"])


def rpc_call(cloud: LocalCloud, *args: str) -> subprocess.CompletedProcess[str]:
    """The command in a shell that exported what ``local up`` prints."""
    return subprocess.run(
        [sys.executable, "-m", "sqs_blueprint.cli", "rpc", "call", "--wait", "1", *args],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        check=False,
        env={**os.environ, **cloud.environment()},
    )


def test_call_finds_the_queue_and_prefix_in_the_stack_outputs(
    cloud: LocalCloud, responder: str
) -> None:
    payload = json.dumps({"data": "hello"})
    done = rpc_call(cloud, "--stage", "local", "--type", "checksum", "--json-payload", payload)
    assert (done.returncode, done.stderr) == (0, "")
    expected = hashlib.sha256(b"hello").hexdigest()
    assert json.loads(done.stdout)["hexdigest"] == expected


def test_a_prefix_of_ones_own_times_out_and_says_why(cloud: LocalCloud, responder: str) -> None:
    done = rpc_call(
        cloud, "--stage", "local", "--prefix", "myapp-resp-", "--type", "checksum", "--timeout", "3"
    )
    assert done.returncode == 1 and done.stdout == ""
    assert re.fullmatch(
        r"sqs-blueprint rpc call: no response to request \S+ within the timeout; the responder "
        r"answers only reply queues named with its stack's ResponseQueuePrefix: leave out "
        r"--prefix to read it from the stack\n",
        done.stderr,
    )


def test_a_stage_not_deployed_is_one_line(cloud: LocalCloud, responder: str) -> None:
    done = rpc_call(cloud, "--stage", "nosuch", "--type", "checksum")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        "sqs-blueprint rpc call: stack sqs-blueprint-nosuch-request-response does not exist in "
        "this account and region (deploy it, choose its stage with --stage, or give "
        "--queue-url and --prefix)\n"
    )
