"""`sqs-blueprint plan`: defaults in --help, errors that name flags, the budget's rounding."""

from __future__ import annotations

import json

import pytest

from sqs_blueprint.cli import main

FIFO = ["plan", "fifo", "--rate", "10", "--groups", "5", "--record-ms", "10"]
WRITE_BUFFER = ["plan", "--wcu", "250", "--item-kb", "1", "--function-timeout", "30"]


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def test_help_shows_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys, "plan")
    assert "--batch-size BATCH_SIZE mapping batch size (default: 10)" in text
    assert "--batching-window BATCHING_WINDOW seconds (default: 0)" in text
    assert "--record-ms RECORD_MS unpaced ms per record (default: 10.0)" in text
    assert "--offloaded-share OFFLOADED_SHARE 0..1 sent through S3 (default: 0.0)" in text
    assert "(default: standard)" in text and "--scaling-mode provisioned) (default: 2)" in text
    assert "--send-latency-ms SEND_LATENCY_MS one SendMessageBatch round trip (default:" in (
        _help(capsys, "plan", "fifo")
    )


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["plan", "--wcu", "100", "--item-kb", "500", "--function-timeout", "30"],
            "plan: --item-kb must be at most 400 (DynamoDB item limit), got 500.0",
        ),
        (
            ["plan", "--wcu", "0", "--item-kb", "1", "--function-timeout", "30"],
            "plan: --wcu must be a whole number of at least 1, got 0",
        ),
        (
            [*WRITE_BUFFER, "--backlog", "-3"],
            "plan: --backlog must be at least 0, got -3",
        ),
        (
            [*WRITE_BUFFER, "--backlog", "9", "--hot-key-share", "1.5"],
            "plan: --hot-key-share must be at most 1 (a share of all writes), got 1.5",
        ),
        (
            [*WRITE_BUFFER, "--target-rate", "-1", "--latency", "5"],
            "plan: --target-rate must be greater than 0, got -1.0",
        ),
        (
            [*FIFO, "--message-kb", "2000"],
            "plan fifo: --message-kb must be at most 1024",
        ),
    ],
)
def test_errors_name_the_flags(
    argv: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"sqs-blueprint {line}")
    assert "_" not in err.split(":")[1].split()[0]


def test_budget_is_rounded_down_to_three_decimals(capsys: pytest.CaptureFixture[str]) -> None:
    # 250 WCU over ceil(250 / 100) = 3 invocations: 83.333..., rounded down to 83.333,
    # so that 3 x 83.333 = 249.999 <= 250; a whole-number rounding would print 83.
    assert main(WRITE_BUFFER) == 0
    rows = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines())
    assert rows["max_concurrency"].strip() == "3"
    assert rows["budget_wcu_per_s"].strip() == "83.333"


def test_min_pollers_is_billed_at_rest_only_in_provisioned_mode(
    capsys: pytest.CaptureFixture[str],
) -> None:
    common = [*WRITE_BUFFER, "--messages-per-day", "1000", "--json", "--min-pollers", "4"]
    assert main(common) == 0
    standard = json.loads(capsys.readouterr().out)["monthly_cost_usd"]
    assert main([*common, "--scaling-mode", "provisioned"]) == 0
    provisioned = json.loads(capsys.readouterr().out)["monthly_cost_usd"]
    assert "fixed provisioned_pollers" not in standard
    assert provisioned["fixed provisioned_pollers"] == pytest.approx(4 * 730 * 0.00925)
