"""`sqs-blueprint dlq ...`: output, messages and exit codes (0 ok, 1 some failed, 2 bad usage)."""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from sqs_blueprint.cli import main
from tests.unit.test_console import Terminal, visible
from tests.unit.test_redrive import (
    ARN,
    DLQ_URL,
    LIST,
    drain,
    fail_sends,
    make_dlq,
    put,
    stub_destination,
    task,
)


@pytest.fixture
def sqs(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The client the CLI uses (so tests can hook it); receives never wait
    (docs/aws-facts.md#local-cloud)."""
    client = boto3.client("sqs")
    real = boto3.client

    def make(service: str, *args: Any, **kwargs: Any) -> Any:
        return client if service == "sqs" else real(service, *args, **kwargs)

    monkeypatch.setattr("sqs_blueprint._clients.boto3.client", make)
    return client


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["dlq", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_inspect_prints_sources_and_messages_and_consumes_none(
    sqs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    dlq, (source,) = make_dlq(sqs, "orders")
    put(sqs, dlq, [json.dumps({"n": n}) for n in range(3)])

    code, out, _ = cli(capsys, "inspect", "--queue", "orders-dlq")

    assert code == 0
    assert out.splitlines()[0] == f"{dlq} serves: {source}"
    assert "3 message(s) shown" in out and out.count("receives=1") == 3
    assert len(drain(sqs, dlq)) == 3


def test_inspect_json_writes_one_object_per_line(
    sqs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    dlq, (source,) = make_dlq(sqs, "orders")
    put(sqs, dlq, ["a", "b"])

    code, out, _ = cli(capsys, "inspect", "--queue", dlq, "--json", "--limit", "5")

    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and sorted(r["body"] for r in rows) == ["a", "b"]
    assert all(r["queue"] == dlq and r["sources"] == [source] for r in rows)


def test_redrive_on_moto_says_it_moves_client_side(
    sqs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    dlq, (source,) = make_dlq(sqs, "orders")
    put(sqs, dlq, [f"m{n}" for n in range(12)])

    code, out, err = cli(capsys, "redrive", "--queue", "orders-dlq", "--wait", "0")

    assert code == 0
    assert "no message move tasks" in err and "client-side instead" in err
    assert out == (
        "client-side: completed, moved 12, in both queues 0, left in the DLQ 0 "
        "(not chosen 0, not sent 0)\n"
    )
    assert len(drain(sqs, source)) == 12


def test_redrive_by_id_reports_ids_not_found(sqs: Any, capsys: pytest.CaptureFixture[str]) -> None:
    dlq, (source,) = make_dlq(sqs, "orders")
    ids = put(sqs, dlq, ["a", "b", "c"])

    code, out, err = cli(capsys, "redrive", "--queue", dlq, "--id", ids[0], "gone", "--wait", "0")

    assert code == 1
    assert "moved 1, in both queues 0, left in the DLQ 2 (not chosen 2, not sent 0)" in out
    assert "not found in the DLQ: gone" in err
    assert [m["Body"] for m in drain(sqs, source)] == ["a"]


def test_redrive_where_with_failed_sends_exits_1(
    sqs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    dlq, _ = make_dlq(sqs, "orders")
    ids = put(sqs, dlq, [json.dumps({"k": k}) for k in ("ok", "bad", "ok")])
    fail_sends(sqs, "bad")

    code, out, err = cli(capsys, "redrive", "--queue", dlq, "--where", "k", "--wait", "0")

    assert code == 1 and "moved 2, in both queues 0, left in the DLQ 1 (not chosen 0" in out
    assert f"{ids[1]} stays in the DLQ: not sent: injected" in err


def test_on_a_terminal_the_bar_ends_its_line_before_other_output(
    sqs: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dlq, _ = make_dlq(sqs, "orders")
    ids = put(sqs, dlq, [json.dumps({"k": k}) for k in ("ok", "bad", "ok")])
    fail_sends(sqs, "bad")
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)

    code, _, _ = cli(capsys, "redrive", "--queue", dlq, "--where", "k", "--wait", "0")

    assert code == 1
    bar, *rest = visible(terminal.getvalue())
    assert re.fullmatch(r".{30} 2 moved \d+:\d\d:\d\d", bar)
    assert rest == [f"sqs-blueprint dlq redrive: {ids[1]} stays in the DLQ: not sent: injected", ""]


def test_inspect_on_a_terminal_shows_a_table_row_per_message(
    sqs: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dlq, (source,) = make_dlq(sqs, "orders")
    ids = put(sqs, dlq, [json.dumps({"n": n}) for n in range(3)])
    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    monkeypatch.setenv("COLUMNS", "120")

    assert main(["dlq", "inspect", "--queue", dlq]) == 0

    lines = visible(terminal.getvalue())
    assert lines[:3] == [
        f"{dlq} serves: {source}",
        "S3 payloads not fetched: no Lambda consumer of the source queue sets PAYLOAD_BUCKET; "
        "name the buckets to read with --bucket",
        "3 message(s) shown, all handed back (none consumed)",
    ]
    (header,) = [n for n, line in enumerate(lines) if line.startswith(" message id")]
    assert lines[header].split() == ["message", "id", "receives", "sent", "(UTC)", "bytes", "body"]
    rows = {line.split()[0]: line.split() for line in lines[header + 2 :] if line.strip()}
    assert sorted(rows) == sorted(ids)  # one row per message
    assert [(rows[i][1], rows[i][4], rows[i][-1]) for i in ids] == [
        ("1", "8", f"{n}}}")
        for n in range(3)  # receives, bytes, the body's end
    ]


@pytest.mark.parametrize(
    ("setup", "argv", "code", "message"),
    [
        ("shared", ["redrive", "--queue", "shared-dlq"], 2, "serves 2 source queues, choose one"),
        ("orphan", ["redrive", "--queue", "orphan"], 2, "serves no source queue"),
        ("one", ["redrive", "--queue", "one-dlq", "--to", "orphan"], 2, "refusing to redrive"),
        ("one", ["redrive", "--queue", "one-dlq", "--where", "a =="], 2, "not a JMESPath"),
        ("one", ["redrive", "--queue", "one-dlq", "--rate", "0"], 2, "rate must be 1 .. 500"),
        ("one", ["redrive", "--queue", "arn:aws:s3:::b"], 2, "'arn:aws:s3:::b' is not an SQS"),
        ("one", ["inspect", "--queue", "one-dlq", "--limit", "0"], 2, "limit must be at least 1"),
        ("one", ["redrive", "--queue", "nope"], 1, "queue 'nope' does not exist"),
        ("one", ["inspect", "--queue", "nope"], 1, "queue 'nope' does not exist"),
        ("one", ["cancel", "--task-handle", "h"], 1, "no message move tasks"),
    ],
)
def test_bad_usage_exits_2_and_runtime_failures_exit_1_with_one_line(
    sqs: Any,
    capsys: pytest.CaptureFixture[str],
    setup: str,
    argv: list[str],
    code: int,
    message: str,
) -> None:
    sqs.create_queue(QueueName="orphan")
    make_dlq(sqs, setup, sources=2 if setup == "shared" else 1)

    exit_code, out, err = cli(capsys, *argv)

    assert (exit_code, out) == (code, "")
    assert err.startswith(f"sqs-blueprint dlq {argv[0]}: ") and message in err
    assert err.count("\n") == 1


def test_id_and_where_together_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["dlq", "redrive", "--queue", "q", "--id", "a", "--where", "b"])
    assert info.value.code == 2 and "not allowed with" in capsys.readouterr().err


# --- native path through the CLI, with Stubber --------------------------------------


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    client = boto3.client(
        "sqs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    monkeypatch.setattr("sqs_blueprint._clients.boto3.client", lambda *_, **__: client)
    monkeypatch.setattr(time, "sleep", lambda _: None)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def test_native_redrive_prints_the_handle_and_plain_progress_lines_when_piped(
    stub: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    stub_destination(stub)
    stub.add_response(
        "start_message_move_task",
        {"TaskHandle": "h-1"},
        {"SourceArn": f"{ARN}:orders-dlq", "MaxNumberOfMessagesPerSecond": 20},
    )
    stub.add_response("list_message_move_tasks", task("RUNNING", 15, 60, TaskHandle="h-1"), LIST)
    stub.add_response("list_message_move_tasks", task("COMPLETED", 60, 60), LIST)

    code, out, err = cli(capsys, "redrive", "--queue", DLQ_URL, "--rate", "20")

    assert code == 0
    assert out.splitlines() == ["task handle: h-1", "native: completed, moved 60"]
    assert "cancel with: sqs-blueprint dlq cancel --task-handle h-1" in err
    # Piped (not a terminal): one plain line per change, after the handle's line.
    assert err.splitlines() == [
        "sqs-blueprint dlq redrive: cancel with: sqs-blueprint dlq cancel --task-handle h-1",
        f"[{'#' * 7}{'-' * 23}] 15/60 moved",
        f"[{'#' * 30}] 60/60 moved",
    ]


def test_a_failed_native_task_exits_1(stub: Stubber, capsys: pytest.CaptureFixture[str]) -> None:
    stub_destination(stub)
    stub.add_response(
        "start_message_move_task", {"TaskHandle": "h-1"}, {"SourceArn": f"{ARN}:orders-dlq"}
    )
    stub.add_response("list_message_move_tasks", task("CANCELLED", 5), LIST)

    code, out, _ = cli(capsys, "redrive", "--queue", DLQ_URL)

    assert code == 1 and "native: cancelled, moved 5" in out


def test_cancel_prints_what_was_moved(stub: Stubber, capsys: pytest.CaptureFixture[str]) -> None:
    stub.add_response(
        "cancel_message_move_task", {"ApproximateNumberOfMessagesMoved": 9}, {"TaskHandle": "h-1"}
    )
    code, out, _ = cli(capsys, "cancel", "--task-handle", "h-1")
    assert code == 0 and "about 9 message(s) already moved" in out


def test_an_aws_error_exits_1(stub: Stubber, capsys: pytest.CaptureFixture[str]) -> None:
    stub.add_client_error("get_queue_attributes", "AccessDenied", "not allowed", 403)
    code, _, err = cli(capsys, "redrive", "--queue", DLQ_URL)
    assert code == 1 and "AccessDenied" in err


# --- FIFO groups: SQS shows a group's later letters only once the earlier ones leave ------


def fifo_dlq_of_25(sqs: Any) -> tuple[str, list[str]]:
    """A FIFO DLQ holding 25 letters of one group, ``{"n": 0}`` to ``{"n": 24}`` in order."""
    dlq, _ = make_dlq(sqs, "ledger", fifo=True)
    return dlq, put(sqs, dlq, [json.dumps({"n": n}) for n in range(25)], MessageGroupId="g")


def in_order(sqs: Any, url: str) -> list[int]:
    return [json.loads(m["Body"])["n"] for m in drain(sqs, url)]


FIFO_HIDDEN = (
    "SQS hands out a FIFO message group's later letters only once the earlier ones leave the queue"
)


def test_inspect_of_a_fifo_group_longer_than_a_receive_says_what_it_could_not_see(
    sqs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    dlq, _ = fifo_dlq_of_25(sqs)

    code, out, err = cli(capsys, "inspect", "--queue", dlq, "--json")

    assert code == 1
    assert [json.loads(line)["body"] for line in out.splitlines()] == [
        json.dumps({"n": n}) for n in range(10)
    ]
    assert err == (
        "sqs-blueprint dlq inspect: 10 of about 25 letter(s) seen; about 15 not seen: "
        f"{FIFO_HIDDEN}, and inspect consumes none\n"
    )
    assert in_order(sqs, dlq) == list(range(25))


def test_inspect_stopped_by_its_limit_says_how_many_it_did_not_show(
    sqs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    dlq, _ = fifo_dlq_of_25(sqs)

    code, out, err = cli(capsys, "inspect", "--queue", dlq, "--limit", "5")

    assert (code, err) == (0, "")
    assert "5 message(s) shown of about 25 (--limit 5), all handed back (none consumed)" in out
    assert in_order(sqs, dlq) == list(range(25))


@pytest.mark.parametrize("choose", ["--where", "--id"])
def test_a_match_behind_the_first_ten_of_its_group_is_reported_out_of_reach(
    sqs: Any, capsys: pytest.CaptureFixture[str], choose: str
) -> None:
    dlq, ids = fifo_dlq_of_25(sqs)
    value = "n == `14`" if choose == "--where" else ids[14]  # the 15th letter
    what = f"--where {value!r}" if choose == "--where" else f"--id {value}"

    code, out, err = cli(capsys, "redrive", "--queue", dlq, choose, value, "--wait", "0")

    assert (code, out) == (1, "")
    assert err == (
        f"sqs-blueprint dlq redrive: nothing matched {what} among the 10 message(s) seen of "
        f"about 25 in the DLQ; about 15 could not be reached ({FIFO_HIDDEN}, and letters not "
        "moved stay in it); nothing was moved\n"
    )
    assert in_order(sqs, dlq) == list(range(25))


def test_a_fifo_redrive_moves_what_it_reaches_in_order_and_says_what_it_did_not_reach(
    sqs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    dlq, _ = fifo_dlq_of_25(sqs)
    source = sqs.get_queue_url(QueueName="ledger-0.fifo")["QueueUrl"]
    where = "contains(`[2, 6, 14]`, n)"  # the 3rd, the 7th and the 15th letter

    code, out, err = cli(capsys, "redrive", "--queue", dlq, "--where", where, "--wait", "0")

    assert code == 1
    assert out.startswith("client-side: completed, moved 2, in both queues 0, left in the DLQ 8 ")
    assert err.splitlines()[-1] == (  # after the progress line
        "sqs-blueprint dlq redrive: 10 of about 25 letter(s) examined; about 15 could not be "
        f"reached ({FIFO_HIDDEN}, and letters not moved stay in it): they stay in the DLQ"
    )
    assert in_order(sqs, source) == [2, 6]
    assert in_order(sqs, dlq) == [n for n in range(25) if n not in (2, 6)]
