"""Steps 2 to 6 of the demo, told as they happen, and the closing count; the write
meter measures every write at the server."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from typing import TextIO

from sqs_blueprint import capacity
from sqs_blueprint.console import Progress, plain_bar
from sqs_blueprint.local.demo import report
from sqs_blueprint.local.demo.alarms import AlarmLines
from sqs_blueprint.local.demo.report import Summary, depth, queue_name
from sqs_blueprint.local.demo.stage import Pipeline, key_fields
from sqs_blueprint.local.demo.watch import Watch
from sqs_blueprint.local.demo.workload import (
    LARGE_BODY_BYTES,
    OFFLOAD_THRESHOLD,
    PARTNER_BUCKET,
    DemoError,
    buffer_workload,
    ordered_workload,
    partner_policy,
    send_buffer_workload,
    send_ordered_workload,
)
from sqs_blueprint.local.runner import LocalRunner
from sqs_blueprint.local.server import LocalCloud
from sqs_blueprint.payload import PayloadStore
from sqs_blueprint.redrive import inspect, redrive
from sqs_blueprint.upsert import item_key

_PLAIN_EVERY_S = 5.0  # off a terminal, the bar is a line this often


class Console:
    """Story lines on stdout, a progress bar on stderr; nothing but warnings with --json.

    Every line ends the bar first, so nothing is printed after a half-drawn bar."""

    def __init__(self, quiet: bool, stream: TextIO = sys.stdout) -> None:
        self.quiet = quiet
        self.stream = stream
        self._bar = Progress(sys.stderr, "written", plain=False)
        self._plain: tuple[int, int] | None = None  # the last plain bar printed
        self._plain_at = 0.0

    def line(self, text: str = "") -> None:
        if not self.quiet:
            self._bar.end()
            print(text, file=self.stream, flush=True)

    def warning(self, text: str) -> None:
        """A warning: a story line, or one line on stderr with --json."""
        if self.quiet:
            print(text, file=sys.stderr, flush=True)
        else:
            self.line(f"   warning: {text}")

    def progress(self, done: int, total: int, unit: str = "written") -> None:
        """A bar of ``done``/``total`` ``unit`` (a new bar when the unit changes)."""
        if self.quiet or total <= 0:
            return
        if unit != self._bar.unit:
            self._bar.end()
            self._bar.unit, self._plain = unit, None
        if self._bar.terminal:
            self._bar(done, total)
            return
        if self._plain == (done, total):
            return
        if done == total or time.monotonic() - self._plain_at >= _PLAIN_EVERY_S:
            self._plain, self._plain_at = (done, total), time.monotonic()
            print(f"  {plain_bar(done, total, unit)}", file=sys.stderr, flush=True)

    def end(self) -> None:
        self._bar.end()


class Story:
    def __init__(
        self, cloud: LocalCloud, buffer: Pipeline, ordered: Pipeline, summary: Summary, out: Console
    ) -> None:
        if cloud.meter is None:
            raise DemoError("the demo needs an embedded local cloud, whose server meters writes")
        self.cloud, self.buffer, self.ordered = cloud, buffer, ordered
        self.summary, self.out, self.meter = summary, out, cloud.meter
        self.sqs, self.s3 = cloud.client("sqs"), cloud.client("s3")
        self.ddb = cloud.client("dynamodb")
        self.key_fields = key_fields(cloud, buffer.function)
        self.expected: set[str] = set()
        self.poison: set[str] = set()
        self.final_versions: dict[str, int] = {}
        self.groups: dict[str, str] = {}  # ordered message id -> its group
        self.planned_wcu = 0  # what the first pass will write, from the bodies' sizes
        self._pks: dict[str, str] = {}  # the meter's keys -> their pk
        self.alarm_lines: AlarmLines | None = None  # alarm changes, told while draining

    def produce(self, messages: int) -> None:
        """Send both workloads before any consumer polls, as a backlog waiting in the queues."""
        out, summary, buffer = self.out, self.summary, self.buffer
        out.line("2. Produce")
        self.s3.create_bucket(Bucket=PARTNER_BUCKET)
        plan = buffer_workload(messages)
        keys = [item_key(json.loads(m.body), self.key_fields) for m, _ in plan]
        self.expected = set(keys)
        self.poison = {k for k, (_, kind) in zip(keys, plan, strict=True) if kind == "partner"}
        bucket = buffer.stack.outputs["PayloadBucketName"]
        events, self.final_versions = ordered_workload(messages)
        total, sent = len(plan) + len(events), 0

        def progress(more: int) -> None:
            nonlocal sent
            sent += more
            out.progress(sent, total, "sent")

        summary.offloaded = send_buffer_workload(
            self.sqs, self.s3, buffer.queue_url, bucket, plan, progress
        )
        summary.produced, summary.unique = len(plan), len(self.expected)
        self.planned_wcu = sum(  # the first pass writes these (partners' wait for the fix)
            capacity.wcu_per_item(len(m.body.encode()) / 1024)
            for m, kind in plan
            if kind in ("ordinary", "large")
        )
        counts = Counter(kind for _, kind in plan)
        out.line(
            f"   write buffer: {counts['ordinary']} ordinary, {counts['duplicate']} duplicates, "
            f"{counts['large']} large ({LARGE_BODY_BYTES // 1000} KB, through S3 above "
            f"{OFFLOAD_THRESHOLD // 1024} KiB), {counts['partner']} with payloads in "
            f"{PARTNER_BUCKET} (not trusted yet)"
        )
        self.groups = send_ordered_workload(self.sqs, self.ordered.queue_url, events, progress)
        out.line(
            f"   ordered: {len(events)} versioned updates for {len(self.final_versions)} "
            "accounts, one message group each, old versions replayed, and one malformed update"
        )

    def written(self) -> set[str]:
        """Keys of the demo's records the server wrote to the write buffer's table."""
        writes = self.meter.writes_by_key(self.buffer.table)
        for key in writes.keys() - self._pks.keys():  # each key parsed once: polled often
            self._pks[key] = report.metered_pk(key)
        return {self._pks[k] for k in writes} & self.expected

    def drain_and_redrive(self, runner: LocalRunner) -> None:
        out, sqs, buffer = self.out, self.sqs, self.buffer
        out.line("3. Drain (the real handlers, run by the local event-source mappings)")
        watch = Watch(self.cloud, runner.log_dir, buffer, self.ordered, self.groups, out.line)
        watch.alarms = self.alarm_lines
        good = self.expected - self.poison
        started = time.monotonic()

        def first_pass_done() -> bool:
            watch.check()
            landed = len(self.written() & good)
            out.progress(landed, len(good))
            if landed == len(good) and not self.summary.drain_s:
                self._timed_drain(time.monotonic() - started)
            return (
                landed == len(good)
                and depth(sqs, buffer.dlq_url) >= len(self.poison)
                and depth(sqs, self.ordered.dlq_url) >= 1
                and depth(sqs, self.ordered.queue_url) == 0
            )

        planned_s = self.planned_wcu / max(1, self.summary.provisioned_wcu)
        runner.drain(timeout_s=150 + 3 * planned_s, until=first_pass_done)
        watch.check()
        if self.alarm_lines is not None:
            self.alarm_lines.settle(queue_name(buffer.dlq_url), "ALARM", out.line)
        self.summary.dead_lettered = depth(sqs, buffer.dlq_url)
        out.line(f"   {self.summary.dead_lettered} dead letters in {queue_name(buffer.dlq_url)}")
        self._inspect()
        self._fix_and_redrive(runner, watch)

    def _timed_drain(self, seconds: float) -> None:
        """The first pass's drain time, and the ideal: the WCU it wrote (metered) at
        the table's provisioned rate."""
        wcu = sum(self.meter.wcu_per_second(self.buffer.table))
        self.summary.drain_s = round(seconds, 1)
        self.summary.ideal_drain_s = round(wcu / max(1, self.summary.provisioned_wcu), 1)

    def _inspect(self) -> None:
        out = self.out
        out.line("4. Inspect the dead letters (nothing is consumed)")
        resolver = PayloadStore(s3_client=self.s3)
        letters = inspect(self.buffer.dlq_url, sqs_client=self.sqs, resolver=resolver, limit=10)
        for letter in letters[:5]:
            out.line(f"   {letter.summary()}")
        if len(letters) > 5:
            out.line(f"   ... and {len(letters) - 5} more")

    def _fix_and_redrive(self, runner: LocalRunner, watch: Watch) -> None:
        out, buffer = self.out, self.buffer
        out.line(f"5. Fix: trust {PARTNER_BUCKET} in {buffer.function}'s PAYLOAD_BUCKET")
        bucket = buffer.stack.outputs["PayloadBucketName"]
        runner.update_environment(buffer.function, {"PAYLOAD_BUCKET": f"{bucket},{PARTNER_BUCKET}"})
        lam = self.cloud.client("lambda")
        role = lam.get_function_configuration(FunctionName=buffer.function)["Role"]
        out.line(f"   and the partner's bucket policy lets {role.rsplit('/', 1)[-1]} read it")
        self.s3.put_bucket_policy(Bucket=PARTNER_BUCKET, Policy=json.dumps(partner_policy(role)))

        out.line("6. Redrive the dead letters to their source")

        def notify(text: str) -> None:
            out.line(f"   {text}")

        result = redrive(buffer.dlq_url, sqs_client=self.sqs, notify=notify)
        self.summary.redriven = result.moved
        out.line(f"   {result.summary()}")
        told = False

        def all_written() -> bool:
            nonlocal told
            watch.check()
            landed = len(self.poison & self.written())
            if landed == len(self.poison) and not told:
                told = True
                out.line(f"   write buffer: the {landed} redriven records written")
            out.progress(len(self.written()), len(self.expected))
            return self.expected <= self.written() and runner.queues_empty()

        runner.drain(timeout_s=90, until=all_written)
        out.end()

    def account(self) -> None:
        """Every unique record is written, dead-lettered or still in flight; else lost."""
        summary, table = self.summary, self.buffer.table
        writes = self.meter.writes_by_key(table)
        written = self.written()
        waiting = report.keys_in(self.sqs, self.s3, self.buffer.dlq_url, self.key_fields) - written
        missing = self.expected - written - waiting
        in_queue = depth(self.sqs, self.buffer.queue_url)
        summary.written = len(written)
        summary.waiting_in_dlq = len(waiting)
        summary.in_flight = min(len(missing), in_queue)
        summary.lost = len(missing) - summary.in_flight
        summary.written_twice = self.meter.written_twice(table)
        summary.duplicates_absorbed = summary.produced - sum(writes.values())
        summary.max_write_rate_wcu = self.meter.max_rate(table)
        summary.written_wcu = sum(self.meter.wcu_per_second(table))
        summary.ordered = report.ordered_result(
            self.ddb, self.sqs, self.ordered.table, self.ordered.dlq_url, self.final_versions
        )
        summary.lost += summary.ordered["lost"]
        summary.completed = (
            summary.written == summary.unique
            and not summary.lost
            and summary.ordered["latest_versions_kept"] == summary.ordered["accounts"]
        )
