"""A long-poll SQS worker for EC2 (or any host that runs a process for long).

The worker long-polls one queue, builds a :class:`~sqs_blueprint.records.Record`
for each message (S3 pointers resolved) and hands the records to a pool of
threads that run the handler (:mod:`.handlers`: a record handler, or a batch
handler marked with :func:`batch_handler`). Record handlers get one record per
task; batch handlers, and every handler on a FIFO queue, get the whole received
batch in order.

The package: :mod:`.consumer` (the :class:`Worker`: receiving, processing,
draining), :mod:`.inflight` (the messages it answers for and the SQS calls on
them), :mod:`.handlers` (handler kinds and loading one by name), :mod:`.logs`
(JSON log lines).

What becomes of a message:

- success: deleted with DeleteMessageBatch, ten at a time (docs/aws-facts.md#sqs-limits);
- failure (the handler raised anything, even ``SystemExit``, or the record
  could not be built): its visibility is set to the retry backoff's delay
  (:mod:`sqs_blueprint.backoff`: exponential in its receive count, full jitter;
  on FIFO for each group's first failure only), so it comes back then and, past
  the queue's maxReceiveCount, moves to the DLQ. Without a backoff, or if the
  change fails, it is left as it is and comes back when its visibility timeout
  ends. A failure is its record's alone: the rest of the receive is processed;
- FIFO: a failure holds back the later records of its own message group only
  (they are not run and come back with it); other groups are processed, as
  Powertools' ``SqsFifoPartialProcessor(skip_group_on_error=True)`` does;
- still running or waiting to be deleted when half of its visibility timeout
  is left: extended by another timeout (ChangeMessageVisibilityBatch), so a
  long job is not handed to a second worker. A transient refusal (an SQS
  server error or throttling) is asked again at the next heartbeat, and so is
  a delete refused that way;
- :meth:`Worker.stop` (SIGTERM, SIGINT): no more receives (a long poll is cut
  short within a second, :mod:`.polling`); messages not yet started are given
  back at once (visibility 0); running ones get until the drain deadline to
  finish; any still running then are given back too. Once a message is given
  back no record of it starts: a FIFO batch stops at the record running, and
  another worker takes the group from its start. A second ``stop`` ends the
  drain at once.

The package also holds :mod:`.polling` (one receive in 1 s long polls) and
:mod:`.tasks` (a task's FIFO groups and failures).
"""

from __future__ import annotations

from sqs_blueprint.worker.consumer import Worker
from sqs_blueprint.worker.handlers import (
    BUILTIN_HANDLERS,
    BatchHandler,
    RecordHandler,
    batch_handler,
    is_batch_handler,
    load_handler,
    per_record,
    write_buffer_handler,
)
from sqs_blueprint.worker.inflight import Message, WorkerStats
from sqs_blueprint.worker.logs import SERVICE, log, log_json

__all__ = [
    "BUILTIN_HANDLERS",
    "SERVICE",
    "BatchHandler",
    "Message",
    "RecordHandler",
    "Worker",
    "WorkerStats",
    "batch_handler",
    "is_batch_handler",
    "load_handler",
    "log",
    "log_json",
    "per_record",
    "write_buffer_handler",
]
