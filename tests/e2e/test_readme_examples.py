"""Every shell example in README.md and the docs pages runs as written, so they cannot drift.

Each command of a ``sh`` or ``console`` block runs with bash in the repository
root, with ``.venv/bin`` first on PATH (as after ``source .venv/bin/activate``),
in order (the README, then the pages in mkdocs.yml's nav order): the README's own
``sqs-blueprint local up`` starts the one local
cloud, in the background, and every later command runs with the variables it
prints to export. A command exits 0, or the status its ``# exit status N`` comment
documents; a console block's output must be what it shows. The commands that are
not run are named in NOT_RUN, with the reason, and nowhere else. Like the
examples, the test leaves cdk.out holding what the last `make synth` wrote.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.readme_examples import TAGS, Example, examples, fences, shows

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def _documents() -> list[tuple[str, str]]:
    """(path, text) of the README, then of each docs page in mkdocs.yml's nav order."""
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]
    pages = ["README.md", *(f"docs/{page}" for entry in nav for page in entry.values())]
    return [(page, (ROOT / page).read_text(encoding="utf-8")) for page in pages]


DOCUMENTS = _documents()
EXAMPLES = [e for source, text in DOCUMENTS for e in examples(text, source)]
FENCES = [f for source, text in DOCUMENTS for f in fences(text, source)]
HANG_GUARD_S = 300  # only stops a hang: the slowest example, a synth, takes under a minute

NOT_RUN = {
    "make demo": "about a minute; tests/e2e/test_demo.py runs the same `sqs-blueprint demo` "
    "on the same local stage",
    "make test": "the whole suite, this test among it",
    "make lint": "the repository's lint: two synths, mypy and checkov over every file, minutes",
    "make bootstrap STAGE=dev": "needs an AWS account",
    "make deploy STAGE=dev": "needs an AWS account",
    "make destroy STAGE=dev": "needs an AWS account",
    **dict.fromkeys(
        [
            'printf \'%s\\n\' \'{"order_id": "A-1", "item": "tea", "quantity": 2}\' '
            '\'{"order_id": "A-2", "item": "cups", "quantity": 6}\' '
            '\'{"order_id": "A-3", "item": "spoons", "quantity": 0}\' > orders.jsonl',
            "sqs-blueprint send --queue-url https://sqs.us-east-1.amazonaws.com/123456789012/"
            "sqsblueprintlocalorders-Queue-C08F0515 orders.jsonl",
            "python -c \"import boto3; ddb = boto3.client('dynamodb'); [t] = [n for n in "
            "ddb.list_tables()['TableNames'] if n.startswith('sqs-blueprint-local-orders-')]; "
            "print(*ddb.scan(TableName=t)['Items'], sep='\\n')\"",
            "sqs-blueprint dlq inspect --queue https://sqs.us-east-1.amazonaws.com/123456789012/"
            "sqsblueprintlocalorders-Queue-C08F0515-dlq",
        ],
        "the own-pipeline walkthrough needs the user's handler and cdk.json block: "
        "tests/e2e/test_own_pipeline.py runs it, and checks the README shows its handler "
        "and block",
    ),
    "sqs-blueprint dlq cancel --task-handle <handle printed by redrive>": (
        "needs a native move task: the local cloud has none (moto), so redrive moves "
        "client-side and prints no handle"
    ),
}
# Commands that keep running: started in the background, ready once a line of their
# output holds the first text; stopped with Ctrl-C (SIGINT) after the last example, then
# expected to exit with the status given (130 for local up, which Ctrl-C interrupts; 0 for
# the worker, which finishes its work and stops) with the second text in their last line.
LOCAL_UP = "sqs-blueprint local up --cdk-out cdk.out"
WORKER = (
    "sqs-blueprint worker --queue-url https://sqs.us-east-1.amazonaws.com/123456789012/"
    "sqsblueprintlocalworkers-Jobs-F7336653 --handler myjobs:handle"
)
LONG_RUNNING = {
    LOCAL_UP: ("Ctrl-C stops it.", "stopping the local cloud", 130),
    WORKER: ('handled {"job": 1}', "worker stopped", 0),  # the job sent just before
}
# Files examples write into the repository root; removed afterwards.
DEAD_LETTERS = "dead.jsonl"
WRITTEN = (DEAD_LETTERS, "myjobs.py")
# Never run, whatever NOT_RUN says: a guard beside the credentials the examples lack.
_NEEDS_AWS = re.compile(r"\b(bootstrap|deploy|destroy)\b(?! --cdk-out)")
_SYNOPSIS = re.compile(r"(sqs-blueprint(?: [a-z-]+)+) --")
_EXPORT = re.compile(r"^\s*export (\w+)=(\S+)$")


def _key(example: Example) -> str:
    """A command without its trailing comment, continuations on one line."""
    joined = re.sub(r"\s*\\\n\s*", " ", example.command)
    return re.sub(r"\s+#.*$", "", joined).strip()


