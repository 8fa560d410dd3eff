"""After the summary, the demo follows two records with ``sqs-blueprint trace``'s story:
one redriven (failed, dead-lettered, redriven, written) and one FIFO update held
back behind its group's malformed update."""

from __future__ import annotations

from pathlib import Path

from sqs_blueprint import tracing
from sqs_blueprint.local.meter import WriteMeter
from sqs_blueprint.local.spans import SPANS_FILE, local_story, read_spans


def follow(
    logs: Path, redriven_key: str | None, ordered: str, meter: WriteMeter | None
) -> list[str]:
    """The lines of both stories: the redriven record's, and a FIFO update of the
    function ``ordered`` held back in its group (or, when none was held behind it, the
    malformed update that held its group)."""
    spans = read_spans(logs / SPANS_FILE)
    if not spans:
        return [f"Following a record: no spans collected ({tracing.INSTALL})"]
    lines = ["Following a record (sqs-blueprint trace ID --local <logs folder>):"]
    if redriven_key:
        lines += ["", "a redriven record, by its item key:"]
        lines += local_story(logs, redriven_key, meter).lines()
    of_ordered = [s for s in spans if (s.get("attributes") or {}).get(tracing.CONSUMER) == ordered]
    for outcome, title in (
        ("held", "a FIFO update held back in its group"),
        ("failed", "the FIFO update that held its group back"),
    ):
        found = [s for s in of_ordered if s["attributes"].get(tracing.OUTCOME) == outcome]
        if found:
            message_id = str(found[0]["attributes"][tracing.MESSAGE_ID])
            lines += ["", f"{title}, by its message id:"]
            return lines + local_story(logs, message_id, meter).lines()
    return lines
