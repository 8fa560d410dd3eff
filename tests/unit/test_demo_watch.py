"""The demo reads failed records from a function's log as the runtime appends it."""

from __future__ import annotations

import json
from pathlib import Path

from sqs_blueprint.local.demo.watch import FunctionLog


def _line(entry: object) -> bytes:
    return json.dumps(entry).encode() + b"\n"


def test_a_function_log_gives_each_failed_record_once_and_waits_for_whole_lines(
    tmp_path: Path,
) -> None:
    path = tmp_path / "fn.log"
    log = FunctionLog(path)
    assert log.failures() == []  # no runtime has started yet

    failed = {"message": "record failed", "correlation_id": "m-1", "receive_count": 1}
    written = {"message": "batch written", "records": 3}
    half = _line({**failed, "correlation_id": "m-2"})
    path.write_bytes(
        _line(written) + _line(failed) + b"Traceback (most recent call last):\n" + half[:20]
    )
    assert log.failures() == [failed]  # not the batch line, the traceback or half a line

    with path.open("ab") as more:
        more.write(half[20:])
    assert log.failures() == [{**failed, "correlation_id": "m-2"}]
    assert log.failures() == []
