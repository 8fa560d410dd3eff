"""The CLI: one line on stderr and the right exit code for every failure, never a traceback."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from sqs_blueprint.cli import main

MISSING = "https://sqs.us-east-1.amazonaws.com/123456789012/missing"
HANG_GUARD_S = 120  # only stops a hang; the command answers in about a second


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exit_:
        assert isinstance(exit_.code, int)
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def failure(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Exit code and the one stderr line of a failing command."""
    code, _, err = run(argv, capsys)
    assert "Traceback" not in err and err.count("\n") == 1, err
    return code, err.rstrip("\n")


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No region, no credentials, no profile files, no instance metadata."""
    for name in (
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


@pytest.fixture
def handlers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Handler modules in the current folder, as a user would write them."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    (tmp_path / "good_jobs.py").write_text("def handle(record):\n    pass\n")
    (tmp_path / "raising_jobs.py").write_text("raise RuntimeError('no database')\n")
    (tmp_path / "broken_jobs.py").write_text("def handle(record)\n    pass\n")
    return tmp_path


# ---------------------------------------------------------------- version and help


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    assert run(["--version"], capsys) == (0, f"sqs-blueprint {version('sqs-blueprint')}\n", "")


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["send"], "with 'queue' (default: 262144)"),
        (["worker"], "long-poll seconds (default: 20)"),
        (["rpc", "call"], "seconds (default: 30.0)"),
        (["rpc", "call"], "read the queue and prefix from (default: dev)"),
        (["plan"], "--batch-size BATCH_SIZE\n" + " " * 24 + "mapping batch size (default: 10)"),
        (["plan"], "seconds (default: 0)"),
        (["dlq", "inspect"], "messages to show (default: 20)"),
        (["dlq", "redrive"], "(default: 1)"),
        (["local", "up"], "(default: us-east-1)"),
        (["demo"], "(default: 200)"),  # --messages
    ],
)
def test_every_help_shows_its_defaults(
    argv: list[str], shown: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run([*argv, "--help"], capsys)
    assert code == 0 and shown in out


# ---------------------------------------------------------------- bad input: exit 2


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["rpc", "call", "--wait", "0"],
            "sqs-blueprint rpc call: argument --wait: must be 1..20 s, got '0'",
        ),
        (
            ["rpc", "call", "--timeout", "-1"],
            "sqs-blueprint rpc call: argument --timeout: must be a number of seconds above 0, "
            "got '-1'",
        ),
        (
            ["rpc", "call", "--timeout", "nan"],
            "sqs-blueprint rpc call: argument --timeout: must be a number of seconds above 0, "
            "got 'nan'",
        ),
        (
            ["rpc", "call", "--prefix", "bad!"],
            "sqs-blueprint rpc call: argument --prefix: must be 1..48 letters, digits, '-' or "
            "'_' (a 32-character id is appended to make the queue name), got 'bad!'",
        ),
        (
            ["worker", "--wait", "21"],
            "sqs-blueprint worker: argument --wait: must be 0..20 s, got '21'",
        ),
        (
            ["worker", "--concurrency", "0"],
            "sqs-blueprint worker: argument --concurrency: must be at least 1, got '0'",
        ),
        (
            ["worker", "--max-messages", "11"],
            "sqs-blueprint worker: argument --max-messages: must be 1..10, got '11'",
        ),
        (
            ["worker", "--visibility-timeout", "43201"],
            "sqs-blueprint worker: argument --visibility-timeout: must be 1..43200 s, got '43201'",
        ),
        (
            ["worker", "--drain-timeout", "-1"],
            "sqs-blueprint worker: argument --drain-timeout: must be 0 or more seconds, got '-1'",
        ),
        (
            ["send", "--group-id", "a", "--group-key", "b"],
            "sqs-blueprint send: argument --group-key: not allowed with argument --group-id",
        ),
    ],
)
def test_bad_flags_are_one_line_exit_2(
    argv: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    required = {
        "rpc": ["--queue-url", "q", "--prefix", "p", "--type", "t"],
        "worker": ["--queue-url", "q", "--handler", "m:f"],
        "send": ["--queue-url", "q"],
    }[argv[0]]
    code, err = failure([*argv, *required], capsys)
    command = " ".join(argv[:2] if argv[0] == "rpc" else argv[:1])
    assert (code, err) == (2, f"{line} (see sqs-blueprint {command} --help)")


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["--queue-url", "https://q/x.fifo"],
            "a FIFO queue needs a message group: use --group-id or --group-key",
        ),
        (
            ["--queue-url", "https://q/x.fifo", "--group-id", "g", "--tenant", "t"],
            "--tenant and --tenant-key are for standard (fair) queues; on a FIFO queue use "
            "--group-id or --group-key (the tenant's field for one ordered group per tenant)",
        ),
        (
            ["--queue-url", "https://q/x", "--group-id", "g", "--tenant", "t"],
            "--tenant and --group-id both set the message group id; give one",
        ),
        (
            ["--queue-url", "https://q/x", "--group-id", "a b"],
            "--group-id must be 1..128 ASCII letters, digits or punctuation, got 'a b'",
        ),
        (
            ["--queue-url", "https://q/x", "--tenant", "x" * 129],
            f"--tenant must be 1..128 ASCII letters, digits or punctuation, got '{'x' * 129}'",
        ),
        (
            ["--queue-url", "https://q/x", "--attribute", "ExtendedPayloadSize=1"],
            "--attribute ExtendedPayloadSize is reserved for S3 payload pointers "
            "(Extended Client format); use another name",
        ),
        (
            ["--queue-url", "https://q/x", "--attribute", "SQSLargePayloadSize=1"],
            "--attribute SQSLargePayloadSize is reserved for S3 payload pointers "
            "(Extended Client format); use another name",
        ),
        (["--queue-url", "https://q/x", "--always-s3"], "--always-s3 needs --bucket"),
    ],
)
def test_send_refuses_contradictions_in_cli_words(
    args: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert failure(["send", *args], capsys) == (2, f"sqs-blueprint send: {line}")


def test_rpc_call_refuses_a_payload_that_is_not_an_object(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["rpc", "call", "--queue-url", "q", "--prefix", "p", "--type", "t"]
    assert failure([*argv, "--json-payload", "[1]"], capsys) == (
        2,
        "sqs-blueprint rpc call: --json-payload must be a JSON object, got '[1]'",
    )


# ---------------------------------------------------------------- worker handlers


def test_worker_handler_with_a_syntax_error(
    handlers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = failure(
        ["worker", "--queue-url", MISSING, "--handler", "broken_jobs:handle"], capsys
    )
    assert (code, err) == (
        2,
        f"sqs-blueprint worker: handler 'broken_jobs:handle': {handlers / 'broken_jobs.py'}, "
        "line 1: expected ':'; fix the module",
    )


def test_worker_handler_whose_module_raises_at_import(
    handlers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = failure(["worker", "--queue-url", MISSING, "--handler", "raising_jobs:h"], capsys)
    assert (code, err) == (
        1,
        "sqs-blueprint worker: handler 'raising_jobs:h': importing module 'raising_jobs' "
        "raised RuntimeError: no database; fix the module",
    )


def test_worker_handler_that_is_not_there(
    handlers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = failure(["worker", "--queue-url", MISSING, "--handler", "good_jobs:nope"], capsys)
    assert (code, err) == (
        2,
        "sqs-blueprint worker: handler 'good_jobs:nope': module 'good_jobs' has no function 'nope'",
    )


def test_the_console_script_finds_a_handler_module_in_the_current_folder(tmp_path: Path) -> None:
    """As a user runs it: the installed script, whose own folder is first on its path."""
    (tmp_path / "myjobs.py").write_text("def handle(record):\n    pass\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "PYTHONPATH"}
    env |= {"AWS_CONFIG_FILE": "none", "AWS_SHARED_CREDENTIALS_FILE": "none"}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    script = Path(sys.executable).parent / "sqs-blueprint"
    done = subprocess.run(
        [str(script), "worker", "--queue-url", MISSING, "--handler", "myjobs:handle"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        check=False,
    )
    # The handler loaded, so the next check (the queue's) ran and met the missing region.
    assert (done.returncode, done.stderr) == (
        1,
        "sqs-blueprint worker: no AWS region configured: set AWS_DEFAULT_REGION "
        "(or a region in your AWS profile)\n",
    )


# ---------------------------------------------------------------- run-time failures: exit 1


def missing_queue_line(command: str, flag: str = "--queue-url") -> str:
    return (
        f"sqs-blueprint {command}: queue {MISSING} does not exist in this account and region "
        f"(check {flag}, AWS_DEFAULT_REGION and AWS_ENDPOINT_URL)"
    )


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["send", "--queue-url", MISSING, "-"], "send"),
        (["worker", "--queue-url", MISSING, "--handler", "good_jobs:handle"], "worker"),
        (  # the queue's visibility timeout is not read: the worker checks the queue first
            [
                "worker",
                "--queue-url",
                MISSING,
                "--handler",
                "good_jobs:handle",
                "--visibility-timeout",
                "9",
            ],
            "worker",
        ),
        (
            ["rpc", "call", "--queue-url", MISSING, "--prefix", "p-", "--type", "t", "--wait", "1"],
            "rpc call",
        ),
    ],
)
def test_a_missing_queue_is_one_line_exit_1(
    aws: None,
    handlers: Path,
    argv: list[str],
    command: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("one line"))
    assert failure(argv, capsys) == (1, missing_queue_line(command))


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["dlq", "inspect", "--queue", MISSING], "dlq inspect"),
        (["dlq", "redrive", "--queue", MISSING, "--to", MISSING], "dlq redrive"),
    ],
)
def test_a_missing_dead_letter_queue_names_the_flag_it_came_from(
    aws: None, argv: list[str], command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert failure(argv, capsys) == (1, missing_queue_line(command, "--queue"))


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["send", "--queue-url", MISSING, "-"], "send"),
        (["worker", "--queue-url", MISSING, "--handler", "good_jobs:handle"], "worker"),
        (["rpc", "call", "--queue-url", MISSING, "--prefix", "p-", "--type", "t"], "rpc call"),
    ],
)
def test_no_region_is_one_line_exit_1(
    no_aws: None,
    handlers: Path,
    argv: list[str],
    command: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("one line"))
    assert failure(argv, capsys) == (
        1,
        f"sqs-blueprint {command}: no AWS region configured: set AWS_DEFAULT_REGION "
        "(or a region in your AWS profile)",
    )


def test_no_credentials_is_one_line_exit_1(
    no_aws: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setattr(sys, "stdin", io.StringIO("one line"))
    assert failure(["send", "--queue-url", MISSING], capsys) == (
        1,
        "sqs-blueprint send: no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID "
        "and AWS_SECRET_ACCESS_KEY (aws configure / aws sso login)",
    )


def test_an_unreachable_endpoint_is_one_line_exit_1(
    no_aws: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_MAX_ATTEMPTS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "stdin", io.StringIO("one line"))
    assert failure(["send", "--queue-url", MISSING], capsys) == (
        1,
        "sqs-blueprint send: cannot reach AWS: Could not connect to the endpoint URL: "
        '"http://127.0.0.1:9/" (check AWS_DEFAULT_REGION and AWS_ENDPOINT_URL)',
    )


# ---------------------------------------------------------------- send: groups and tenants


def test_send_group_key_gives_each_entity_its_group(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="q.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    source = tmp_path / "in.jsonl"
    source.write_text('{"order": "o1", "n": 1}\n{"order": "o2", "n": 1}\n{"n": 2}\n')
    code, out, err = run(["send", "--queue-url", url, "--group-key", "order", str(source)], capsys)
    assert code == 1 and [json.loads(line)["line"] for line in out.splitlines()] == [1, 2]
    assert json.loads(err) == {
        "line": 3,
        "error": "group key field 'order' is missing from this JSON object",
    }
    got = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["MessageGroupId"]
    )["Messages"]
    assert sorted(m["Attributes"]["MessageGroupId"] for m in got) == ["o1", "o2"]


@pytest.mark.parametrize(
    ("flags", "groups"),
    [(["--tenant", "acme"], ["acme", "acme"]), (["--tenant-key", "who"], ["a", "b"])],
)
def test_send_tenant_sets_the_group_on_a_standard_queue(
    aws: None,
    tmp_path: Path,
    flags: list[str],
    groups: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    source = tmp_path / "in.jsonl"
    source.write_text('{"who": "a"}\n{"who": "b"}\n')
    assert run(["send", "--queue-url", url, *flags, str(source)], capsys)[0] == 0
    got = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["MessageGroupId"]
    )["Messages"]
    assert sorted(m["Attributes"]["MessageGroupId"] for m in got) == groups


def test_send_is_deduplicated_when_rerun(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="q.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    source = tmp_path / "in.jsonl"
    source.write_text('{"order": "o1", "n": 1}\n{"order": "o1", "n": 2}\n')
    argv = ["send", "--queue-url", url, "--group-key", "order", str(source)]
    assert run(argv, capsys)[0] == run(argv, capsys)[0] == 0
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in got] == ['{"order": "o1", "n": 1}', '{"order": "o1", "n": 2}']


# ---------------------------------------------------------------- send: --json


def test_send_json_sends_nothing_when_a_line_is_not_a_json_object(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    source = tmp_path / "in.jsonl"
    source.write_text('{"n": 1}\nnot json\n[1]\n{"n": 4}\n')
    assert failure(["send", "--queue-url", url, "--json", str(source)], capsys) == (
        2,
        "sqs-blueprint send: --json: line 2, 3 is not a JSON object; nothing was sent",
    )
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"


def test_send_json_sends_json_objects_and_help_says_bodies_are_not_checked_without_it(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    source = tmp_path / "in.jsonl"
    source.write_text('{"n": 1}\n{"n": 2}\n')
    code, out, _ = run(["send", "--queue-url", url, "--json", str(source)], capsys)
    assert (code, [json.loads(line)["line"] for line in out.splitlines()]) == (0, [1, 2])
    code, out, _ = run(["send", "--help"], capsys)
    assert code == 0
    assert "a pipeline that expects JSON dead-letters a line that is not" in " ".join(out.split())
