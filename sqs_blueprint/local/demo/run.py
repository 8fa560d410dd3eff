"""``sqs-blueprint demo``: the whole story once, in a temporary folder of its own."""

from __future__ import annotations

import json
import logging
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqs_blueprint.local.demo import stage
from sqs_blueprint.local.demo.alarms import AlarmLines, scale_line, watching
from sqs_blueprint.local.demo.follow import follow
from sqs_blueprint.local.demo.report import Summary, closing, queue_name
from sqs_blueprint.local.demo.stage import LOCAL_STAGE, Pipeline
from sqs_blueprint.local.demo.story import Console, Story
from sqs_blueprint.local.demo.workload import DemoError
from sqs_blueprint.local.deploy import DeployedStack
from sqs_blueprint.local.runner import LocalRunner
from sqs_blueprint.local.server import LocalCloud
from sqs_blueprint.local.spans import collect_spans

INTERRUPTED = 130  # the shell's code for a process ended by SIGINT


def run_demo(
    cdk_out: str | Path,
    *,
    messages: int = 200,
    wcu: int | None = None,
    quiet: bool = False,
    verbose: bool = False,
    workdir: str | Path | None = None,
    iam: str | None = None,
) -> Summary:
    """Run the whole story once; ``Summary.completed`` says whether every record landed.
    The functions' logs go to ``workdir/logs`` (a new temporary folder by default)."""
    if messages < 20:
        raise DemoError(f"--messages must be at least 20, got {messages}")
    out = Console(quiet)
    started = time.monotonic()
    directory = Path(cdk_out)
    if not (directory / "manifest.json").is_file():
        out.line(f"0. Synthesize the {LOCAL_STAGE} stage into {directory} (none there yet)")
    stage.local_assembly(directory)
    logs = Path(workdir or tempfile.mkdtemp(prefix="sqs-blueprint-demo-")) / "logs"
    with LocalCloud.start(iam=iam) as cloud, _warnings_to(out):
        out.line(f"1. Deploy {cdk_out} into the local cloud at {cloud.endpoint_url}")
        stacks = cloud.deploy(cdk_out)
        _tell_deployed(out, stacks, verbose)
        buffer = Pipeline.of(stacks, "WriteBuffer", "Ingest")
        ordered = Pipeline.of(stacks, "Ordered", "Events")
        summary = Summary(**asdict(stage.settings(cloud, buffer)))
        if wcu is not None:
            stage.provision(cloud, buffer, wcu, summary.provisioned_wcu)
            out.line(
                f"   write capacity: {buffer.table} {summary.provisioned_wcu} -> {wcu} WCU "
                "(--wcu), the consumers' write budget scaled with it"
            )
            summary.provisioned_wcu = wcu
        local_s = stage.shorten_visibility(cloud, [buffer, ordered], summary.batch_size)
        summary.local_visibility_timeout_s = local_s
        out.line(
            f"   local time: source queues' visibility {summary.visibility_timeout_s} s -> "
            f"{local_s} s and retry backoff 1..{stage.RETRY_MAX_S} s, so retries fit in the demo "
            "(AWS keeps the deployed values)"
        )
        out.line(f"   function logs: {logs}")
        story = Story(cloud, buffer, ordered, summary, out)
        logs.mkdir(parents=True, exist_ok=True)
        collect_spans(logs)  # the producer's spans too (sqs-blueprint trace)
        story.produce(messages)
        story.alarm_lines = lines = AlarmLines()
        with (
            LocalRunner(cloud, log_dir=logs) as runner,
            watching(cloud, runner, [buffer.stack, ordered.stack], lines) as alarms,
        ):
            out.line(scale_line(alarms))
            story.drain_and_redrive(runner)
            lines.settle(queue_name(buffer.dlq_url), "OK", out.line)
            summary.alarms = alarms.states()
        story.account()
        poisoned = min(story.poison, default=None)
        summary.traces = follow(logs, poisoned, ordered.function, cloud.meter)
        _tell_access(out, cloud, summary, verbose)
    summary.elapsed_s = round(time.monotonic() - started, 1)
    return summary


def _tell_deployed(out: Console, stacks: list[DeployedStack], verbose: bool) -> None:
    """One line a stack, and one for what the local cloud does not apply (listed with
    ``verbose``)."""
    for stack in stacks:
        out.line(f"   {stack.name}: {len(stack.resources)} resources")
    skipped = [(stack.name, item) for stack in stacks for item in stack.skipped]
    if not skipped:
        return
    more = "" if verbose else " (--verbose lists them)"
    out.line(f"   {len(skipped)} template features not applied locally{more}")
    if verbose:
        for name, item in skipped:
            out.line(f"     {name}: {item}")


def _tell_access(out: Console, cloud: LocalCloud, summary: Summary, verbose: bool) -> None:
    """What the IAM check saw: its counts in the summary, its denials and (``verbose``)
    the grants never used as story lines."""
    if cloud.access is None or cloud.access.mode == "off":
        return
    report = cloud.access.report()
    summary.iam_mode = report.mode
    summary.calls_checked = report.calls_checked
    summary.denied = report.denied_calls
    summary.grants_never_used = report.unused_grants
    for denial, count in report.denied.items():
        out.line(f"   denied ({report.mode}) {count}x: {denial}")
    if verbose:
        for role, grants in report.unused.items():
            for _, _, action, resource in grants:
                out.line(f"   never used by {role}: {action} on {resource}")


class _ToConsole(logging.Handler):
    def __init__(self, out: Console) -> None:
        super().__init__(logging.WARNING)
        self.out = out

    def emit(self, record: logging.LogRecord) -> None:
        self.out.warning(record.getMessage())


@contextmanager
def _warnings_to(out: Console) -> Iterator[None]:
    """The library's warnings (a message processed but not deleted, say) as story lines,
    after the progress bar ends, instead of Python's bare stderr lines."""
    logger = logging.getLogger("sqs_blueprint")
    handler = _ToConsole(out)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


@contextmanager
def _one_interrupt() -> Iterator[None]:
    """The first Ctrl-C raises KeyboardInterrupt; later ones are ignored, so the cleanup
    it starts (runner and local cloud stopped, folder removed) runs to its end."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def main(
    cdk_out: str,
    messages: int,
    as_json: bool,
    write: Callable[[str], None] = print,
    *,
    keep: bool = False,
    verbose: bool = False,
    wcu: int | None = None,
    iam: str | None = None,
) -> int:
    """The CLI's entry: 0 when the story completed (every record written, every account at
    its latest version), 1 otherwise, 2 when the demo could not run, 130 on Ctrl-C."""
    workdir = Path(tempfile.mkdtemp(prefix="sqs-blueprint-demo-"))
    fate = f"kept {workdir}" if keep else f"removed {workdir}"
    try:
        with _one_interrupt():
            try:
                summary = run_demo(
                    cdk_out,
                    messages=messages,
                    wcu=wcu,
                    quiet=as_json,
                    verbose=verbose,
                    workdir=workdir,
                    iam=iam,
                )
            finally:
                if not keep:
                    shutil.rmtree(workdir, ignore_errors=True)
    except KeyboardInterrupt:
        print(f"sqs-blueprint demo: interrupted; local cloud stopped, {fate}", file=sys.stderr)
        return INTERRUPTED
    except DemoError as error:
        print(f"sqs-blueprint demo: {error}", file=sys.stderr)
        return error.exit_code
    write(json.dumps(asdict(summary)) if as_json else closing(summary))
    if not as_json:
        write(f"  temporary folder: {fate}")
        write("\n".join(["", *summary.traces]))
    return 0 if summary.completed else 1
