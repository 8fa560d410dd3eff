"""A record's life, told from its spans: what ``sqs-blueprint trace`` prints.

The spans come in one shape (the local collector's JSON lines,
:func:`sqs_blueprint.tracing.span_record`; X-Ray segments are read into it by
:mod:`sqs_blueprint.trace_aws`): ``name``, ``trace_id`` (32 hex digits),
``span_id``, ``parent_id``, ``start``/``end`` (epoch seconds), ``attributes`` and
``links``. :func:`story` picks the spans of one record, given its message id, its
trace id (X-Ray's ``1-…`` form or 32 hex digits) or its item's key, and tells them
in order: sent, each receive with its count, consumer and outcome, each move to a
DLQ, each redrive, and the write that stored it. Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqs_blueprint import tracing

Span = Mapping[str, Any]
_XRAY_ID = re.compile(r"^1-([0-9a-f]{8})-([0-9a-f]{24})$")
_HEX_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Step:
    """One moment of a record's life."""

    at: float  # epoch seconds
    kind: str  # sent, received, dead-lettered, redriven, written, log
    text: str
    data: Mapping[str, Any] = field(default_factory=dict)  # the span's attributes

    def line(self) -> str:
        stamp = datetime.fromtimestamp(self.at, tz=UTC).strftime("%H:%M:%S.%f")[:-3]
        return f"  {stamp}  {self.kind:<13} {self.text}"


@dataclass
class Story:
    """What was found for an id: its trace ids, its steps in order, and what could not
    be seen."""

    ident: str
    trace_ids: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    unseen: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        traces = ", ".join(tracing.xray_id(t) for t in self.trace_ids) or "none found"
        out = [f"{self.ident}: trace {traces}"]
        out += [step.line() for step in self.steps]
        out += [f"  not seen: {text}" for text in self.unseen]
        return out


def otel_trace_id(ident: str) -> str | None:
    """``ident`` as 32 hex digits if it is a trace id in either form, else None."""
    text = ident.strip().lower()
    found = _XRAY_ID.match(text)
    if found:
        return found.group(1) + found.group(2)
    return text if _HEX_ID.match(text) else None


def _attr(span: Span, name: str) -> Any:
    return (span.get("attributes") or {}).get(name)


def matching_traces(spans: Iterable[Span], ident: str) -> list[str]:
    """Trace ids of the spans that name ``ident`` as trace id, message id or item key."""
    wanted = otel_trace_id(ident)
    found: list[str] = []
    for span in spans:
        names = (_attr(span, tracing.MESSAGE_ID), _attr(span, tracing.ITEM_KEY))
        hit = span.get("trace_id") == wanted if wanted else ident in names
        if hit and span.get("trace_id") and span["trace_id"] not in found:
            found.append(span["trace_id"])
    return found


def story(spans: Sequence[Span], ident: str) -> Story:
    """The steps of every record that ``ident`` names, in time order."""
    result = Story(ident, matching_traces(spans, ident))
    traced = [s for s in spans if s.get("trace_id") in result.trace_ids]
    record_spans = {s["span_id"]: s for s in traced if s.get("span_id")}
    for span in traced:
        step = _step(span)
        if step is not None:
            result.steps.append(step)
    for span in spans:  # writes are their own traces, linked to the records they carry
        linked = [
            record_spans[k["span_id"]]
            for k in span.get("links", ())
            if k.get("span_id") in record_spans
        ]
        for record in linked:
            if _attr(record, tracing.OUTCOME) in ("written", "no-op", "duplicate"):
                result.steps.append(_write_step(span, record))
    result.steps.sort(key=lambda s: (s.at, _ORDER.get(s.kind, 9)))
    result.steps = _same_reason(result.steps)
    return result


def _same_reason(steps: list[Step]) -> list[Step]:
    """A receive failing for the reason the one before gave says so, not the reason again."""
    told: list[Step] = []
    last = None
    for step in steps:
        reason = step.data.get(tracing.REASON) if step.kind == "received" else None
        if reason and reason == last:
            step = Step(
                step.at,
                step.kind,
                step.text.replace(f": {reason}", " (the same reason)"),
                step.data,
            )
        last = reason if step.kind == "received" else last
        told.append(step)
    return told


_ORDER = {"sent": 0, "received": 1, "written": 2, "dead-lettered": 3, "redriven": 4}


def _step(span: Span) -> Step | None:
    step = _told(span)
    if step is None:
        return None
    return Step(step.at, step.kind, step.text, dict(span.get("attributes") or {}))


def _told(span: Span) -> Step | None:
    name, at = span.get("name", ""), float(span.get("start", 0.0))
    message = _attr(span, tracing.MESSAGE_ID)
    if name == "dead-lettered":
        return Step(
            at,
            "dead-lettered",
            f"message {message} moved to {_attr(span, tracing.DESTINATION)} after "
            f"{_attr(span, tracing.RECEIVE_COUNT)} receives",
        )
    if name == "redriven":
        return Step(
            at,
            "redriven",
            f"message {message} from {_queue(_attr(span, 'sqs_blueprint.source'))} to "
            f"{_queue(_attr(span, tracing.DESTINATION))} as message "
            f"{_attr(span, 'sqs_blueprint.new_message_id')}",
        )
    outcome = _attr(span, tracing.OUTCOME)
    if name.endswith(" send"):
        body = "body in S3" if _attr(span, tracing.OFFLOADED) else "body inline"
        return Step(
            at,
            "sent",
            f"message {message} to {_queue(_attr(span, tracing.DESTINATION))} ({body})"
            + (f": {outcome}, {_attr(span, tracing.REASON)}" if outcome == "failed" else ""),
        )
    if name.endswith(" process"):
        return Step(at, "received", _received(span, message, outcome))
    return None


def _received(span: Span, message: Any, outcome: Any) -> str:
    count = _attr(span, tracing.RECEIVE_COUNT)
    text = f"message {message} (receive {count}) by {_attr(span, tracing.CONSUMER)}: {outcome}"
    reason = _attr(span, tracing.REASON)
    if reason:
        text += f": {reason}"
    group = _attr(span, tracing.GROUP)
    if outcome == "held" and group:
        text += f" (group {group})"
    return text


def _write_step(write: Span, record: Span) -> Step:
    version = _attr(record, tracing.VERSION)
    text = (
        f"{_attr(record, tracing.OUTCOME)}: table {_attr(write, tracing.TABLE)}, key "
        f"{_attr(record, tracing.ITEM_KEY)}, {_attr(record, tracing.WCU)} WCU"
    )
    if version is not None:
        text += f", version {version}"
    data = {**(record.get("attributes") or {}), tracing.TABLE: _attr(write, tracing.TABLE)}
    return Step(float(write.get("end", write.get("start", 0.0))), "written", text, data)


def _queue(url: Any) -> str:
    return str(url).rsplit("/", 1)[-1] if url else "?"
