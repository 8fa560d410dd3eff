"""The blueprint end to end on the local cloud: ``sqs-blueprint demo``.

Deploys the synthesized stacks into an embedded moto server, drives a workload
through the write buffer and the ordered pipeline (ordinary messages,
duplicates, bodies large enough to go through S3, poison messages), waits for
the dead letters, inspects them, applies the fix, redrives them to their source,
and proves that nothing was lost and nothing written twice.

The poison of the write buffer is a partner whose payloads live in a bucket of
its own: the consumer trusts only the buckets named in ``PAYLOAD_BUCKET``, so
those records fail, reach the DLQ after maxReceiveCount, and land once the
operator adds the partner's bucket to the function's configuration.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sqs_blueprint import capacity
from sqs_blueprint.errors import UsageError
from sqs_blueprint.local.assembly import AssemblyError, read_assembly
from sqs_blueprint.local.deploy import DeployedStack
from sqs_blueprint.local.runner import LocalRunner, set_environment
from sqs_blueprint.local.server import LocalCloud
from sqs_blueprint.payload import PayloadStore
from sqs_blueprint.producer import Message, Producer
from sqs_blueprint.redrive import inspect, redrive
from sqs_blueprint.upsert import item_key
from sqs_blueprint.write_buffer import WriteBufferSettings

PARTNER_BUCKET = "partner-payloads"
# Large bodies go through S3 above the producer's threshold. The demo lowers it from
# 262,144 bytes (docs/aws-facts.md#extended-client-wire-format) to 8 KiB: each body becomes a
# DynamoDB item too, and a
# 300 KB item would cost 300 WCU of a table provisioned for 1 KB items.
LARGE_BODY_BYTES = 20_000
OFFLOAD_THRESHOLD = 8 * 1024
ACCOUNTS = 10


LOCAL_STAGE = "local"
ROOT = Path(__file__).resolve().parents[2]  # the project: cdk.json, node_modules


class DemoError(UsageError):
    """The demo could not run (for example, an assembly of another stage)."""


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


@dataclass
class Summary:
    produced: int = 0
    unique: int = 0
    written: int = 0
    duplicates_absorbed: int = 0
    offloaded: int = 0
    dead_lettered: int = 0
    redriven: int = 0
    waiting_in_dlq: int = 0  # not written, kept in the dead-letter queue
    in_flight: int = 0  # not written, their messages still in the source queue
    lost: int = 0  # not written and nowhere to be found
    written_twice: int = 0  # keys the table's server wrote more than once
    max_write_rate_wcu: int = 0  # the most WCU written in one second, from the first write
    written_wcu: int = 0  # every WCU the write buffer's table was charged, metered
    provisioned_wcu: int = 0
    batch_size: int = 0
    max_concurrency: int = 0
    visibility_timeout_s: int = 0
    local_visibility_timeout_s: int = 0
    ordered: dict[str, Any] = field(default_factory=dict)
    elapsed_s: float = 0.0
    completed: bool = False  # every record written, every account at its latest version


class _Out:
    """Lines for people on stdout, a progress bar on stderr; nothing with --json."""

    def __init__(self, quiet: bool, stream: TextIO = sys.stdout) -> None:
        self.quiet = quiet
        self.stream = stream
        self._shown: tuple[str, int] | None = None
        self._at = 0.0

    def line(self, text: str = "") -> None:
        if not self.quiet:
            self._end_bar()
            print(text, file=self.stream, flush=True)

    def progress(self, label: str, done: int, total: int) -> None:
        """Redraw in place on a terminal; elsewhere a line every 5 s and at the end."""
        if self.quiet or total <= 0 or self._shown == (label, done):
            return
        tty = sys.stderr.isatty()
        now = time.monotonic()
        if not tty and done < total and now - self._at < 5:
            return
        self._shown, self._at = (label, done), now
        width = 30
        filled = min(width, width * done // total)
        bar = f"  {label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
        print(f"\r{bar}" if tty else bar, end="" if tty else "\n", file=sys.stderr, flush=True)

    def _end_bar(self) -> None:
        if self._shown is not None and sys.stderr.isatty():
            print(file=sys.stderr, flush=True)
        self._shown = None


def run_demo(cdk_out: str | Path, *, messages: int = 200, quiet: bool = False) -> Summary:
    """Run the whole story once; ``Summary.completed`` says whether every record landed."""
    if messages < 20:
        raise DemoError(f"--messages must be at least 20, got {messages}")
    out = _Out(quiet)
    started = time.monotonic()
    local_assembly(cdk_out, out)
    with LocalCloud.start() as cloud:
        out.line(f"1. Deploy {cdk_out} into the local cloud at {cloud.endpoint_url}")
        stacks = cloud.deploy(cdk_out)
        for stack in stacks:
            out.line(f"   {stack.name}: {len(stack.resources)} resources")
            for skipped in stack.skipped:
                out.line(f"     not applied locally: {skipped}")
        buffer = Pipeline.of(stacks, "WriteBuffer", "Ingest")
        ordered = Pipeline.of(stacks, "Ordered", "Events")
        summary = _settings(cloud, buffer)
        summary.local_visibility_timeout_s = _shorten_visibility(cloud, [buffer, ordered], summary)
        local_s = summary.local_visibility_timeout_s
        out.line(
            f"   local time: source queues' visibility {summary.visibility_timeout_s} s -> "
            f"{local_s} s and retry backoff 1..{local_s} s, so retries fit in the demo "
            "(AWS keeps the deployed values)"
        )
        story = _Story(cloud, buffer, ordered, summary, out)
        story.produce(messages)
        with LocalRunner(cloud) as runner:
            story.drain_and_redrive(runner)
        story.account()
    summary.elapsed_s = round(time.monotonic() - started, 1)
    return summary


def local_assembly(cdk_out: str | Path, out: _Out) -> None:
    """Check that ``cdk_out`` holds the local stage; synthesize it there if it holds nothing."""
    directory = Path(cdk_out)
    if not (directory / "manifest.json").is_file():
        out.line(f"0. Synthesize the {LOCAL_STAGE} stage into {directory} (none there yet)")
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


class _Story:
    """Steps 2 to 6 and the closing count; the write meter measures every write."""

    def __init__(
        self, cloud: LocalCloud, buffer: Pipeline, ordered: Pipeline, summary: Summary, out: _Out
    ) -> None:
        if cloud.meter is None:
            raise DemoError("the demo needs an embedded local cloud, whose server meters writes")
        self.cloud, self.buffer, self.ordered = cloud, buffer, ordered
        self.summary, self.out, self.meter = summary, out, cloud.meter
        self.sqs, self.s3 = cloud.client("sqs"), cloud.client("s3")
        self.ddb = cloud.client("dynamodb")
        self.key_fields = _key_fields(cloud, buffer.function)
        self.expected: set[str] = set()
        self.poison: set[str] = set()
        self.final_versions: dict[str, int] = {}

    def produce(self, messages: int) -> None:
        """Send both workloads before any consumer polls, as a backlog waiting in the queues."""
        out, summary, buffer = self.out, self.summary, self.buffer
        out.line("2. Produce")
        self.s3.create_bucket(Bucket=PARTNER_BUCKET)
        plan = _buffer_workload(messages)
        keys = [item_key(json.loads(m.body), self.key_fields) for m, _ in plan]
        self.expected = set(keys)
        self.poison = {k for k, (_, kind) in zip(keys, plan, strict=True) if kind == "partner"}
        bucket = buffer.stack.outputs["PayloadBucketName"]
        summary.offloaded = _send(self.sqs, self.s3, buffer.queue_url, bucket, plan)
        summary.produced, summary.unique = len(plan), len(self.expected)
        counts = Counter(kind for _, kind in plan)
        out.line(
            f"   write buffer: {counts['ordinary']} ordinary, {counts['duplicate']} duplicates, "
            f"{counts['large']} large ({LARGE_BODY_BYTES // 1000} KB, through S3 above "
            f"{OFFLOAD_THRESHOLD // 1024} KiB), {counts['partner']} with payloads in "
            f"{PARTNER_BUCKET} (not trusted yet)"
        )
        events, self.final_versions = _ordered_workload(messages)
        Producer(self.ordered.queue_url, sqs_client=self.sqs).send_many(events)
        out.line(
            f"   ordered: {len(events)} versioned updates for {ACCOUNTS} accounts, one per "
            "account group, old versions replayed, and one malformed update"
        )

    def written(self) -> set[str]:
        """Keys of the demo's records the server wrote to the write buffer's table."""
        return {_pk(k) for k in self.meter.writes_by_key(self.buffer.table)} & self.expected

    def drain_and_redrive(self, runner: LocalRunner) -> None:
        out, sqs, summary, buffer = self.out, self.sqs, self.summary, self.buffer
        out.line("3. Drain (the real handlers, run by the local event-source mappings)")
        good = self.expected - self.poison

        def first_pass_done() -> bool:
            out.progress("written", len(self.written() & good), len(good))
            return (
                good <= self.written()
                and _depth(sqs, buffer.dlq_url) >= len(self.poison)
                and _depth(sqs, self.ordered.dlq_url) >= 1
                and _empty(sqs, self.ordered.queue_url)
            )

        runner.drain(timeout_s=150, until=first_pass_done)
        summary.dead_lettered = _depth(sqs, buffer.dlq_url)
        out.line(f"   {summary.dead_lettered} dead letters in {_name(buffer.dlq_url)}")

        out.line("4. Inspect the dead letters (nothing is consumed)")
        resolver = PayloadStore(s3_client=self.s3)
        letters = inspect(buffer.dlq_url, sqs_client=sqs, resolver=resolver, limit=10)
        for letter in letters[:5]:
            out.line(f"   {letter.summary()}")
        if len(letters) > 5:
            out.line(f"   ... and {len(letters) - 5} more")

        out.line(f"5. Fix: trust {PARTNER_BUCKET} in {buffer.function}'s PAYLOAD_BUCKET")
        bucket = buffer.stack.outputs["PayloadBucketName"]
        runner.update_environment(buffer.function, {"PAYLOAD_BUCKET": f"{bucket},{PARTNER_BUCKET}"})

        out.line("6. Redrive the dead letters to their source")
        result = redrive(buffer.dlq_url, sqs_client=sqs, notify=lambda text: out.line(f"   {text}"))
        summary.redriven = result.moved
        out.line(f"   {result.summary()}")

        def all_written() -> bool:
            out.progress("written", len(self.written()), len(self.expected))
            return self.expected <= self.written() and runner.queues_empty()

        runner.drain(timeout_s=90, until=all_written)

    def account(self) -> None:
        """Every unique record is written, dead-lettered or still in flight; else lost."""
        summary, table = self.summary, self.buffer.table
        writes = self.meter.writes_by_key(table)
        written = self.written()
        waiting = _keys_in(self.sqs, self.s3, self.buffer.dlq_url, self.key_fields) - written
        missing = self.expected - written - waiting
        in_queue = _depth(self.sqs, self.buffer.queue_url)
        summary.written = len(written)
        summary.waiting_in_dlq = len(waiting)
        summary.in_flight = min(len(missing), in_queue)
        summary.lost = len(missing) - summary.in_flight
        summary.written_twice = self.meter.written_twice(table)
        summary.duplicates_absorbed = summary.produced - sum(writes.values())
        summary.max_write_rate_wcu = self.meter.max_rate(table)
        summary.written_wcu = sum(self.meter.wcu_per_second(table))
        summary.ordered = _ordered_result(self.ddb, self.sqs, self.ordered, self.final_versions)
        summary.lost += summary.ordered["lost"]
        summary.completed = (
            summary.written == summary.unique
            and not summary.lost
            and summary.ordered["latest_versions_kept"] == summary.ordered["accounts"]
        )


def _pk(metered_key: str) -> str:
    """The ``pk`` of a key as the meter records it (the table's key attributes as JSON)."""
    value: str = json.loads(metered_key)["pk"]["S"]
    return value


def _buffer_workload(n: int) -> list[tuple[Message, str]]:
    """(message, kind) pairs: ordinary records, exact and reordered duplicates, large
    bodies, and records whose payloads a partner put in its own bucket."""
    plan: list[tuple[Message, str]] = []
    for i in range(n):
        record = {"order_id": f"o-{i:05d}", "customer": f"c-{i % 37}", "amount": round(i * 1.25, 2)}
        plan.append((Message(json.dumps(record)), "ordinary"))
        if i % 5 == 0:  # the same logical record again, fields in another order
            plan.append((Message(json.dumps(dict(reversed(record.items())))), "duplicate"))
    for i in range(max(2, n // 20)):
        large = {"order_id": f"big-{i}", "attachment": "x" * LARGE_BODY_BYTES}
        plan.append((Message(json.dumps(large)), "large"))
    for i in range(max(2, n // 20)):
        plan.append(
            (Message(json.dumps({"order_id": f"partner-{i}", "note": "p" * 100})), "partner")
        )
    return plan


def _send(sqs: Any, s3: Any, url: str, bucket: str, plan: list[tuple[Message, str]]) -> int:
    """Send the workload; returns how many bodies went through S3."""
    store = PayloadStore(bucket, s3_client=s3, threshold=OFFLOAD_THRESHOLD)
    ours = Producer(url, sqs_client=sqs, payloads=store)
    partner = Producer(
        url, sqs_client=sqs, payloads=PayloadStore(PARTNER_BUCKET, s3_client=s3, always=True)
    )
    offloaded = 0
    for producer, kinds in ((ours, {"ordinary", "duplicate", "large"}), (partner, {"partner"})):
        result = producer.send_many(m for m, kind in plan if kind in kinds)
        if result.failed:
            raise DemoError(f"{len(result.failed)} messages could not be sent: {result.failed[0]}")
        offloaded += sum(1 for s in result.sent if s.offloaded)
    return offloaded


def _ordered_workload(n: int) -> tuple[list[Message], dict[str, int]]:
    """Versioned updates per account (one message group each), replays of old
    versions, and a malformed last update for one account."""
    per_account = max(2, n // (2 * ACCOUNTS))
    messages: list[Message] = []
    final: dict[str, int] = {}
    for a in range(ACCOUNTS):
        account = f"acct-{a}"
        for version in range(1, per_account + 1):
            body = {"account": account, "version": version, "balance": version * 10}
            messages.append(Message(json.dumps(body), group_id=account))
        replay = {"account": account, "version": 1, "balance": 10, "replayed": True}
        messages.append(Message(json.dumps(replay), group_id=account))
        final[account] = per_account
    messages.append(
        Message(json.dumps({"account": "acct-3", "version": "latest"}), group_id="acct-3")
    )
    return messages, final


def _settings(cloud: LocalCloud, buffer: Pipeline) -> Summary:
    lam, ddb, sqs = cloud.client("lambda"), cloud.client("dynamodb"), cloud.client("sqs")
    (mapping,) = lam.list_event_source_mappings(FunctionName=buffer.function)["EventSourceMappings"]
    table = ddb.describe_table(TableName=buffer.table)["Table"]
    visibility = sqs.get_queue_attributes(
        QueueUrl=buffer.queue_url, AttributeNames=["VisibilityTimeout"]
    )["Attributes"]["VisibilityTimeout"]
    return Summary(
        provisioned_wcu=int(table["ProvisionedThroughput"]["WriteCapacityUnits"]),
        batch_size=int(mapping["BatchSize"]),
        max_concurrency=int(mapping.get("ScalingConfig", {}).get("MaximumConcurrency", 0)),
        visibility_timeout_s=int(visibility),
    )


def _shorten_visibility(cloud: LocalCloud, pipelines: Iterable[Pipeline], summary: Summary) -> int:
    """A visibility long enough for one paced batch on a busy machine (three times its
    paced time, and at least 10 s: a batch still running when its messages reappear is
    written twice), short enough for quick retries."""
    lam = cloud.client("lambda")
    env = lam.get_function_configuration(FunctionName=next(iter(pipelines)).function)
    budget = float(env["Environment"]["Variables"].get("WCU_PER_SECOND", "0") or 0)
    batch_s = summary.batch_size * capacity.wcu_per_item(1) / budget if budget else 1.0
    seconds = max(10, int(3 * batch_s) + 4)
    sqs = cloud.client("sqs")
    for pipeline in pipelines:
        sqs.set_queue_attributes(
            QueueUrl=pipeline.queue_url, Attributes={"VisibilityTimeout": str(seconds)}
        )
        # The retry backoff shrinks with the visibility, so retries stay within the demo.
        set_environment(lam, pipeline.function, {"RETRY_BASE_S": "1", "RETRY_MAX_S": str(seconds)})
    return seconds


def _key_fields(cloud: LocalCloud, function: str) -> tuple[str, ...] | None:
    """The key fields the deployed function reads, parsed as the function parses them."""
    config = cloud.client("lambda").get_function_configuration(FunctionName=function)
    variables = config.get("Environment", {}).get("Variables", {})
    return WriteBufferSettings.from_env(variables).key_fields


def _depth(sqs: Any, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attrs[n]) for n in names)


def _empty(sqs: Any, url: str) -> bool:
    return _depth(sqs, url) == 0


def _keys_in(sqs: Any, s3: Any, dlq_url: str, key_fields: tuple[str, ...] | None) -> set[str]:
    """Keys of the records still waiting in a DLQ (kept, so not lost)."""
    resolver = PayloadStore(s3_client=s3)
    keys = set()
    for letter in inspect(dlq_url, sqs_client=sqs, resolver=resolver, limit=1000):
        if letter.body is not None:
            try:
                keys.add(item_key(json.loads(letter.body), key_fields))
            except (ValueError, TypeError):
                continue
    return keys


def _ordered_result(ddb: Any, sqs: Any, ordered: Pipeline, final: dict[str, int]) -> dict[str, Any]:
    rows = ddb.scan(TableName=ordered.table)["Items"]
    stored = {r["account"]["S"]: int(r["version"]["N"]) for r in rows}
    wrong = sorted(a for a, v in final.items() if stored.get(a) != v)
    return {
        "accounts": len(final),
        "latest_versions_kept": len(final) - len(wrong),
        "dead_lettered": _depth(sqs, ordered.dlq_url),
        "lost": len(wrong),
    }


def _name(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def _rate(summary: Summary) -> str:
    rate = (
        f"{summary.max_write_rate_wcu} WCU in one second, of {summary.provisioned_wcu} "
        "provisioned (metered at the server)"
    )
    if summary.max_write_rate_wcu > summary.provisioned_wcu:
        rate += ": OVER the provisioned rate, which DynamoDB serves only from burst capacity"
    return rate


def render(summary: Summary) -> str:
    """The closing table."""
    ordered = summary.ordered
    rows: list[tuple[str, str]] = [
        ("produced", str(summary.produced)),
        ("unique", str(summary.unique)),
        ("written", str(summary.written)),
        ("duplicates absorbed", str(summary.duplicates_absorbed)),
        ("offloaded to S3", str(summary.offloaded)),
        ("dead-lettered", str(summary.dead_lettered)),
        ("redriven", str(summary.redriven)),
        ("waiting in the DLQ", str(summary.waiting_in_dlq)),
        ("still in flight", str(summary.in_flight)),
        ("lost", str(summary.lost)),
        ("written twice", str(summary.written_twice)),
        ("highest write rate", _rate(summary)),
        ("batch size", str(summary.batch_size)),
        ("max concurrency", str(summary.max_concurrency)),
        (
            "visibility timeout",
            f"{summary.visibility_timeout_s} s deployed "
            f"({summary.local_visibility_timeout_s} s locally)",
        ),
        (
            "ordered pipeline",
            f"{ordered.get('latest_versions_kept', 0)}/{ordered.get('accounts', 0)} accounts at "
            f"their latest version, {ordered.get('dead_lettered', 0)} malformed update "
            "dead-lettered",
        ),
        ("elapsed", f"{summary.elapsed_s:g} s"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k:<{width}}  {v}" for k, v in rows)


def main(cdk_out: str, messages: int, as_json: bool, write: Callable[[str], None] = print) -> int:
    """The CLI's entry: 0 when the story completed (every record written, every account at
    its latest version), 1 otherwise, 2 when the demo could not run."""
    try:
        summary = run_demo(cdk_out, messages=messages, quiet=as_json)
    except DemoError as error:
        print(f"sqs-blueprint demo: {error}", file=sys.stderr)
        return error.exit_code
    if as_json:
        write(json.dumps(asdict(summary)))
    else:
        write("7. Summary")
        write(render(summary))
        if not summary.completed:
            write(
                f"  NOT COMPLETED: {summary.unique - summary.written} of {summary.unique} records "
                f"not written ({summary.waiting_in_dlq} in the DLQ, {summary.in_flight} in "
                f"flight, {summary.lost} lost)"
            )
    return 0 if summary.completed else 1