class Background:
    """A long-running example: its output collected by a thread, stopped by Ctrl-C."""

    def __init__(self, command: str, env: dict[str, str]) -> None:
        self.command = command
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            ["bash", "-o", "pipefail", "-c", command],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            # As from a terminal: Ctrl-C reaches the command even when this test runs
            # where SIGINT is ignored (a shell's background job inherits it ignored).
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def said(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def wait_for(self, ready: str) -> None:
        deadline = threading.Event()
        for _ in range(HANG_GUARD_S * 10):
            if self.said(ready) or self.process.poll() is not None:
                break
            deadline.wait(0.1)
        assert self.said(ready), "\n".join(self.lines[-40:])

    def interrupt(self) -> int:
        """Ctrl-C, as a terminal sends it to the whole foreground group; the exit status."""
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            status = self.process.wait(timeout=HANG_GUARD_S)
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._reader.join(timeout=10)
        return status


@pytest.fixture
def background() -> Iterator[list[Background]]:
    started: list[Background] = []
    yield started
    for job in reversed(started):
        if job.process.poll() is None:
            job.interrupt()
    for name in WRITTEN:
        (ROOT / name).unlink(missing_ok=True)


def _environment() -> dict[str, str]:
    """The shell after ``source .venv/bin/activate``, with no way to reach an AWS account."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(ROOT / ".venv")
    return env


def _run(example: Example, env: dict[str, str]) -> None:
    started = time.monotonic()
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", example.command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        check=False,
    )
    said = done.stdout + done.stderr
    print(f"{time.monotonic() - started:6.1f} s  {example.where}")
    where = f"{example.where}: `{_key(example)}`"
    assert done.returncode == example.status, (
        f"{where} exited {done.returncode}, the page says {example.status}:\n{said[-3000:]}"
    )
    if example.output is not None:
        assert shows(example.output, said), f"{where} printed:\n{said}\nthe page shows:\n" + (
            example.output
        )


# Every example in turn, three synths among them: about 4 minutes on a busy machine.
@pytest.mark.timeout(1200)
def test_every_shell_example_runs_as_written(background: list[Background]) -> None:
    env = _environment()
    keys = [_key(example) for example in EXAMPLES]
    assert [k for k in keys if _NEEDS_AWS.search(k) and k not in NOT_RUN] == []
    ran: list[str] = []
    for example in EXAMPLES:
        key = _key(example)
        if key in NOT_RUN:
            continue
        ran.append(key)
        if key in LONG_RUNNING:
            job = Background(key, env)
            background.append(job)
            job.wait_for(LONG_RUNNING[key][0])
            env.update((m[1], m[2]) for m in map(_EXPORT.match, job.lines) if m)
            assert key != LOCAL_UP or "AWS_ENDPOINT_URL" in env, "\n".join(job.lines)
        else:
            _run(example, env)
    for job in reversed(background):  # the local cloud last: the worker uses it
        _, last, status = LONG_RUNNING[job.command]
        assert job.interrupt() == status, "\n".join(job.lines[-40:])
        assert last in job.lines[-1], "\n".join(job.lines[-40:])
    assert sorted(set(ran) | set(NOT_RUN)) == sorted({_key(e) for e in EXAMPLES})
    assert not set(ran) & set(NOT_RUN)
    assert set(LONG_RUNNING) <= set(ran), "a long-running example left the README"
    dead = (ROOT / DEAD_LETTERS).read_text(encoding="utf-8").splitlines()
    assert len(dead) == 2 and all(isinstance(json.loads(line), dict) for line in dead)


def test_not_run_names_only_examples_the_readme_has() -> None:
    keys = [_key(example) for example in EXAMPLES]
    assert sorted(set(NOT_RUN) - set(keys)) == []
    assert len(keys) == len(set(keys)), "two examples are the same command"


def test_every_block_is_tagged_and_no_command_hides_in_a_text_block() -> None:
    for fence in FENCES:
        assert fence.tag in TAGS, f"{fence.where}: tag it one of {TAGS}"
        if fence.tag == "text":
            commands = [line for line in fence.lines if line.startswith(("$ ", "make "))]
            assert commands == [], f"{fence.where}: a command in a text block"


def test_the_command_is_spelled_one_way() -> None:
    """After ``source .venv/bin/activate``: `sqs-blueprint`, never `.venv/bin/...`."""
    keys = [_key(example) for example in EXAMPLES]
    assert [k for k in keys if ".venv/bin/" in k] == ["source .venv/bin/activate"]


def test_synopses_name_only_flags_the_commands_take() -> None:
    """A ``text`` block starting ``sqs-blueprint SUB --`` is a synopsis: its flags must exist."""
    env = _environment()
    for fence in FENCES:
        synopsis = _SYNOPSIS.match(fence.lines[0])
        if fence.tag != "text" or synopsis is None:
            continue
        command = synopsis.group(1).split()
        helped = subprocess.run(
            [*command, "--help"], env=env, capture_output=True, text=True, check=True
        ).stdout
        flags = set(re.findall(r"--[a-z][a-z-]*", "\n".join(fence.lines)))
        assert sorted(f for f in flags if f not in helped) == [], fence.where


def test_the_parser_reads_commands_outputs_and_statuses() -> None:
    """The parser reads what the README shows: checked on a tiny README of its own."""
    text = (
        "```console\n$ a --x \\\n    --y   # exit status 2\nout\n...\nend\n```\n"
        "```sh\n# comment\nb\nc \\\n  d\n```\n"
    )
    found = examples(text)
    assert [(e.line, e.status, e.output) for e in found] == [
        (2, 2, "out\n...\nend"),
        (10, 0, None),
        (11, 0, None),
    ]
    assert shows("out\n...\nend", "out\nmore\nlines\nend\n")
    assert not shows("out\n...\nend", "out\nmore\n")
