"""What the local cloud collects to follow a record: spans in ``spans.jsonl``.

One file next to the function logs (the runner's ``log_dir``): the runtimes append
their spans to it (their environment names it, :data:`SPANS_FILE_SETTING`, and
``_bootstrap`` sets the collector up as the ADOT layer would in AWS), and so do
the process that runs the local cloud (its producers and redrives) and the server
(each move to a DLQ, :mod:`.moto_fixes`). :func:`local_story` tells one record's
life from it, from the function logs when no span names the record (tracing
off), and with what the write meter measured at the server for its key.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sqs_blueprint import tracing
from sqs_blueprint.local.meter import WriteMeter
from sqs_blueprint.trace_story import Step, Story, story

log = logging.getLogger(__name__)
SPANS_FILE = "spans.jsonl"
SPANS_FILE_SETTING = "SQS_BLUEPRINT_SPANS_FILE"


def collect_spans(log_dir: Path) -> Path | None:
    """Collect this process's spans to ``log_dir/spans.jsonl`` (None, and tracing left as
    it is, without ``opentelemetry-sdk``)."""
    if not tracing.available():
        log.info("spans are not collected: %s", tracing.INSTALL)
        return None
    path = log_dir / SPANS_FILE
    tracing.collect_to(path)
    return path


def read_spans(path: Path) -> list[dict[str, Any]]:
    """Every span line of ``path`` (a line cut short by a crash is skipped)."""
    if not path.is_file():
        return []
    spans = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            spans.append(json.loads(line))
        except ValueError:
            continue
    return spans


def _log_lines(log_dir: Path) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The JSON log lines of every function log: (function, line)."""
    for path in sorted(log_dir.glob("*.log")):
        for text in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if text.startswith("{"):
                try:
                    yield path.stem, json.loads(text)
                except ValueError:
                    continue


def _from_logs(log_dir: Path, ident: str, found: Story) -> None:
    for function, line in _log_lines(log_dir):
        if ident not in (line.get("correlation_id"), line.get("trace_id"), line.get("item_key")):
            continue
        at = float(line.get("timestamp_s") or 0) or _epoch(line.get("timestamp"))
        outcome = line.get("outcome")
        detail = f" ({outcome}: {line.get('reason')})" if line.get("reason") else ""
        found.steps.append(Step(at, "log", f"{function}: {line.get('message')}{detail}"))
    found.steps.sort(key=lambda s: s.at)


def _epoch(stamp: Any) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(str(stamp)).timestamp()
    except ValueError:
        return 0.0


def local_story(log_dir: Path, ident: str, meter: WriteMeter | None = None) -> Story:
    """The life of the record ``ident`` names, from what the local cloud collected."""
    found = story(read_spans(log_dir / SPANS_FILE), ident)
    if not found.steps:
        _from_logs(log_dir, ident, found)
        found.unseen.append(
            f"no span names {ident} in {log_dir / SPANS_FILE} (tracing off, or "
            f"opentelemetry-sdk not installed: {tracing.INSTALL}); told from the function logs"
        )
    if meter is not None:
        _metered(found, meter)
    return found


def _metered(found: Story, meter: WriteMeter) -> None:
    """Add what the server measured to each write step: the writes of its key and WCU."""
    for position, step in enumerate(found.steps):
        table, key = step.data.get(tracing.TABLE), step.data.get(tracing.ITEM_KEY)
        if step.kind != "written" or not table:
            continue
        writes = [w for w in meter.writes(table) if json.loads(w.key).get("pk") == {"S": key}]
        measured = (
            f"; metered at the server: {sum(1 for w in writes if w.written)} write(s), "
            f"{sum(w.wcu for w in writes)} WCU"
        )
        found.steps[position] = Step(step.at, step.kind, step.text + measured, step.data)
