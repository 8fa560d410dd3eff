"""What the worker runs: record and batch handlers, and loading one by name.

Two kinds of handler, one interface:

- a record handler ``f(record) -> None`` raises to fail its record;
- a batch handler, marked with :func:`batch_handler`, takes a list of records
  and returns ``{message_id: reason}`` for the records that failed.

The worker always calls a batch function: a record handler is adapted by
:func:`per_record`.
"""

from __future__ import annotations

import importlib
import socket
from collections.abc import Callable, Mapping, Sequence

from sqs_blueprint.errors import SqsBlueprintError, UsageError
from sqs_blueprint.records import Record
from sqs_blueprint.worker.logs import log

RecordHandler = Callable[[Record], object]
BatchHandler = Callable[[Sequence[Record]], Mapping[str, str]]

_BATCH_MARK = "__sqs_blueprint_batch__"
SKIPPED = "not processed: an earlier record of its FIFO message group failed"
NOT_STARTED = "not started: its batch was given back (a stop or the drain deadline)"


def batch_handler(fn: BatchHandler) -> BatchHandler:
    """Mark ``fn`` as a batch handler: records in, ``{message_id: reason}`` of failures out."""
    setattr(fn, _BATCH_MARK, True)
    return fn


def is_batch_handler(fn: object) -> bool:
    return bool(getattr(fn, _BATCH_MARK, False))


def reason(error: BaseException) -> str:
    """A failure's reason as the worker logs and returns it: ``Type: message``."""
    return f"{type(error).__name__}: {error}"


def per_record(
    handler: RecordHandler,
    *,
    fifo: bool = False,
    may_start: Callable[[Record], bool] | None = None,
) -> BatchHandler:
    """A batch handler calling ``handler`` on each record; any raise fails that record.

    With ``fifo``, a failure also fails the later records of its message group
    without running them; other groups go on. ``may_start`` is asked before
    each record: once it says no (the batch was given back), no later record
    of the batch starts either; they fail with :data:`NOT_STARTED`.
    """

    def run(records: Sequence[Record]) -> dict[str, str]:
        failed: dict[str, str] = {}
        failed_groups: set[str | None] = set()
        for n, record in enumerate(records):
            if may_start is not None and not may_start(record):
                failed.update((r.message_id, NOT_STARTED) for r in records[n:])
                break
            if fifo and record.group_id in failed_groups:
                failed[record.message_id] = SKIPPED
                continue
            try:
                handler(record)
            except BaseException as error:  # SystemExit too: it fails the record, not the worker
                log.exception("handler raised", extra={"correlation_id": record.message_id})
                failed[record.message_id] = reason(error)
                failed_groups.add(record.group_id)
        return failed

    return run


def write_buffer_handler() -> BatchHandler:
    """The write buffer as a batch handler, configured like the Lambda (``TABLE_NAME``, ...).

    The records arrive resolved by the worker; the upserts are the shared core's.
    If a batch raises, each record is written on its own, so an error tied to
    one record fails that record only (upserts are idempotent: a record written
    before the raise is written again to the same item).
    """
    from sqs_blueprint.write_buffer import WriteBuffer

    buffer = WriteBuffer.from_env()
    buffer.consumer = f"worker {socket.gethostname()}"  # as its record spans name it

    @batch_handler
    def write(records: Sequence[Record]) -> Mapping[str, str]:
        try:
            return buffer.process(records).failed
        except Exception:
            if len(records) == 1:
                raise
            log.exception("write-buffer batch raised; writing its records one by one")
        failed: dict[str, str] = {}
        for record in records:
            try:
                failed.update(buffer.process([record]).failed)
            except Exception as error:
                log.exception("record not written", extra={"correlation_id": record.message_id})
                failed[record.message_id] = reason(error)
        return failed

    return write


BUILTIN_HANDLERS: Mapping[str, Callable[[], BatchHandler]] = {
    "builtin:write-buffer": write_buffer_handler,
}


def load_handler(spec: str) -> RecordHandler | BatchHandler:
    """The handler named ``module:function``, or a built-in (``builtin:write-buffer``)."""
    if spec in BUILTIN_HANDLERS:
        return BUILTIN_HANDLERS[spec]()
    module_name, _, name = spec.partition(":")
    if not module_name or not name:
        raise UsageError(
            f"handler {spec!r} is not of the form module:function "
            f"(or one of {sorted(BUILTIN_HANDLERS)})"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise UsageError(
            f"handler {spec!r}: cannot import module {module_name!r} ({error}); "
            "is it installed or on PYTHONPATH?"
        ) from error
    except SyntaxError as error:
        raise UsageError(
            f"handler {spec!r}: {error.filename}, line {error.lineno}: {error.msg}; fix the module"
        ) from error
    except Exception as error:  # the module raised at import: a failure at run time
        raise SqsBlueprintError(
            f"handler {spec!r}: importing module {module_name!r} raised "
            f"{reason(error)}; fix the module"
        ) from error
    fn = getattr(module, name, None)
    if not callable(fn):
        raise UsageError(f"handler {spec!r}: module {module_name!r} has no function {name!r}")
    handler: RecordHandler | BatchHandler = fn
    return handler
