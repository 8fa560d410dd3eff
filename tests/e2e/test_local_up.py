"""``sqs-blueprint local up`` fails in one line, at once, when it cannot start or connect."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
HANG_GUARD_S = 120  # only stops a hang; the command answers in about a second


def _sqs_blueprint(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sqs_blueprint.cli", *args],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        check=False,
    )


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_a_port_in_use_fails_with_one_line(busy_port: int, fixture_assembly: Path) -> None:
    done = _sqs_blueprint(
        "local", "up", "--port", str(busy_port), "--cdk-out", str(fixture_assembly)
    )
    assert done.returncode == 1
    assert done.stderr == (
        f"sqs-blueprint local up: cannot start the local cloud on 127.0.0.1:{busy_port}: "
        "Address already in use; stop the program that uses the port, or choose another "
        "with --port (0 picks a free one)\n"
    )
    assert done.stdout == ""


def test_an_endpoint_nothing_answers_at_fails_with_one_line(fixture_assembly: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # bound, never listening: connections are refused
        done = _sqs_blueprint(
            "local",
            "up",
            "--endpoint-url",
            f"http://127.0.0.1:{closed}",
            "--cdk-out",
            str(fixture_assembly),
        )
    assert done.returncode == 1
    assert done.stderr == (
        f"sqs-blueprint local up: no local cloud answers at http://127.0.0.1:{closed} "
        "([Errno 111] Connection refused); start one with `sqs-blueprint local up` in another "
        "shell and pass the URL it prints, or leave out --endpoint-url to embed one\n"
    )


def test_a_port_out_of_range_is_a_usage_error_naming_the_flag(fixture_assembly: Path) -> None:
    done = _sqs_blueprint("local", "up", "--port", "99999", "--cdk-out", str(fixture_assembly))
    assert done.returncode == 2
    assert done.stderr.endswith(
        "sqs-blueprint local up: argument --port: must be 0..65535, got '99999' "
        "(see sqs-blueprint local up --help)\n"
    )
    assert "Traceback" not in done.stderr


def test_local_deploy_to_an_endpoint_nothing_answers_at_does_not_suggest_leaving_it_out(
    fixture_assembly: Path,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
        done = _sqs_blueprint(
            "local",
            "deploy",
            "--endpoint-url",
            f"http://127.0.0.1:{closed}",
            "--cdk-out",
            str(fixture_assembly),
        )
    assert done.returncode == 1
    assert done.stderr == (
        f"sqs-blueprint local deploy: no local cloud answers at http://127.0.0.1:{closed} "
        "([Errno 111] Connection refused); start one with `sqs-blueprint local up` in another "
        "shell and pass the URL it prints\n"
    )


@pytest.fixture(scope="module")
def dev_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The runner fixture tagged as app.py tags a blueprint stage: stage ``dev``."""
    from aws_cdk import Tags

    from tests.e2e.fixtures.app import build

    outdir = tmp_path_factory.mktemp("dev-stage.out")
    app = build(str(outdir))
    Tags.of(app).add("project", "sqs-blueprint")
    Tags.of(app).add("stage", "dev")
    app.synth()
    return outdir


@pytest.mark.parametrize("command", ["up", "deploy"])
def test_another_blueprint_stage_is_refused_before_anything_starts(
    dev_assembly: Path, command: str
) -> None:
    endpoint = ["--endpoint-url", "http://127.0.0.1:9"] if command == "deploy" else []
    done = _sqs_blueprint("local", command, "--cdk-out", str(dev_assembly), *endpoint)
    assert done.returncode == 1
    assert done.stderr == (
        f"sqs-blueprint local {command}: {dev_assembly} holds the 'dev' stage, not 'local'; "
        "the local cloud runs the 'local' stage, sized for this machine: run "
        "`make synth STAGE=local` (or pass --any-stage to deploy it anyway)\n"
    )
    assert done.stdout == ""


def _start_in_background(*args: str) -> subprocess.Popen[str]:
    """``local up`` as a script's background job starts it: SIGINT ignored on entry.
    Python's fault handler is on, so that a hang can be shown (:func:`_outcome`)."""
    return subprocess.Popen(
        [sys.executable, "-m", "sqs_blueprint.cli", "local", "up", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},
    )


def _outcome(process: subprocess.Popen[str]) -> tuple[str, str]:
    """The stopped process's output; if it does not exit in time, a failure that shows
    where each of its threads was (SIGABRT makes the fault handler print them)."""
    try:
        return process.communicate(timeout=HANG_GUARD_S)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)
        _, err = process.communicate(timeout=HANG_GUARD_S)
        raise AssertionError(
            f"local up did not exit within {HANG_GUARD_S} s:\n{err[-20000:]}"
        ) from None


def _read_until_ready(process: subprocess.Popen[str]) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:  # ends if the process dies before it is ready
        lines.append(line)
        if line.startswith("Ctrl-C stops it."):
            return lines
    process.wait(timeout=HANG_GUARD_S)
    raise AssertionError(f"local up ended before it was ready: {lines} {process.stderr}")


def test_ctrl_c_stops_a_background_local_up_with_130_and_removes_its_logs(
    dev_assembly: Path,
) -> None:
    process = _start_in_background("--cdk-out", str(dev_assembly), "--any-stage")
    try:
        lines = _read_until_ready(process)
        [logs_line] = [line for line in lines if line.startswith("function logs: ")]
        logs = Path(logs_line.split()[2])
        assert logs.is_dir()
        process.send_signal(signal.SIGINT)
        out, err = _outcome(process)
    finally:
        process.kill()
    assert process.returncode == 130, err[-3000:]
    assert "stopping the local cloud" in out
    assert not logs.exists()


def test_keep_keeps_the_function_logs(fixture_assembly: Path) -> None:
    process = _start_in_background("--cdk-out", str(fixture_assembly), "--keep")
    try:
        lines = _read_until_ready(process)
        [logs_line] = [line for line in lines if line.startswith("function logs: ")]
        logs = Path(logs_line.split()[2])
        process.terminate()
        _, err = _outcome(process)
    finally:
        process.kill()
    assert process.returncode == 128 + signal.SIGTERM, err[-3000:]
    assert "(kept on exit)" in logs_line
    assert logs.is_dir()
    shutil.rmtree(logs)
