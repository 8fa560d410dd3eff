"""Following one record from its producer to DynamoDB: the one module that touches
OpenTelemetry.

SQS carries a trace context on each message in its ``AWSTraceHeader`` system
attribute, in X-Ray's format (docs/aws-facts.md#tracing): it does not count toward
the message's size or its ten attributes, and Lambda hands it on in the record's
``attributes``. The producer puts it there (:func:`start_send`), every consumer
starts one span per record as a child of it, linked to it too
(:func:`start_record`), and the write that stores a batch is one span linked to
every record it carries (:func:`start_write`). A record that fails, is
dead-lettered and redriven keeps its header, so its whole life is one trace id.

``SQS_BLUEPRINT_TRACING`` (``on`` or ``off``, off when unset) switches it. Off, no
OpenTelemetry module is imported and every function here returns ``None`` at once.
On, only the OpenTelemetry API and the AWS X-Ray propagator are used: the tracer
provider and its exporter are the environment's (the ADOT Lambda layer in AWS);
the local cloud alone installs one, writing JSON lines to a file
(:func:`collect_to`). On without those packages fails at the first use with one
line saying what to install.

:func:`trace_id_of` reads a header's trace id without OpenTelemetry, so log lines
carry it whether tracing is on or not.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqs_blueprint.errors import UsageError

SETTING = "SQS_BLUEPRINT_TRACING"
HEADER = "AWSTraceHeader"
INSTALL = (
    "pip install 'sqs-blueprint[tracing]' (opentelemetry-api, opentelemetry-propagator-aws-xray)"
)
SCOPE = "sqs_blueprint"

# Span attributes, one name each.
MESSAGE_ID = "messaging.message.id"
DESTINATION = "messaging.destination.name"
CONSUMER = "sqs_blueprint.consumer"
RECEIVE_COUNT = "sqs_blueprint.receive_count"
OUTCOME = "sqs_blueprint.outcome"
REASON = "sqs_blueprint.reason"
ITEM_KEY = "sqs_blueprint.item_key"
WCU = "sqs_blueprint.wcu"
VERSION = "sqs_blueprint.version"
TABLE = "sqs_blueprint.table"
OFFLOADED = "sqs_blueprint.offloaded"
GROUP = "sqs_blueprint.group"


class TracingError(UsageError):
    """``SQS_BLUEPRINT_TRACING`` is not ``on``/``off``, or on without its packages."""


def setting(env: Mapping[str, str] | None = None) -> bool:
    """Whether ``SQS_BLUEPRINT_TRACING`` turns tracing on (``on``/``off``, off when unset)."""
    raw = (os.environ if env is None else env).get(SETTING, "").strip().lower()
    if raw in ("", "off"):
        return False
    if raw == "on":
        return True
    raise TracingError(f"{SETTING}={raw!r}: must be 'on' or 'off'; set it to one of them")


def trace_id_of(header: str | None) -> str | None:
    """The X-Ray trace id (``1-5759e988-bd862e3fe1be46a994272793``) of an
    ``AWSTraceHeader`` value, or None. Standard library only."""
    for part in (header or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == "Root" and value:
            return value
    return None


def xray_id(otel_trace_id: str) -> str:
    """An OpenTelemetry trace id (32 hex digits) in X-Ray's form."""
    return f"1-{otel_trace_id[:8]}-{otel_trace_id[8:]}"


class _Otel:
    """What tracing on needs, loaded once: the API, the propagator, a tracer."""

    def __init__(self, provider: Any = None) -> None:
        try:
            from opentelemetry import context, trace
            from opentelemetry.propagators.aws import AwsXRayPropagator
        except ImportError as error:
            raise TracingError(
                f"{SETTING}=on but OpenTelemetry is not installed ({error}); {INSTALL}"
            ) from None
        self.trace, self.context = trace, context
        self.propagator = AwsXRayPropagator()
        self.provider = provider

    def tracer(self) -> Any:
        if self.provider is not None:
            return self.provider.get_tracer(SCOPE)
        return self.trace.get_tracer(SCOPE)

    def header(self, span: Any) -> str | None:
        carrier: dict[str, str] = {}
        self.propagator.inject(carrier, context=self.trace.set_span_in_context(span))
        return next(iter(carrier.values()), None)

    def parent(self, header: str | None) -> Any:
        """The context a header carries (None without a valid one)."""
        if not header:
            return None
        ctx = self.propagator.extract({"X-Amzn-Trace-Id": header})
        span_context = self.trace.get_current_span(ctx).get_span_context()
        return ctx if span_context.is_valid else None


