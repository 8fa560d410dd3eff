"""``sqs-blueprint trace`` against AWS: X-Ray for the spans, CloudWatch Logs Insights
for the log lines, and a plain account of what neither could show.

1. Logs Insights, over the stage's log groups, finds every line naming the id
   (the handlers' lines carry ``correlation_id``, the message id, and
   ``trace_id``); their trace ids lead to X-Ray.
2. A trace id given, or found in the logs, is read with ``BatchGetTraces``; with
   none, ``GetTraceSummaries`` looks the id up among the indexed annotations.
3. Each segment and subsegment is read into the span shape of
   :mod:`sqs_blueprint.trace_story` (its attributes from the annotations and the
   ``default`` metadata, where the X-Ray exporter puts them), which tells the story.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqs_blueprint import tracing
from sqs_blueprint.errors import UsageError
from sqs_blueprint.trace_story import Step, Story, otel_trace_id, story

_IDENT = re.compile(r"^[A-Za-z0-9._:/-]{1,512}$")
QUERY = (
    'fields @timestamp, @log, @message | filter @message like "{ident}" '
    "| sort @timestamp asc | limit 1000"
)
SUMMARY_FILTER = (
    'annotation.messaging_message_id = "{ident}" OR annotation.sqs_blueprint_item_key = "{ident}"'
)
DONE = {"Complete", "Failed", "Cancelled", "Timeout", "Unknown"}
NOT_RECORDED = (
    "moves to a DLQ: SQS records none; a receive count that reached the queue's "
    "maxReceiveCount is the sign of one"
)


def check_ident(ident: str) -> str:
    if not _IDENT.match(ident):
        raise UsageError(
            f"trace id {ident!r}: give a message id, a trace id (1-…) or an item key "
            "(letters, digits and . _ : / - only)"
        )
    return ident


def aws_story(
    ident: str,
    *,
    log_groups: Sequence[str],
    since_s: float,
    logs_client: Any,
    xray_client: Any,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    wait_s: float = 60.0,
) -> Story:
    """The life of the record ``ident`` names, from the logs and X-Ray of one stage."""
    check_ident(ident)
    now = clock()
    found = Story(ident)
    window = (now - since_s, now)
    lines = _insights(ident, log_groups, window, logs_client, (clock, sleep, wait_s), found)
    named = [ident] + [str(line.get("trace_id") or "") for line in lines]
    ids = [t for t in map(otel_trace_id, named) if t]
    if not ids:
        ids = _summaries(ident, window, xray_client)
    ids = sorted(set(ids))
    spans = list(_traces(ids, xray_client, found)) if ids else []
    steps = story(spans, ident).steps or [
        step for trace_id in ids for step in story(spans, trace_id).steps
    ]
    found.trace_ids = ids
    found.steps = sorted(steps + [_log_step(line) for line in lines], key=lambda s: s.at)
    if not spans:
        found.unseen.append(
            "X-Ray has no trace of it (tracing off for the stage, not sampled, or older "
            "than X-Ray's 30 days)"
        )
    found.unseen.append(NOT_RECORDED)
    return found


def _insights(
    ident: str,
    log_groups: Sequence[str],
    window: tuple[float, float],
    logs: Any,
    waiting: tuple[Callable[[], float], Callable[[float], None], float],
    found: Story,
) -> list[dict[str, Any]]:
    """The JSON log lines naming ``ident``, each with its log group as ``@log``."""
    (start, end), (clock, sleep, wait_s) = window, waiting
    if not log_groups:
        found.unseen.append("the function logs: no log group found for the stage")
        return []
    query = logs.start_query(
        logGroupNames=list(log_groups)[:50],
        startTime=int(start),
        endTime=int(end),
        queryString=QUERY.format(ident=ident),
    )["queryId"]
    deadline = clock() + wait_s
    while True:
        result = logs.get_query_results(queryId=query)
        if result["status"] in DONE or clock() >= deadline:
            break
        sleep(1.0)
    if result["status"] != "Complete":
        found.unseen.append(f"the function logs: the Logs Insights query ended {result['status']}")
    return [line for row in result.get("results", []) if (line := _line(row))]


def _line(row: Sequence[Mapping[str, str]]) -> dict[str, Any] | None:
    fields = {f["field"]: f["value"] for f in row}
    try:
        line = json.loads(fields.get("@message", ""))
    except ValueError:
        return None
    if not isinstance(line, dict):
        return None
    line["@log"] = fields.get("@log", "")
    line["@timestamp"] = fields.get("@timestamp", "")
    return line


def _log_step(line: Mapping[str, Any]) -> Step:
    stamp = str(line.get("@timestamp", "")).replace(" ", "T")
    try:
        at = datetime.fromisoformat(stamp).replace(tzinfo=UTC).timestamp()
    except ValueError:
        at = 0.0
    source = str(line.get("@log", "")).rsplit("/", 1)[-1] or str(line.get("service", ""))
    detail = [f"{k} {line[k]}" for k in ("receive_count", "outcome", "reason") if line.get(k)]
    text = f"{source}: {line.get('message')}" + (f" ({', '.join(detail)})" if detail else "")
    return Step(at, "log", text)


def _summaries(ident: str, window: tuple[float, float], xray: Any) -> list[str]:
    start, end = window
    response = xray.get_trace_summaries(
        StartTime=datetime.fromtimestamp(start, tz=UTC),
        EndTime=datetime.fromtimestamp(end, tz=UTC),
        FilterExpression=SUMMARY_FILTER.format(ident=ident),
    )
    ids = [otel_trace_id(s["Id"]) for s in response.get("TraceSummaries", [])]
    return [i for i in ids if i]


def _traces(ids: Sequence[str], xray: Any, found: Story) -> Iterator[dict[str, Any]]:
    for start in range(0, len(ids), 5):  # BatchGetTraces takes 5 trace ids a call
        chunk = [tracing.xray_id(i) for i in ids[start : start + 5]]
        response = xray.batch_get_traces(TraceIds=chunk)
        for missing in response.get("UnprocessedTraceIds", []):
            found.unseen.append(f"X-Ray did not return trace {missing}")
        for trace in response.get("Traces", []):
            for segment in trace.get("Segments", []):
                yield from _spans(json.loads(segment["Document"]))


def _spans(doc: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """A segment (and its subsegments) in the span shape of the local collector."""
    given = {**(doc.get("metadata") or {}).get("default", {}), **(doc.get("annotations") or {})}
    attributes = {_attribute_name(k): v for k, v in given.items()}
    yield {
        "name": _name(doc, attributes),
        "trace_id": otel_trace_id(doc.get("trace_id", "")) or "",
        "span_id": doc.get("id"),
        "parent_id": doc.get("parent_id"),
        "start": float(doc.get("start_time", 0.0)),
        "end": float(doc.get("end_time", doc.get("start_time", 0.0))),
        "attributes": attributes,
        "links": [{"span_id": link.get("id")} for link in doc.get("links", [])],
    }
    for sub in doc.get("subsegments", []):
        yield from _spans({"trace_id": doc.get("trace_id"), **sub})


_KNOWN = {
    name.replace(".", "_"): name
    for name in vars(tracing).values()
    if isinstance(name, str) and name.startswith(("sqs_blueprint.", "messaging."))
}


def _attribute_name(key: str) -> str:
    """An attribute's OpenTelemetry name (X-Ray annotations replace dots with ``_``)."""
    return _KNOWN.get(key.replace(".", "_"), key)


def _name(doc: Mapping[str, Any], attributes: Mapping[str, Any]) -> str:
    """The collector's span name for a segment: what it is, by its attributes."""
    name = str(doc.get("name", ""))
    if name in ("dead-lettered", "redriven"):
        return name
    if attributes.get(tracing.CONSUMER):
        return f"{attributes[tracing.CONSUMER]} process"
    if attributes.get(tracing.TABLE):
        return f"{attributes[tracing.TABLE]} write"
    if attributes.get(tracing.DESTINATION) and tracing.OFFLOADED in attributes:
        return f"{name} send"
    return name
