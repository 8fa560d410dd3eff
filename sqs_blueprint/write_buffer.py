"""The write-buffer consumer, configured from the environment.

One configuration for every runtime that drains a write buffer: the Lambda
handlers, the EC2 worker's built-in handler and the local cloud. Variables:

- ``TABLE_NAME`` (required): the DynamoDB table, string partition key ``pk``;
- ``KEY_FIELDS``: the top-level fields that make the key (the whole body when
  unset), a JSON list of strings (``["account","region"]``), so any field name
  round-trips; a value not starting with ``[`` is read as comma-separated names,
  for environments set by hand;
- ``VERSION_FIELD``: versioned mode, keeping the item with the highest version
  (an equal version is a no-op; needs ``KEY_FIELDS`` without the version field,
  see :mod:`sqs_blueprint.versioning`);
- ``PAYLOAD_BUCKET``: the buckets S3 pointers may name, comma-separated (none
  when unset, so every pointer is refused);
- ``WCU_PER_SECOND``: this consumer's share of the table's write capacity;
- ``MAX_ITEM_KB``: the largest item written (DynamoDB's 400 KB when unset); a larger
  one fails its record. The constructs set it so that a full batch of such items
  fits in one invocation's write budget;
- ``WRITE_DEADLINE_S``: how long one batch may keep retrying (default 20 s);
- ``MAX_PAYLOAD_BYTES``: the largest S3 payload read (default 4 MiB, ten times
  the largest item DynamoDB stores); a larger object fails its record unread;
- ``RETRY_BASE_S`` and ``RETRY_MAX_S``: a failed record's retry backoff (default
  60 s doubling per receive, at most 900 s; the cap at most 43,200 s, see
  :mod:`sqs_blueprint.backoff`).

:meth:`WriteBufferSettings.to_env` writes these variables: the constructs set a
function's environment with it, so the names live here only.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqs_blueprint import tracing
from sqs_blueprint.backoff import (
    DEFAULT_BACKOFF,
    DEFAULT_BASE_S,
    DEFAULT_MAX_S,
    Backoff,
    BackoffError,
)
from sqs_blueprint.errors import SqsBlueprintError, UsageError
from sqs_blueprint.limits import SQS_MAX_VISIBILITY_TIMEOUT_S
from sqs_blueprint.payload import PayloadStore
from sqs_blueprint.records import Record
from sqs_blueprint.s3_events import S3EventResolver
from sqs_blueprint.upsert import (
    KEY_ATTRIBUTE,
    MAX_ITEM_BYTES,
    BatchOutcome,
    Upserter,
    write_records,
)
from sqs_blueprint.versioning import VERSIONED_KEY_RULE, versioned_key_ok

DEFAULT_DEADLINE_S = 20.0
DEFAULT_MAX_PAYLOAD_BYTES = 10 * MAX_ITEM_BYTES  # a larger body cannot become an item
# A Lambda handler stops retrying this long before its function times out, so
# its partial batch response is still sent.
RESPONSE_MARGIN_S = 2.0


class SettingsError(UsageError):
    """The environment does not describe a usable write buffer."""


class RecordFailed(SqsBlueprintError):
    """A record could not be written; it returns to the queue (on a FIFO queue, with
    the rest of its message group). The message is the reason."""


FIELD_NAME_RULE = (
    f"each names a top-level body field: not empty, without surrounding spaces, and not "
    f"{KEY_ATTRIBUTE!r}, the table's partition key, which a body may not carry (every "
    "record would be refused)"
)
FIELD_NAME_FIX = "name the body fields, e.g. ['order_id'], and rename a body field called 'pk'"


def field_name_ok(name: object) -> bool:
    """Whether ``name`` may be a key field or the version field (:data:`FIELD_NAME_RULE`)."""
    return isinstance(name, str) and bool(name) and name == name.strip() and name != KEY_ATTRIBUTE


def key_fields_text(key_fields: Sequence[str]) -> str:
    """``KEY_FIELDS`` as :meth:`WriteBufferSettings.from_env` reads it: a compact JSON list,
    so a name holding a comma or any other character comes back whole."""
    return json.dumps(list(key_fields), ensure_ascii=False, separators=(",", ":"))


def number_text(value: float) -> str:
    """``value`` as an environment value that reads back exactly: ``:g`` when that is
    exact (``24``, ``2.5``), else the shortest exact form (``1234.567``)."""
    text = f"{value:g}"
    return text if float(text) == value else repr(value)


def time_left_s(remaining_ms: int) -> float:
    """How long a Lambda invocation with ``remaining_ms`` left may keep retrying writes."""
    return remaining_ms / 1000 - RESPONSE_MARGIN_S


def wcu_text(wcu_per_second: float) -> str:
    """A write budget as an environment value that reads back exactly, so never above the
    budget: ``:g`` keeps six significant digits, so 1234.567 would become 1234.57."""
    return number_text(wcu_per_second)


@dataclass(frozen=True)
class WriteBufferSettings:
    table_name: str
    key_fields: tuple[str, ...] | None = None
    version_field: str | None = None
    payload_buckets: tuple[str, ...] = ()
    # Buckets whose S3 notifications the pipeline reads objects from (sqs_blueprint.s3_events).
    input_buckets: tuple[str, ...] = ()
    wcu_per_second: float | None = None
    deadline_s: float = DEFAULT_DEADLINE_S
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    retry: Backoff = DEFAULT_BACKOFF
    max_item_kb: float | None = None

    def __post_init__(self) -> None:
        """Refuse what :meth:`to_env` could not carry or the write path would refuse; no
        key fields is None, as :meth:`from_env` reads it."""
        object.__setattr__(self, "key_fields", tuple(self.key_fields or ()) or None)
        problems = [
            f"{name}={value!r}: {rule}" for name, value, ok, rule in self._checks() if not ok
        ]
        if problems:
            raise SettingsError("; ".join(problems))

    def _checks(self) -> list[tuple[str, object, bool, str]]:
        positive = "must be a finite number greater than 0"
        wcu = self.wcu_per_second
        return [
            (
                "table_name",
                self.table_name,
                bool(self.table_name) and self.table_name == self.table_name.strip(),
                "must name a table, without surrounding spaces",
            ),
            (
                "key_fields",
                self.key_fields,
                self.key_fields is None or all(field_name_ok(f) for f in self.key_fields),
                FIELD_NAME_RULE,
            ),
            (
                "version_field",
                self.version_field,
                self.version_field is None or field_name_ok(self.version_field),
                FIELD_NAME_RULE,
            ),
            (
                "payload_buckets",
                self.payload_buckets,
                all(
                    b and not any(c.isspace() or c == "," for c in b) for b in self.payload_buckets
                ),
                "bucket names are not empty and hold no ',' or spaces",
            ),
            (
                "key_fields",
                self.key_fields,
                versioned_key_ok(self.key_fields, self.version_field),
                f"with version_field={self.version_field!r}: {VERSIONED_KEY_RULE}",
            ),
            ("wcu_per_second", wcu, wcu is None or (math.isfinite(wcu) and wcu > 0), positive),
            (
                "deadline_s",
                self.deadline_s,
                math.isfinite(self.deadline_s) and self.deadline_s > 0,
                positive,
            ),
            (
                "max_payload_bytes",
                self.max_payload_bytes,
                isinstance(self.max_payload_bytes, int) and self.max_payload_bytes > 0,
                "must be a whole number of bytes greater than 0",
            ),
        ]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WriteBufferSettings:
        env = os.environ if env is None else env
        table = env.get("TABLE_NAME", "").strip()
        if not table:
            raise SettingsError("TABLE_NAME is not set: name the DynamoDB table to write to")
        key_fields = _key_fields(env)
        version_field = env.get("VERSION_FIELD", "").strip() or None
        if not versioned_key_ok(key_fields, version_field):
            raise SettingsError(
                f"KEY_FIELDS={env.get('KEY_FIELDS', '')!r} with VERSION_FIELD={version_field!r}: "
                f"{VERSIONED_KEY_RULE}. Fix: set KEY_FIELDS to the fields that identify the "
                "entity, e.g. KEY_FIELDS=account."
            )
        max_payload = _positive(env, "MAX_PAYLOAD_BYTES") or DEFAULT_MAX_PAYLOAD_BYTES
        if not float(max_payload).is_integer():
            raise SettingsError(
                f"MAX_PAYLOAD_BYTES={max_payload!r}: must be a whole number of bytes"
            )
        return cls(
            table_name=table,
            key_fields=key_fields or None,
            version_field=version_field,
            payload_buckets=_names(env, "PAYLOAD_BUCKET"),
            input_buckets=_names(env, "INPUT_BUCKETS"),
            wcu_per_second=_positive(env, "WCU_PER_SECOND"),
            deadline_s=_positive(env, "WRITE_DEADLINE_S") or DEFAULT_DEADLINE_S,
            max_payload_bytes=int(max_payload),
            retry=_backoff(env),
            max_item_kb=_positive(env, "MAX_ITEM_KB"),
        )

    def to_env(self) -> dict[str, str]:
        """The environment :meth:`from_env` reads these settings from, as the constructs
        set it on a function: the table and the deadline always, the rest when set or
        not the default."""
        env = {"TABLE_NAME": self.table_name}
        if self.wcu_per_second is not None:
            env["WCU_PER_SECOND"] = wcu_text(self.wcu_per_second)
        env["WRITE_DEADLINE_S"] = number_text(self.deadline_s)
        if self.key_fields:
            env["KEY_FIELDS"] = key_fields_text(self.key_fields)
        if self.version_field:
            env["VERSION_FIELD"] = self.version_field
        if self.payload_buckets:
            env["PAYLOAD_BUCKET"] = ",".join(self.payload_buckets)
        if self.input_buckets:
            env["INPUT_BUCKETS"] = ",".join(self.input_buckets)
        if self.max_payload_bytes != DEFAULT_MAX_PAYLOAD_BYTES:
            env["MAX_PAYLOAD_BYTES"] = str(self.max_payload_bytes)
        if self.max_item_kb is not None:
            env["MAX_ITEM_KB"] = f"{self.max_item_kb:g}"
        if self.retry != DEFAULT_BACKOFF:
            env["RETRY_BASE_S"] = number_text(self.retry.base_s)
            env["RETRY_MAX_S"] = number_text(self.retry.max_s)
        return env


def _backoff(env: Mapping[str, str]) -> Backoff:
    base = _positive(env, "RETRY_BASE_S") or DEFAULT_BASE_S
    cap = _positive(env, "RETRY_MAX_S") or DEFAULT_MAX_S
    try:
        return Backoff(base, cap)
    except BackoffError as error:
        raise SettingsError(
            f"RETRY_BASE_S={base:g}, RETRY_MAX_S={cap:g}: {error}; set RETRY_MAX_S between "
            f"RETRY_BASE_S and {SQS_MAX_VISIBILITY_TIMEOUT_S}"
        ) from None


def _bytes(kb: float | None) -> int | None:
    return None if kb is None else int(kb * 1024)


def _key_fields(env: Mapping[str, str]) -> tuple[str, ...]:
    """``KEY_FIELDS``: a JSON list of strings as :meth:`WriteBufferSettings.to_env` writes
    it, or comma-separated names when it does not start with ``[``."""
    raw = env.get("KEY_FIELDS", "")
    if not raw.lstrip().startswith("["):
        return _names(env, "KEY_FIELDS")
    try:
        fields = json.loads(raw)
    except ValueError:
        fields = None
    if not (isinstance(fields, list) and all(isinstance(f, str) for f in fields)):
        raise SettingsError(
            f"KEY_FIELDS={raw!r}: must be a JSON list of field names, e.g. "
            '["account"], or comma-separated names'
        )
    return tuple(fields)


def _names(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in env.get(name, "").split(",") if part.strip())


def _positive(env: Mapping[str, str], name: str) -> float | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise SettingsError(f"{name}={raw!r}: must be a number greater than 0")
    return value


class WriteBuffer:
    """Turns records into idempotent upserts; clients are created once and reused."""

    def __init__(
        self,
        settings: WriteBufferSettings,
        *,
        dynamodb_client: Any = None,
        s3_client: Any = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        # Without PAYLOAD_BUCKET no pointer is trusted: it fails as BucketNotAllowed.
        buckets = settings.payload_buckets
        self.payloads = PayloadStore(
            buckets[0] if buckets else None,
            s3_client=s3_client,
            allowed_buckets=buckets,
            max_payload_bytes=settings.max_payload_bytes,
        )
        # What builds records: pointers through ``payloads``, S3 notifications' objects
        # from the input buckets.
        self.resolver = S3EventResolver(
            self.payloads,
            buckets=settings.input_buckets,
            s3_client=s3_client,
            max_payload_bytes=settings.max_payload_bytes,
        )
        self._clock, self._sleep = clock, sleep
        self._dynamodb = dynamodb_client
        # Who consumes, as the record spans name it: the function, or the worker's name.
        self.consumer = os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or "consumer"
        self._upserter: Upserter | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **clients: Any) -> WriteBuffer:
        return cls(WriteBufferSettings.from_env(env), **clients)

    def upserter(self, deadline_s: float | None = None) -> Upserter:
        """An upserter whose retries end within ``deadline_s`` (the batch's time left)."""
        limit = self.settings.deadline_s if deadline_s is None else deadline_s
        if self._upserter is None:
            self._upserter = Upserter(
                self.settings.table_name,
                dynamodb_client=self._dynamodb,
                wcu_per_second=self.settings.wcu_per_second,
                deadline_seconds=limit,
                max_item_bytes=_bytes(self.settings.max_item_kb),
                clock=self._clock,
                sleep=self._sleep,
            )
        self._upserter.deadline_seconds = max(0.0, min(limit, self.settings.deadline_s))
        return self._upserter

    def process(
        self, records: Sequence[Record], *, deadline_s: float | None = None
    ) -> BatchOutcome:
        """Write the records' items; failures are per record, by message id. With tracing
        on, one span a record and one for the write, linked to them (:mod:`tracing`)."""
        if not tracing.enabled():
            return self._write(records, deadline_s)
        spans = [tracing.start_record(r.attributes, r.message_id, self.consumer) for r in records]
        write = tracing.start_write(self.settings.table_name, spans)
        outcome = self._write(records, deadline_s)
        for record, span in zip(records, spans, strict=True):
            if span is not None:
                span.end(**record_attributes(outcome, record.message_id))
        if write is not None:
            charged = sum(wcu for _, wcu in outcome.settled.values())
            write.end(**{tracing.WCU: charged, "sqs_blueprint.written": outcome.written})
        return outcome

    def _write(self, records: Sequence[Record], deadline_s: float | None) -> BatchOutcome:
        return write_records(
            records,
            upserter=self.upserter(deadline_s),
            key_fields=self.settings.key_fields,
            version_field=self.settings.version_field,
        )


def record_attributes(outcome: BatchOutcome, message_id: str) -> dict[str, Any]:
    """A record's span attributes from its batch's outcome: what became of it, its key,
    the WCU it was charged, and why it failed."""
    failed = outcome.failed.get(message_id)
    settled, wcu = outcome.settled.get(message_id, ("failed", 0))
    return {
        tracing.OUTCOME: "failed" if failed is not None else settled,
        tracing.REASON: failed,
        tracing.ITEM_KEY: outcome.keys.get(message_id),
        tracing.WCU: wcu,
        tracing.VERSION: tracing.number(outcome.versions.get(message_id)),
    }