_lock = threading.Lock()
_state: dict[str, Any] = {}  # "on": bool, "otel": _Otel | None


def enabled() -> bool:
    """Whether tracing is on in this process (read from the environment once)."""
    on = _state.get("on")
    if on is None:
        on = _state["on"] = setting()
    return bool(on)


def configure(on: bool | None = None, *, provider: Any = None) -> None:
    """Turn tracing on or off in this process (None: from the environment again), with
    ``provider`` as its tracer provider instead of the global one (tests, the local
    cloud). On checks the packages at once: a cold start fails here, not per record."""
    with _lock:
        _state.clear()
        _state["on"] = setting() if on is None else on
        if _state["on"]:
            _state["otel"] = _Otel(provider)


def _otel() -> _Otel:
    otel: _Otel | None = _state.get("otel")
    if otel is None:
        with _lock:
            otel = _state.get("otel") or _Otel()
            _state["otel"] = otel
    return otel


def check() -> None:
    """At cold start: with tracing on, fail now (one line) if its packages are missing."""
    if enabled():
        _otel()


class Span:
    """One started span; :meth:`end` sets its last attributes and ends it."""

    def __init__(self, otel: _Otel, span: Any) -> None:
        self._otel, self.span = otel, span
        self.header = otel.header(span)
        self.trace_id = trace_id_of(self.header)

    def set(self, **attributes: Any) -> None:
        for name, value in attributes.items():
            if value is not None:
                self.span.set_attribute(name, value)

    def end(self, **attributes: Any) -> None:
        self.set(**attributes)
        self.span.end()


def system_attributes(header: str | None) -> dict[str, Any]:
    """``MessageSystemAttributes`` carrying ``header`` (none without one)."""
    return {HEADER: {"DataType": "String", "StringValue": header}} if header else {}


def system_entry(span: Span | None) -> dict[str, Any]:
    """The ``MessageSystemAttributes`` of a send entry carrying ``span``'s context (none
    without one); not counted in the message's size (docs/aws-facts.md#tracing)."""
    header = span.header if span is not None else None
    return {"MessageSystemAttributes": system_attributes(header)} if header else {}


def number(value: Any) -> float | int | None:
    """A number as a span attribute (not a Decimal); None if it is none."""
    try:
        as_float = float(value)
    except (TypeError, ValueError):
        return None
    return int(as_float) if as_float.is_integer() else as_float


def _attrs(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attributes.items() if v is not None}


def start_send(queue: str, **attributes: Any) -> Span | None:
    """A producer span for one message to ``queue``, a child of the current context (a
    new trace when there is none); its ``header`` goes into ``AWSTraceHeader``."""
    if not enabled():
        return None
    otel = _otel()
    kind = otel.trace.SpanKind.PRODUCER
    name = f"{queue.rsplit('/', 1)[-1]} send"
    span = otel.tracer().start_span(
        name, kind=kind, attributes=_attrs({DESTINATION: queue, **attributes})
    )
    return Span(otel, span)


def start_record(
    system_attributes: Mapping[str, Any], message_id: str, consumer: str, **attributes: Any
) -> Span | None:
    """One consumer span for a received record: a child of its producer's context read
    from ``AWSTraceHeader`` (so the record keeps one trace id) and linked to it."""
    if not enabled():
        return None
    otel = _otel()
    parent = otel.parent(system_attributes.get(HEADER))
    links = []
    if parent is not None:
        links = [otel.trace.Link(otel.trace.get_current_span(parent).get_span_context())]
    receives = system_attributes.get("ApproximateReceiveCount")
    span = otel.tracer().start_span(
        f"{consumer} process",
        context=parent,
        kind=otel.trace.SpanKind.CONSUMER,
        links=links,
        attributes=_attrs(
            {
                MESSAGE_ID: message_id,
                CONSUMER: consumer,
                RECEIVE_COUNT: int(receives) if receives else None,
                **attributes,
            }
        ),
    )
    return Span(otel, span)


