"""``sqs-blueprint worker``: long-poll a queue and run a handler on each record."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from typing import Any

from sqs_blueprint.backoff import DEFAULT_BASE_S, DEFAULT_MAX_S
from sqs_blueprint.cli._parsing import Subparsers, int_in, seconds
from sqs_blueprint.limits import (
    SQS_BATCH_MAX_ENTRIES,
    SQS_MAX_VISIBILITY_TIMEOUT_S,
    SQS_MAX_WAIT_TIME_S,
)


def add(sub: Subparsers) -> None:
    p = sub.add_parser("worker", help="long-poll a queue and run a handler on each record")
    p.add_argument("--queue-url", required=True, help="queue to consume")
    p.add_argument(
        "--handler",
        required=True,
        help="module:function taking one record (raise to fail it; the current folder is "
        "searched first), or builtin:write-buffer (TABLE_NAME, KEY_FIELDS, ... from the "
        "environment)",
    )
    p.add_argument("--concurrency", type=int_in(1, None), default=4, help="handler threads")
    p.add_argument(
        "--visibility-timeout",
        type=int_in(1, SQS_MAX_VISIBILITY_TIMEOUT_S, " s"),
        default=None,
        help="seconds; the queue's if unset",
    )
    p.add_argument(
        "--max-messages",
        type=int_in(1, SQS_BATCH_MAX_ENTRIES),
        default=SQS_BATCH_MAX_ENTRIES,
        help="per receive",
    )
    p.add_argument(
        "--wait",
        type=int_in(0, SQS_MAX_WAIT_TIME_S, " s"),
        default=SQS_MAX_WAIT_TIME_S,
        help="long-poll seconds",
    )
    p.add_argument(
        "--drain-timeout", type=seconds(positive=False), default=30.0, help="seconds to finish"
    )
    p.add_argument(
        "--payload-bucket",
        default=None,
        help="the only bucket S3 pointers may name (default: $PAYLOAD_BUCKET)",
    )
    p.add_argument(
        "--retry-base",
        type=seconds(positive=True),
        default=None,
        help=f"seconds (default {DEFAULT_BASE_S:g}); a failed record's retry delay is drawn "
        "up to this, doubled per receive",
    )
    p.add_argument(
        "--retry-max",
        type=seconds(positive=True),
        default=None,
        help=f"seconds (default {DEFAULT_MAX_S:g}, at most {SQS_MAX_VISIBILITY_TIMEOUT_S}); "
        "the longest retry delay",
    )
    p.add_argument(
        "--no-retry-backoff",
        action="store_true",
        help="leave a failed record to come back after its visibility timeout",
    )
    p.set_defaults(func=_run)


def _load_handler(spec: str) -> Any:
    """The worker's handler; modules in the current folder are found, as with `python -m`."""
    from sqs_blueprint.worker import load_handler

    if os.getcwd() not in sys.path:  # like `python -m`: modules in the current folder
        sys.path.insert(0, os.getcwd())
    return load_handler(spec)


def _run(args: argparse.Namespace) -> int:
    import boto3

    from sqs_blueprint.backoff import Backoff
    from sqs_blueprint.worker import Worker, log_json
    from sqs_blueprint.worker.heartbeat import Heartbeat

    given = {"base_s": args.retry_base, "max_s": args.retry_max}
    backoff = Backoff(**{k: v for k, v in given.items() if v is not None})
    handler = _load_handler(args.handler)
    # Fail now, in one line, on a missing queue, no region or no credentials.
    boto3.client("sqs").get_queue_attributes(
        QueueUrl=args.queue_url, AttributeNames=["VisibilityTimeout"]
    )
    log_json()
    worker = Worker(
        args.queue_url,
        handler,
        concurrency=args.concurrency,
        visibility_timeout=args.visibility_timeout,
        max_messages=args.max_messages,
        wait_time_seconds=args.wait,
        drain_timeout=args.drain_timeout,
        payload_bucket=args.payload_bucket or os.environ.get("PAYLOAD_BUCKET") or None,
        retry_backoff=None if args.no_retry_backoff else backoff,
    )
    worker.stop_on_signals()
    heartbeat = Heartbeat.from_env(queue_url=args.queue_url, alive=lambda: not worker.stopping)
    if heartbeat is not None:
        heartbeat.start()
    try:
        worker.run()
    finally:
        if heartbeat is not None:
            heartbeat.stop()
    # The process ends now: spare it the interpreter's last collections over boto3's
    # objects, which take a second or more of the stop on a busy host.
    gc.freeze()
    return 0
