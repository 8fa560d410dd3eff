"""The local stage the demo runs: its assembly (synthesized when missing), the two
deployed pipelines, and the local timings that let retries fit in the demo."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqs_blueprint import capacity
from sqs_blueprint.local.assembly import AssemblyError, read_assembly
from sqs_blueprint.local.demo.workload import DemoError
from sqs_blueprint.local.deploy import DeployedStack
from sqs_blueprint.local.invoke import set_environment
from sqs_blueprint.local.server import LocalCloud
from sqs_blueprint.write_buffer import WriteBufferSettings, wcu_text

LOCAL_STAGE = "local"
ROOT = Path(__file__).resolve().parents[3]  # the project: cdk.json, node_modules
MIN_VISIBILITY_S = 30  # the source queues' local visibility, at least
RETRY_MAX_S = 10  # the local retry backoff's cap


@dataclass
class Pipeline:
    """What the demo needs of one deployed stack."""

    stack: DeployedStack
    queue_url: str
    dlq_url: str
    table: str
    function: str

    @classmethod
    def of(cls, stacks: list[DeployedStack], artifact_id: str, prefix: str) -> Pipeline:
        stack = next((s for s in stacks if s.artifact_id == artifact_id), None)
        if stack is None:
            raise DemoError(f"the assembly has no {artifact_id} stack; run `make synth`")
        out = stack.outputs
        return cls(
            stack,
            out[f"{prefix}QueueUrl"],
            out[f"{prefix}DeadLetterQueueUrl"],
            out["TableName"],
            out["FunctionName"],
        )


@dataclass(frozen=True)
class Settings:
    """The deployed write buffer's figures the summary reports."""

    provisioned_wcu: int
    batch_size: int
    max_concurrency: int
    visibility_timeout_s: int


def local_assembly(directory: Path) -> bool:
    """Check that ``directory`` holds the local stage; synthesize it there if it holds
    nothing (returns True then)."""
    synthesized = not (directory / "manifest.json").is_file()
    if synthesized:
        _synthesize(directory)
    try:
        stack_name = read_assembly(directory).stack("WriteBuffer").stack_name
    except AssemblyError as error:
        raise DemoError(f"{directory} is not an assembly the demo can run: {error}") from error
    expected = f"sqs-blueprint-{LOCAL_STAGE}-write-buffer"
    if stack_name != expected:
        raise DemoError(
            f"{directory} holds another stage (stack {stack_name!r}, not {expected!r}); the demo "
            f"runs the {LOCAL_STAGE!r} stage, sized for the local cloud: run `make demo`, or "
            f"pass --cdk-out with an empty folder and the demo synthesizes it there"
        )
    return synthesized


def _synthesize(directory: Path) -> None:
    """``cdk synth -c stage=local --output directory`` with the project's pinned CDK CLI."""
    cdk = ROOT / "node_modules" / ".bin" / "cdk"
    if not (ROOT / "cdk.json").is_file() or not cdk.is_file():
        raise DemoError(
            f"no assembly in {directory} and no CDK CLI at {cdk} to synthesize one: "
            "run `make demo` from the project's folder"
        )
    path = os.pathsep.join([str(cdk.parent), str(Path(sys.executable).parent), os.environ["PATH"]])
    env = {**os.environ, "PATH": path, "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1"}
    command = [str(cdk), "synth", "--quiet", "-c", f"stage={LOCAL_STAGE}"]
    done = subprocess.run(
        [*command, "--output", str(directory.resolve())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise DemoError(f"`cdk synth -c stage={LOCAL_STAGE}` failed ({done.returncode}): {last}")


def settings(cloud: LocalCloud, buffer: Pipeline) -> Settings:
    lam, ddb, sqs = cloud.client("lambda"), cloud.client("dynamodb"), cloud.client("sqs")
    (mapping,) = lam.list_event_source_mappings(FunctionName=buffer.function)["EventSourceMappings"]
    table = ddb.describe_table(TableName=buffer.table)["Table"]
    visibility = sqs.get_queue_attributes(
        QueueUrl=buffer.queue_url, AttributeNames=["VisibilityTimeout"]
    )["Attributes"]["VisibilityTimeout"]
    return Settings(
        provisioned_wcu=int(table["ProvisionedThroughput"]["WriteCapacityUnits"]),
        batch_size=int(mapping["BatchSize"]),
        max_concurrency=int(mapping.get("ScalingConfig", {}).get("MaximumConcurrency", 0)),
        visibility_timeout_s=int(visibility),
    )


MAX_WCU = 40_000  # DynamoDB's default quota of write capacity for one table


def provision(cloud: LocalCloud, buffer: Pipeline, wcu: int, deployed_wcu: int) -> None:
    """Give the write buffer's table ``wcu`` write capacity units and scale its consumers'
    write budget (``WCU_PER_SECOND``) by the same factor, so concurrency x budget stays
    within the table; batch size and maximum concurrency stay as deployed."""
    if not 1 <= wcu <= MAX_WCU:
        raise DemoError(f"--wcu must be 1..{MAX_WCU:,} (a table's default quota), got {wcu}")
    ddb, lam = cloud.client("dynamodb"), cloud.client("lambda")
    throughput = ddb.describe_table(TableName=buffer.table)["Table"]["ProvisionedThroughput"]
    ddb.update_table(
        TableName=buffer.table,
        ProvisionedThroughput={
            "ReadCapacityUnits": int(throughput["ReadCapacityUnits"]),
            "WriteCapacityUnits": wcu,
        },
    )
    config = lam.get_function_configuration(FunctionName=buffer.function)
    budget = float(config["Environment"]["Variables"]["WCU_PER_SECOND"])
    set_environment(lam, buffer.function, {"WCU_PER_SECOND": wcu_text(budget * wcu / deployed_wcu)})


def shorten_visibility(cloud: LocalCloud, pipelines: Iterable[Pipeline], batch_size: int) -> int:
    """A visibility long enough for one paced batch on a busy machine (three times its
    paced time, and at least 30 s: a batch still running when its messages reappear is
    written twice), short enough that a crashed batch comes back within the demo.
    Failed records come back sooner: the handlers set their visibility to the retry
    backoff, 1..``RETRY_MAX_S`` s."""
    lam = cloud.client("lambda")
    env = lam.get_function_configuration(FunctionName=next(iter(pipelines)).function)
    budget = float(env["Environment"]["Variables"].get("WCU_PER_SECOND", "0") or 0)
    batch_s = batch_size * capacity.wcu_per_item(1) / budget if budget else 1.0
    seconds = max(MIN_VISIBILITY_S, int(3 * batch_s) + 4)
    sqs = cloud.client("sqs")
    for pipeline in pipelines:
        sqs.set_queue_attributes(
            QueueUrl=pipeline.queue_url, Attributes={"VisibilityTimeout": str(seconds)}
        )
        # The retry backoff shrinks too, so retries stay within the demo.
        set_environment(
            lam, pipeline.function, {"RETRY_BASE_S": "1", "RETRY_MAX_S": str(RETRY_MAX_S)}
        )
    return seconds


def key_fields(cloud: LocalCloud, function: str) -> tuple[str, ...] | None:
    """The key fields the deployed function reads, parsed as the function parses them."""
    config = cloud.client("lambda").get_function_configuration(FunctionName=function)
    variables = config.get("Environment", {}).get("Variables", {})
    return WriteBufferSettings.from_env(variables).key_fields