def settled(
    system_attributes: Mapping[str, Any], message_id: str, consumer: str, **attributes: Any
) -> None:
    """The span of a record settled before any work on it (its payload refused, held
    back in its group): started and ended at once."""
    span = start_record(system_attributes, message_id, consumer)
    if span is not None:
        span.end(**attributes)


def event(header: str | None, name: str, **attributes: Any) -> None:
    """A moment in a record's life (a redrive, say): an ended span in its trace."""
    if not enabled():
        return
    otel = _otel()
    span = otel.tracer().start_span(
        name, context=otel.parent(header), attributes=_attrs(attributes)
    )
    span.end()


def start_write(table: str, records: Sequence[Span | None]) -> Span | None:
    """The span of one write (BatchWriteItem or conditional puts), linked to every record
    span it carries."""
    if not enabled():
        return None
    otel = _otel()
    links = [otel.trace.Link(s.span.get_span_context()) for s in records if s is not None]
    span = otel.tracer().start_span(
        f"{table} write",
        kind=otel.trace.SpanKind.CLIENT,
        links=links,
        attributes={TABLE: table, "db.system": "dynamodb"},
    )
    return Span(otel, span)


# ---------------------------------------------------------------- the local collector


def collect_to(path: str | Path) -> None:
    """Tracing on in this process, its spans appended to ``path`` as JSON lines (the
    local cloud's collector; needs ``opentelemetry-sdk``). Every process of the local
    cloud appends to one file: each span is one ``write`` of one line."""
    try:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    except ImportError as error:
        raise TracingError(
            f"the local cloud collects spans with opentelemetry-sdk, not installed ({error}); "
            "pip install 'sqs-blueprint[tracing]'"
        ) from None
    provider = TracerProvider()
    exporter: Any = _JsonLines(Path(path))  # an SDK SpanExporter by its methods
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    configure(True, provider=provider)
    _state["path"] = Path(path)


def available() -> bool:
    """Whether this environment can collect spans locally (``opentelemetry-sdk`` and
    the propagator are installed)."""
    from importlib.util import find_spec

    try:
        return all(
            find_spec(name) is not None
            for name in ("opentelemetry.sdk.trace", "opentelemetry.propagators.aws")
        )
    except ImportError:  # the opentelemetry namespace itself is missing
        return False


def collector() -> Path | None:
    """The file this process's spans go to (:func:`collect_to`), if any."""
    path: Path | None = _state.get("path")
    return path


def note(path: Path, name: str, header: str | None, **attributes: Any) -> None:
    """A moment the local cloud itself sees (a move to a DLQ), written as a span line in
    the trace of ``header``; standard library only (the server needs no SDK for it)."""
    root, parent = trace_id_of(header), None
    for part in (header or "").split(";"):
        key, _, value = part.strip().partition("=")
        parent = value if key == "Parent" else parent
    now = time.time()
    append(
        path,
        {
            "name": name,
            "trace_id": root.replace("1-", "", 1).replace("-", "") if root else None,
            "span_id": secrets.token_hex(8),
            "parent_id": parent,
            "start": now,
            "end": now,
            "attributes": _attrs(attributes),
            "links": [],
        },
    )


class _JsonLines:
    """An SDK span exporter appending one JSON line a span."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        for span in spans:
            append(self.path, span_record(span))
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def span_record(span: Any) -> dict[str, Any]:
    """An SDK span as the local collector writes it."""
    ctx, parent = span.context, span.parent
    return {
        "name": span.name,
        "trace_id": f"{ctx.trace_id:032x}",
        "span_id": f"{ctx.span_id:016x}",
        "parent_id": f"{parent.span_id:016x}" if parent else None,
        "start": span.start_time / 1e9,
        "end": (span.end_time or span.start_time) / 1e9,
        "attributes": dict(span.attributes or {}),
        "links": [
            {"trace_id": f"{link.context.trace_id:032x}", "span_id": f"{link.context.span_id:016x}"}
            for link in span.links
        ],
    }


def append(path: Path, record: Mapping[str, Any]) -> None:
    """One JSON line appended with one ``write`` (O_APPEND), so processes do not interleave."""
    line = (json.dumps(record, default=str) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
