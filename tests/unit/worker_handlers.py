"""Handlers the worker tests load as ``worker_handlers:<name>`` (this folder on PYTHONPATH).

Each record is logged to the file named by ``WORKER_TEST_LOG`` as ``start <id>``
and, unless it fails, ``done <id>``. The JSON body may ask for ``sleep``
(seconds) and ``fail`` (raise).
"""

from __future__ import annotations

import json
import os
import time

from sqs_blueprint.records import Record


def _log(event: str, record: Record) -> None:
    with open(os.environ["WORKER_TEST_LOG"], "a", encoding="utf-8") as out:
        out.write(f"{event} {record.message_id}\n")


def record(record: Record) -> None:
    body = json.loads(record.body)
    _log("start", record)
    time.sleep(float(body.get("sleep", 0)))
    if body.get("fail"):
        raise RuntimeError("the message asked to fail")
    _log("done", record)
