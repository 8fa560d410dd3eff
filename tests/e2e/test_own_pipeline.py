"""The README walkthrough "Your own pipeline", step by step on the local cloud.

A handler written to ``lambdas/<name>/handler.py``, its block added to the local
stage, the stage synthesized, the new stack deployed into the embedded cloud and
its mapping run; messages go in with ``sqs-blueprint send`` and are waited for in
the table. The source queue's visibility is shortened locally (as the demo does)
so that a bad record reaches the DLQ within seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app import build_app
from sqs_blueprint.local import LocalCloud
from sqs_blueprint.local.assembly import Assembly, read_assembly
from sqs_blueprint.local.deploy import DeployedStack, deploy_assembly
from sqs_blueprint.local.runner import LocalRunner
from tests.e2e.readme_examples import fences
from tests.infra.own_pipeline import BLOCK, HANDLER, context_with, own_handler

pytestmark = pytest.mark.e2e

NAME = "own-e2e-orders"  # not the README's "orders": a user's own folder stays untouched
LOCAL_VISIBILITY_S = 8  # longer than a batch on a busy machine, cold start included
HANG_GUARD_S = 120  # only stops a hang; sending takes about a second


@dataclass
class Walkthrough:
    cloud: LocalCloud
    stack: DeployedStack
    runner: LocalRunner
    folder: Path

    def out(self, key: str) -> str:
        return self.stack.outputs[key]

    def send(self, *orders: dict[str, Any]) -> None:
        """``sqs-blueprint send --queue-url <QueueUrl> orders.jsonl``, as the README says."""
        lines = self.folder / f"orders-{uuid.uuid4().hex[:8]}.jsonl"
        lines.write_text("".join(json.dumps(order) + "\n" for order in orders))
        command = ["send", "--queue-url", self.out("QueueUrl"), str(lines)]
        done = subprocess.run(
            [sys.executable, "-m", "sqs_blueprint.cli", *command],
            env={**os.environ, **self.cloud.environment()},
            capture_output=True,
            text=True,
            timeout=HANG_GUARD_S,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert len(done.stdout.splitlines()) == len(orders)

    def items(self) -> dict[str, dict[str, Any]]:
        """The table's items by order id."""
        pages = self.cloud.client("dynamodb").get_paginator("scan")
        found = pages.paginate(TableName=self.out("TableName"))
        return {i["order_id"]["S"]: i for page in found for i in page["Items"]}

    def dead_letters(self) -> list[str]:
        got = self.cloud.client("sqs").receive_message(
            QueueUrl=self.out("DeadLetterQueueUrl"), MaxNumberOfMessages=10, VisibilityTimeout=0
        )
        return [m["Body"] for m in got.get("Messages", [])]

    def wait(self, condition: Callable[[], bool], timeout_s: float = 180) -> None:
        stats = self.runner.drain(timeout_s, until=condition)
        assert stats.drained, f"not done after {timeout_s} s: {stats}"


@pytest.fixture(scope="module")
def walkthrough(
    cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Walkthrough]:
    outdir = tmp_path_factory.mktemp("own-pipeline.out")
    with own_handler(NAME):  # the user's step 1; steps 2 and 3: the block, then synth
        app, _ = build_app(context_with("local", {NAME: BLOCK}), outdir=str(outdir))
        app.synth()
    assembly = read_assembly(outdir)
    own = Assembly(assembly.directory, [s for s in assembly.stacks if s.artifact_id == NAME])
    [stack] = deploy_assembly(cloud, own)
    cloud.client("sqs").set_queue_attributes(
        QueueUrl=stack.outputs["QueueUrl"],
        Attributes={"VisibilityTimeout": str(LOCAL_VISIBILITY_S)},
    )
    logs = tmp_path_factory.mktemp("own-pipeline-logs")
    functions = [stack.outputs["FunctionName"]]
    with LocalRunner(cloud, log_dir=logs, functions=functions) as runner:
        yield Walkthrough(cloud, stack, runner, tmp_path_factory.mktemp("orders"))


def test_sent_orders_are_written_to_the_table(walkthrough: Walkthrough) -> None:
    tag = uuid.uuid4().hex[:8]
    orders = [{"order_id": f"{tag}-{i}", "item": "tea", "quantity": i + 1} for i in range(12)]
    walkthrough.send(*orders)
    expected = {order["order_id"] for order in orders}
    walkthrough.wait(lambda: expected <= set(walkthrough.items()))
    written = {k: v for k, v in walkthrough.items().items() if k.startswith(tag)}
    assert set(written) == expected
    assert written[f"{tag}-3"]["quantity"] == {"N": "4"}
    assert written[f"{tag}-3"]["status"] == {"S": "accepted"}


def test_a_bad_order_lands_in_the_dlq_and_the_rest_are_written(walkthrough: Walkthrough) -> None:
    tag = uuid.uuid4().hex[:8]
    good = [{"order_id": f"{tag}-{i}", "item": "cups", "quantity": 2} for i in range(3)]
    bad = {"order_id": f"{tag}-bad", "item": "cups", "quantity": 0}
    walkthrough.send(good[0], bad, *good[1:])
    walkthrough.wait(lambda: json.dumps(bad) in walkthrough.dead_letters())
    assert {o["order_id"] for o in good} <= set(walkthrough.items())
    assert bad["order_id"] not in walkthrough.items()
    walkthrough.wait(walkthrough.runner.queues_empty, 30)


def test_the_readme_shows_the_handler_and_block_this_test_runs() -> None:
    """The README's walkthrough is the tested one: its handler and block, verbatim."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    shown = {fence.tag: "\n".join(fence.lines) for fence in fences(_walkthrough(readme))}
    assert shown["python"] + "\n" == HANDLER
    assert json.loads(shown["json"]) == {"pipelines": {"orders": BLOCK}}


def _walkthrough(readme: str) -> str:
    start = readme.index("## Your own pipeline")
    return readme[start : readme.index("\n## ", start + 1)]
