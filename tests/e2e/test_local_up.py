"""``sqs-blueprint local up`` fails in one line, at once, when it cannot start or connect."""

from __future__ import annotations

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
