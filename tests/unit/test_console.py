"""What the CLI draws: rich bars and tables on a terminal, today's plain lines otherwise."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from sqs_blueprint.cli import main
from sqs_blueprint.console import Progress, summary_table

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
ROWS = [("produced", "200"), ("highest write rate", "5 WCU/s of 10 provisioned")]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def visible(text: str) -> list[str]:
    """The lines a terminal shows at the end: escapes dropped, each line's last redraw."""
    return [line.split("\r")[-1].rstrip() for line in ANSI.sub("", text).split("\n")]


def test_piped_progress_is_one_plain_line_per_change() -> None:
    piped = io.StringIO()
    bar = Progress(piped, "moved")
    for done, total in ((0, None), (10, 40), (10, 40), (40, 40)):
        bar(done, total)
    bar.end()

    assert piped.getvalue() == (
        f"0 moved\n[{'#' * 7}{'-' * 23}] 10/40 moved\n[{'#' * 30}] 40/40 moved\n"
    )


def test_piped_progress_can_stay_silent() -> None:
    piped = io.StringIO()
    bar = Progress(piped, "sent", plain=False)
    bar(5, 10)
    bar.end()
    assert piped.getvalue() == ""


def test_on_a_terminal_the_bar_ends_its_line_before_what_follows() -> None:
    terminal = Terminal()
    bar = Progress(terminal, "moved")
    for done, total in ((0, None), (10, 40), (40, 40)):
        bar(done, total)
    bar.end()
    bar.end()  # a second end writes nothing
    terminal.write("next\n")
    bar(41, None)  # a later call draws a new bar
    bar.end()

    shown = visible(terminal.getvalue())
    assert re.fullmatch(r"━{30} 40/40 moved \d+:\d\d:\d\d", shown[0])
    assert shown[1] == "next"
    assert re.fullmatch(r".{30} 41 moved \d+:\d\d:\d\d", shown[2])
    assert shown[3:] == [""]


def test_summary_table_is_aligned_text_when_piped() -> None:
    assert summary_table(ROWS, io.StringIO()) == (
        "  produced            200\n  highest write rate  5 WCU/s of 10 provisioned"
    )
    assert summary_table([], io.StringIO()) == ""


def test_summary_table_is_a_rich_table_on_a_terminal() -> None:
    text = summary_table(ROWS, Terminal())
    assert ANSI.search(text)  # styled for the terminal
    assert [line.split() for line in visible(text)] == [
        ["produced", "200"],
        ["highest", "write", "rate", "5", "WCU/s", "of", "10", "provisioned"],
    ]


def test_the_library_does_not_import_rich() -> None:
    modules = [
        "sqs_blueprint.worker",
        "sqs_blueprint.write_buffer",
        "sqs_blueprint.rpc",
        "sqs_blueprint.redrive",
        "sqs_blueprint.console",
        "sqs_blueprint.cli",
    ]
    code = f"import sys\nfor m in {modules!r}: __import__(m)\nprint('rich' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout == "False\n", out.stderr


@pytest.fixture
def queue(aws: None, tmp_path: Path) -> tuple[str, Path]:
    url = boto3.client("sqs").create_queue(QueueName="orders")["QueueUrl"]
    lines = tmp_path / "in.jsonl"
    lines.write_text("".join(json.dumps({"n": n}) + "\n" for n in range(25)))
    return url, lines


def test_a_long_send_draws_a_bar_on_a_terminal(
    queue: tuple[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, lines = queue
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)

    code = main(["send", "--queue-url", url, str(lines)])

    assert code == 0
    assert len(capsys.readouterr().out.splitlines()) == 25  # one JSON line per message, as ever
    assert re.fullmatch(r"━{30} 25/25 sent \d+:\d\d:\d\d", visible(terminal.getvalue())[0])


def test_a_piped_send_writes_no_progress(
    queue: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    url, lines = queue
    code = main(["send", "--queue-url", url, str(lines)])
    out, err = capsys.readouterr()
    assert code == 0 and len(out.splitlines()) == 25 and err == ""
