"""``sqs-blueprint send``: one message per input line, batched; large ones through S3."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqs_blueprint.cli._parsing import Subparsers
from sqs_blueprint.errors import UsageError
from sqs_blueprint.limits import EXTENDED_CLIENT_THRESHOLD_BYTES, SQS_BATCH_MAX_ENTRIES


def add(sub: Subparsers) -> None:
    p = sub.add_parser(
        "send",
        help="send one message per input line, batched; large ones via S3",
        description="Send one message per input line, batched; large ones via S3. Bodies are "
        "sent as they are: a pipeline that expects JSON dead-letters a line that is not, "
        "unless --json checks every line first.",
    )
    p.add_argument("--queue-url", required=True, help="queue to send to")
    p.add_argument("--bucket", help="S3 bucket for large payloads (Extended Client format)")
    p.add_argument(
        "--threshold",
        type=_threshold,
        default=EXTENDED_CLIENT_THRESHOLD_BYTES,
        metavar="BYTES|queue",
        help="offload above BYTES (body + attributes; the default is the Extended Clients'), "
        "or above the queue's own MaximumMessageSize with 'queue'",
    )
    p.add_argument("--always-s3", action="store_true", help="offload every message")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--group-id", help="one message group id for every message (FIFO)")
    group.add_argument(
        "--group-key",
        metavar="FIELD",
        help="message group id from this field of each JSON line: one group per entity (FIFO)",
    )
    tenant = p.add_mutually_exclusive_group()
    tenant.add_argument("--tenant", help="tenant of every message (standard queue: fair queuing)")
    tenant.add_argument(
        "--tenant-key", metavar="FIELD", help="tenant from this field of each JSON line"
    )
    p.add_argument(
        "--attribute", action="append", default=[], metavar="NAME=VALUE", help="string attribute"
    )
    p.add_argument("--whole", action="store_true", help="send the whole input as one message")
    p.add_argument(
        "--json",
        action="store_true",
        help="send nothing unless every line is a JSON object (the shipped pipelines' bodies)",
    )
    p.add_argument("file", nargs="?", default="-", help="input file, or - for stdin")
    p.set_defaults(func=_run)


def _threshold(text: str) -> int | str:
    """An argparse type for --threshold: a whole number of bytes, or 'queue'."""
    if text == "queue":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a whole number of bytes or 'queue', got {text!r}"
        ) from None


def _options(args: argparse.Namespace) -> dict[str, dict[str, str]]:
    """The message attributes, after refusing flags that contradict each other or the queue."""
    from sqs_blueprint.payload import RESERVED_ATTRIBUTES
    from sqs_blueprint.producer import check_id

    attributes: dict[str, dict[str, str]] = {}
    for pair in args.attribute:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--attribute must be NAME=VALUE, got {pair!r}")
        if name in RESERVED_ATTRIBUTES:
            raise UsageError(
                f"--attribute {name} is reserved for S3 payload pointers "
                "(Extended Client format); use another name"
            )
        attributes[name] = {"DataType": "String", "StringValue": value}
    if args.always_s3 and not args.bucket:
        raise UsageError("--always-s3 needs --bucket")
    for flag, value in (("--group-id", args.group_id), ("--tenant", args.tenant)):
        if value is not None:
            try:
                check_id(value, flag)
            except UsageError as exc:
                raise UsageError(str(exc)) from None
    fifo = args.queue_url.endswith(".fifo")
    if fifo and args.group_id is None and args.group_key is None:
        raise UsageError("a FIFO queue needs a message group: use --group-id or --group-key")
    if fifo and (args.tenant or args.tenant_key):
        raise UsageError(
            "--tenant and --tenant-key are for standard (fair) queues; on a FIFO queue "
            "use --group-id or --group-key (the tenant's field for one ordered group per tenant)"
        )
    if args.tenant and args.group_id and args.tenant != args.group_id:
        raise UsageError("--tenant and --group-id both set the message group id; give one")
    return attributes


def _check_json_objects(lines: list[tuple[int, str]]) -> None:
    """UsageError naming the lines that are not JSON objects (the first five), if any."""
    import json

    def is_object(body: str) -> bool:
        try:
            return isinstance(json.loads(body), dict)
        except ValueError:
            return False

    bad = [number for number, body in lines if not is_object(body)]
    if bad:
        shown = ", ".join(map(str, bad[:5])) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise UsageError(f"--json: line {shown} is not a JSON object; nothing was sent")


@contextmanager
def _progress(sqs: Any, total: int) -> Iterator[None]:
    """On a terminal, a bar on stderr while more than one batch is sent: messages SQS took."""
    if total <= SQS_BATCH_MAX_ENTRIES or not sys.stderr.isatty():
        yield
        return
    from sqs_blueprint.console import Progress

    bar = Progress(sys.stderr, "sent")
    sent = 0

    def count(parsed: dict[str, Any], **_: Any) -> None:
        nonlocal sent
        sent += len(parsed.get("Successful", []))
        bar(sent, total)

    event = "after-call.sqs.SendMessageBatch"
    sqs.meta.events.register(event, count)
    bar(0, total)
    try:
        yield
    finally:
        sqs.meta.events.unregister(event, count)
        bar.end()


def _run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import boto3

    from sqs_blueprint.payload import PayloadStore
    from sqs_blueprint.producer import Message, Producer

    attributes = _options(args)
    try:
        store = None
        if args.bucket:
            store = PayloadStore(args.bucket, threshold=args.threshold, always=args.always_s3)
    except ValueError as exc:
        raise UsageError(f"--threshold: {exc}") from exc
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {args.file}: {exc}") from exc
    lines = [(1, text)] if args.whole else list(enumerate(text.splitlines(), start=1))
    lines = [(number, body) for number, body in lines if body]
    if args.json:
        _check_json_objects(lines)
    messages = [
        Message(body, attributes, group_id=args.group_id, tenant=args.tenant) for _, body in lines
    ]
    sqs = boto3.client("sqs")
    producer = Producer(
        args.queue_url,
        sqs_client=sqs,
        payloads=store,
        group_key=args.group_key,
        tenant_key=args.tenant_key,
    )
    producer.max_message_size  # noqa: B018 - a missing queue fails here, in one line
    with _progress(sqs, len(messages)):
        result = producer.send_many(messages)
    for sent in result.sent:
        line = lines[sent.index][0]
        out = {"line": line, "message_id": sent.message_id, "offloaded": sent.offloaded}
        print(json.dumps(out))
    for failed in result.failed:
        report = {"line": lines[failed.index][0], "error": failed.error}
        if failed.maybe_sent:
            report["maybe_sent"] = True
        print(json.dumps(report), file=sys.stderr)
    for left in result.payloads_not_deleted:
        print(json.dumps({"payload_not_deleted": left}), file=sys.stderr)
    return 1 if result.failed else 0
