"""The ``sqs-blueprint`` command.

Each subcommand is a ``_add_<name>(subparsers)`` function that registers its
arguments and sets ``func`` to a ``_run_<name>(args) -> int`` function.
:func:`main` is the one place that turns an error into one line on stderr and an
exit code: 2 for bad input (argparse, :class:`~sqs_blueprint.errors.UsageError`),
1 for a failure at run time (any other error of the family, or an AWS error).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO, cast

from sqs_blueprint.errors import SqsBlueprintError, UsageError

if TYPE_CHECKING:
    from sqs_blueprint.console import Progress
    from sqs_blueprint.redrive import DeadLetter

_Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]
_MISSING_QUEUE_CODES = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})


class _HelpFormatter(argparse.HelpFormatter):
    """Shows every option's default (unless it has none, or is an off switch)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        hidden = action.default in (None, False, [], argparse.SUPPRESS)
        if "%(default)" in text or hidden or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)".strip()


class _Parser(argparse.ArgumentParser):
    """A parser (and every subparser) with defaults in ``--help`` and one-line errors."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        action = super().add_argument(*args, **kwargs)
        if action.help is None and action.default not in (None, False, [], argparse.SUPPRESS):
            action.help = "(default: %(default)s)"  # argparse shows nothing for help-less flags
        return action

    def error(self, message: str) -> Any:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sqs-blueprint")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sqs-blueprint",
        description="Operate systems decoupled by Amazon SQS.",
        epilog="Exit codes: 0 done, 1 failed at run time (AWS, missing queue), 2 bad input.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = cast(  # every subparser is a _Parser; _add_* functions take the base type
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        parser.add_subparsers(dest="command", required=True, metavar="COMMAND"),
    )
    for register in _COMMANDS:
        register(sub)
    return parser


def _int_in(low: int, high: int | None, unit: str = "") -> Callable[[str], int]:
    """An argparse type: an integer in low..high (no upper bound if None)."""
    rule = f"{low}..{high}" if high is not None else f"at least {low}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {rule}{unit}, got {text!r}")
        return value

    return parse


def _seconds(*, positive: bool) -> Callable[[str], float]:
    """An argparse type: a finite number of seconds, > 0 (positive) or >= 0."""
    rule = "a number of seconds above 0" if positive else "0 or more seconds"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}")
        return value

    return parse


def _add_plan(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "plan",
        help="plan a pipeline: the write buffer (default) or `plan fifo`",
        description="Without KIND: plan a DynamoDB write buffer (--wcu, --item-kb, "
        "--function-timeout). `plan fifo`: what an ordered FIFO pipeline can carry.",
    )
    p.add_argument("--wcu", type=int, help="provisioned write capacity units (required)")
    p.add_argument("--item-kb", type=float, help="item size in KB (required)")
    p.add_argument("--function-timeout", type=float, help="seconds (required)")
    p.add_argument("--batch-size", type=int, default=10)
    p.add_argument("--batching-window", type=float, default=0, help="seconds")
    p.add_argument("--record-ms", type=float, default=None, help="unpaced ms per record")
    p.add_argument("--backlog", type=int, default=None, help="messages to drain")
    p.add_argument("--messages-per-day", type=float, default=None)
    p.add_argument("--offloaded-share", type=float, default=0.0, help="0..1 sent through S3")
    p.add_argument("--target-rate", type=float, default=None, help="messages/s a burst must reach")
    p.add_argument("--latency", type=float, default=None, help="seconds allowed to reach it")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_run_plan, plan_parser=p)
    kinds = p.add_subparsers(dest="plan_kind", metavar="KIND")
    _add_plan_fifo(kinds)


def _add_plan_fifo(kinds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from sqs_blueprint import capacity, limits

    f = kinds.add_parser(
        "fifo",
        help="ceilings, producers and cost of an ordered FIFO pipeline",
        description="Send-side and consume-side ceilings of a FIFO queue consumed by a "
        "Lambda mapping, which binds, the producers needed and the monthly cost.",
    )
    f.add_argument("--rate", type=float, required=True, help="target messages per second")
    f.add_argument("--groups", type=int, required=True, help="active message groups")
    f.add_argument("--record-ms", type=float, required=True, help="ms to process one record")
    f.add_argument("--message-kb", type=float, default=1.0, help="message size in KiB")
    f.add_argument("--batch-size", type=int, default=10, help="mapping batch size (1..10)")
    f.add_argument("--high-throughput", action="store_true", help="FIFO high-throughput mode")
    f.add_argument("--region", default="us-east-1", help="for the high-throughput quota")
    f.add_argument(
        "--max-concurrency", type=int, default=limits.LAMBDA_MAX_CONCURRENCY, help="2..1000"
    )
    f.add_argument(
        "--send-latency-ms",
        type=float,
        default=capacity.DEFAULT_SEND_LATENCY_MS,
        help="one SendMessageBatch round trip",
    )
    f.add_argument("--json", action="store_true", help="print one JSON object")
    f.set_defaults(func=_run_plan_fifo)


def _run_plan_fifo(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from sqs_blueprint import capacity
    from sqs_blueprint.errors import UsageError

    try:
        plan = capacity.plan_fifo(
            messages_per_s=args.rate,
            groups=args.groups,
            record_ms=args.record_ms,
            message_kb=args.message_kb,
            batch_size=args.batch_size,
            high_throughput=args.high_throughput,
            region=args.region,
            max_concurrency=args.max_concurrency,
            send_latency_ms=args.send_latency_ms,
        )
    except UsageError as exc:
        print(f"sqs-blueprint plan fifo: {exc}", file=sys.stderr)
        return 2
    out = dataclasses.asdict(plan)
    cost = plan.monthly_cost_usd
    out["monthly_cost_usd"] = {"sqs_requests": cost.sqs_requests, "sqs": cost.sqs}
    out["monthly_cost_usd"] |= {"lambda": cost.lambda_, "total": cost.total}
    if args.json:
        print(json.dumps(out))
        return 0
    reasons = out.pop("reasons")
    costs = out.pop("monthly_cost_usd")
    rows = [(k, _plan_value(v), reasons.get(k, "")) for k, v in out.items()]
    rows += [
        (f"monthly {k} (USD)", f"{v:,.2f}", "") for k, v in costs.items() if k != "sqs_requests"
    ]
    rows.append(
        ("monthly SQS requests", f"{costs['sqs_requests']:,.0f}", reasons["monthly_cost_usd"])
    )
    width = max(len(k) for k, _, _ in rows)
    value_width = max(len(v) for _, v, _ in rows)
    for key, value, why in rows:
        print(f"{key:<{width}}  {value:>{value_width}}  {why}".rstrip())
    return 0


def _plan_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.6g}"
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _run_plan(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from sqs_blueprint import capacity
    from sqs_blueprint.errors import UsageError

    required = {"--wcu": args.wcu, "--item-kb": args.item_kb}
    required["--function-timeout"] = args.function_timeout
    missing = [flag for flag, value in required.items() if value is None]
    if missing:
        args.plan_parser.error(
            f"the following arguments are required: {', '.join(missing)} (or use `plan fifo`)"
        )
    if (args.target_rate is None) != (args.latency is None):
        args.plan_parser.error("--target-rate and --latency go together (scaling mode)")
    try:
        plan = capacity.plan_write_buffer(
            wcu=args.wcu,
            item_kb=args.item_kb,
            function_timeout_s=args.function_timeout,
            batch_size=args.batch_size,
            batching_window_s=args.batching_window,
            record_ms=capacity.DEFAULT_RECORD_MS if args.record_ms is None else args.record_ms,
        )
        out: dict[str, object] = dataclasses.asdict(plan)
        if args.backlog is not None:
            out["drain_time_s"] = plan.drain_time_s(args.backlog)
        if args.target_rate is not None:
            scaling = capacity.plan_scaling(
                plan, target_per_s=args.target_rate, latency_s=args.latency
            )
            out["scaling"] = dataclasses.asdict(scaling)
        if args.messages_per_day is not None:
            cost = capacity.monthly_cost(
                plan,
                messages_per_day=args.messages_per_day,
                offloaded_share=args.offloaded_share,
            )
            out["monthly_cost_usd"] = {
                **{k.rstrip("_"): v for k, v in dataclasses.asdict(cost).items()},
                "total_provisioned": cost.total_provisioned,
                "total_on_demand": cost.total_on_demand,
            }
    except UsageError as exc:
        print(f"sqs-blueprint plan: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(out))
        return 0
    notes = out.pop("notes")
    costs = out.pop("monthly_cost_usd", {})
    scaled = out.pop("scaling", {})
    assert isinstance(notes, tuple) and isinstance(costs, dict) and isinstance(scaled, dict)
    notes += scaled.pop("reasons", ())
    rows = [(k, _plan_value(v)) for k, v in out.items()]
    rows += [(f"scaling {k}", _plan_value(v)) for k, v in scaled.items()]
    rows += [(f"monthly {k} (USD)", f"{v:,.2f}") for k, v in costs.items()]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    for note in notes:
        print(f"note: {note}")
    return 0


def _response_prefix(text: str) -> str:
    """An argparse type: a response queue name prefix RpcClient accepts."""
    import re

    from sqs_blueprint.rpc import MAX_QUEUE_NAME

    longest = MAX_QUEUE_NAME - 32  # RpcClient appends a 32-character id
    if not re.fullmatch(rf"[A-Za-z0-9_-]{{1,{longest}}}", text):
        raise argparse.ArgumentTypeError(
            f"must be 1..{longest} letters, digits, '-' or '_' (a 32-character id is "
            f"appended to make the queue name), got {text!r}"
        )
    return text


def _add_rpc(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rpc = sub.add_parser("rpc", help="request/response over SQS")
    rpc_sub = rpc.add_subparsers(dest="rpc_command", required=True, metavar="COMMAND")
    p = rpc_sub.add_parser("call", help="send one request and print its JSON response")
    p.add_argument("--queue-url", required=True, help="request queue URL")
    p.add_argument(
        "--prefix", required=True, type=_response_prefix, help="response queue name prefix"
    )
    p.add_argument("--type", required=True, help="request type")
    p.add_argument("--json-payload", default="{}", help="JSON object of request fields")
    p.add_argument("--timeout", type=_seconds(positive=True), default=30.0, help="seconds")
    p.add_argument("--wait", type=_int_in(1, 20, " s"), default=20, help="long-poll seconds")
    p.set_defaults(func=_run_rpc_call)


def _run_rpc_call(args: argparse.Namespace) -> int:
    import json

    from sqs_blueprint.rpc import RpcClient, RpcError, RpcTimeout

    try:
        payload = json.loads(args.json_payload)
    except ValueError as exc:
        raise UsageError(f"--json-payload is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise UsageError(f"--json-payload must be a JSON object, got {args.json_payload!r}")
    client = RpcClient(
        request_queue_url=args.queue_url,
        response_queue_prefix=args.prefix,
        wait_time_seconds=args.wait,
    )
    try:
        with client:
            answer = client.call({**payload, "type": args.type}, timeout=args.timeout)
    except (RpcError, RpcTimeout) as exc:
        raise SqsBlueprintError(str(exc)) from exc
    print(json.dumps(answer))
    return 0


def _add_send(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("send", help="send one message per input line, batched; large ones via S3")
    p.add_argument("--queue-url", required=True, help="queue to send to")
    p.add_argument("--bucket", help="S3 bucket for large payloads (Extended Client format)")
    p.add_argument(
        "--threshold",
        type=_threshold,
        default=262_144,
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
    p.add_argument("file", nargs="?", default="-", help="input file, or - for stdin")
    p.set_defaults(func=_run_send)


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


def _send_options(args: argparse.Namespace) -> dict[str, dict[str, str]]:
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


@contextmanager
def _send_progress(sqs: Any, total: int) -> Iterator[None]:
    """On a terminal, a bar on stderr while more than one batch is sent: messages SQS took."""
    from sqs_blueprint.limits import SQS_BATCH_MAX_ENTRIES

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


def _run_send(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import boto3

    from sqs_blueprint.payload import PayloadStore
    from sqs_blueprint.producer import Message, Producer

    attributes = _send_options(args)
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
    with _send_progress(sqs, len(messages)):
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


def _add_worker(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("worker", help="long-poll a queue and run a handler on each record")
    p.add_argument("--queue-url", required=True, help="queue to consume")
    p.add_argument(
        "--handler",
        required=True,
        help="module:function taking one record (raise to fail it; the current folder is "
        "searched first), or builtin:write-buffer (TABLE_NAME, KEY_FIELDS, ... from the "
        "environment)",
    )
    p.add_argument("--concurrency", type=_int_in(1, None), default=4, help="handler threads")
    p.add_argument(
        "--visibility-timeout",
        type=_int_in(1, 43_200, " s"),  # docs/aws-facts.md#sqs-limits
        default=None,
        help="seconds; the queue's if unset",
    )
    p.add_argument("--max-messages", type=_int_in(1, 10), default=10, help="per receive")
    p.add_argument("--wait", type=_int_in(0, 20, " s"), default=20, help="long-poll seconds")
    p.add_argument(
        "--drain-timeout", type=_seconds(positive=False), default=30.0, help="seconds to finish"
    )
    p.add_argument(
        "--payload-bucket",
        default=None,
        help="the only bucket S3 pointers may name (default: $PAYLOAD_BUCKET)",
    )
    p.add_argument(
        "--retry-base",
        type=_seconds(positive=True),
        default=None,
        help="seconds (default 60); a failed record's retry delay is drawn up to this, "
        "doubled per receive",
    )
    p.add_argument(
        "--retry-max",
        type=_seconds(positive=True),
        default=None,
        help="seconds (default 900, at most 43200); the longest retry delay",
    )
    p.add_argument(
        "--no-retry-backoff",
        action="store_true",
        help="leave a failed record to come back after its visibility timeout",
    )
    p.set_defaults(func=_run_worker)


def _load_handler(spec: str) -> Any:
    """The worker's handler; modules in the current folder are found, as with `python -m`."""
    import os

    from sqs_blueprint.worker import load_handler

    if os.getcwd() not in sys.path:  # like `python -m`: modules in the current folder
        sys.path.insert(0, os.getcwd())
    return load_handler(spec)


def _run_worker(args: argparse.Namespace) -> int:
    import os

    import boto3

    from sqs_blueprint.backoff import Backoff
    from sqs_blueprint.worker import Worker, log_json

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
    worker.run()
    return 0


def _add_dlq(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bucket_help = (
        "fetch S3 payloads only from this bucket (repeatable; default: the PAYLOAD_BUCKET of "
        "the source queue's Lambda consumers, else none)"
    )
    dlq = sub.add_parser("dlq", help="inspect a dead-letter queue and redrive its messages")
    dlq_sub = dlq.add_subparsers(dest="dlq_command", required=True, metavar="COMMAND")
    p = dlq_sub.add_parser("inspect", help="show dead letters without consuming them")
    p.add_argument("--queue", required=True, help="DLQ URL, name or ARN")
    p.add_argument("--limit", type=int, default=20, help="messages to show")
    p.add_argument("--bucket", action="append", metavar="BUCKET", help=bucket_help)
    p.add_argument("--json", action="store_true", help="one JSON object per message and line")
    p.set_defaults(func=_run_dlq, dlq_run=_dlq_inspect)
    p = dlq_sub.add_parser("redrive", help="move dead letters back to their source queue")
    p.add_argument("--queue", required=True, help="DLQ URL, name or ARN")
    p.add_argument("--to", help="destination queue (default: the one source the DLQ serves)")
    p.add_argument("--rate", type=int, help="messages per second (1..500)")
    p.add_argument(
        "--client-side", action="store_true", help="receive, send and delete instead of a move task"
    )
    choose = p.add_mutually_exclusive_group()
    choose.add_argument(
        "--id", dest="ids", nargs="+", action="extend", metavar="ID", help="move only these ids"
    )
    choose.add_argument(
        "--where", metavar="EXPR", help="move only messages whose JSON body matches this JMESPath"
    )
    p.add_argument("--bucket", action="append", metavar="BUCKET", help=bucket_help)
    p.add_argument("--wait", type=int, default=1, help="client-side long poll per receive (s)")
    p.set_defaults(func=_run_dlq, dlq_run=_dlq_redrive)
    p = dlq_sub.add_parser("cancel", help="cancel a running move task")
    p.add_argument("--task-handle", required=True, help="as printed by `dlq redrive`")
    p.set_defaults(func=_run_dlq, dlq_run=_dlq_cancel)


def _run_dlq(args: argparse.Namespace) -> int:
    """One line and the error's exit code: 2 for bad usage, 1 for a runtime or AWS failure."""
    from botocore.exceptions import BotoCoreError, ClientError

    from sqs_blueprint.errors import SqsBlueprintError

    try:
        code: int = args.dlq_run(args)
    except SqsBlueprintError as exc:
        print(f"sqs-blueprint dlq {args.dlq_command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except (BotoCoreError, ClientError) as exc:
        print(f"sqs-blueprint dlq {args.dlq_command}: {exc}", file=sys.stderr)
        return 1
    return code


def _progress_bar(stream: TextIO) -> Progress:
    """The redrive's progress: a bar on a terminal, one plain line per change otherwise."""
    from sqs_blueprint.console import Progress

    return Progress(stream, "moved")


def _payload_buckets(url: str, given: list[str] | None) -> tuple[list[str], str]:
    """The buckets to fetch S3 payloads from, and one line that says which and why."""
    from sqs_blueprint import redrive

    if given:
        return sorted(set(given)), f"S3 payloads fetched only from: {', '.join(sorted(set(given)))}"
    found = redrive.consumer_buckets(url)
    if found.buckets:
        names = ", ".join(sorted(found.buckets))
        where = ", ".join(found.found_in)
        return sorted(
            found.buckets
        ), f"S3 payloads fetched only from: {names} (PAYLOAD_BUCKET of {where})"
    why = "no Lambda consumer of the source queue sets PAYLOAD_BUCKET"
    if found.problem:
        why = f"could not read the consumers' PAYLOAD_BUCKET ({found.problem})"
    return [], f"S3 payloads not fetched: {why}; name the buckets to read with --bucket"


def _dlq_inspect(args: argparse.Namespace) -> int:
    import json

    from sqs_blueprint import redrive

    url = redrive.queue_url(args.queue)
    sources = redrive.source_queues(url)
    buckets, fetched = _payload_buckets(url, args.bucket)
    letters = redrive.inspect(url, limit=args.limit, buckets=buckets)
    if args.json:
        for letter in letters:
            row = {"queue": url, "sources": sources, "payload_buckets": buckets}
            print(json.dumps({**row, **letter.to_json()}))
        return 0
    print(f"{url} serves: {', '.join(sources) or 'no source queue'}")
    print(fetched)
    print(f"{len(letters)} message(s) shown, all handed back (none consumed)")
    if letters and sys.stdout.isatty():
        print(_letters_table(letters))
        return 0
    for letter in letters:
        print(letter.summary())
    return 0


def _letters_table(letters: Sequence[DeadLetter]) -> str:
    """Dead letters as a table for a terminal: one row each, the body last (``--json`` and
    piped output also give the first receive time)."""
    from sqs_blueprint.console import table

    facts = [letter.to_json() for letter in letters]
    headers = ["message id", "receives", "sent (UTC)", "bytes"]
    optional = [name for name in ("group_id", "payload") if any(f[name] for f in facts)]
    headers += [name.replace("_id", "") for name in optional] + ["body"]
    rows = [
        [
            f["message_id"],
            str(f["receive_count"]),
            letter.sent_at.strftime("%Y-%m-%d %H:%M:%S") if letter.sent_at else "-",
            "?" if f["size"] is None else str(f["size"]),
            *(f[name] or "" for name in optional),
            letter.preview(),
        ]
        for f, letter in zip(facts, letters, strict=True)
    ]
    return table(headers, rows)


def _dlq_redrive(args: argparse.Namespace) -> int:
    from sqs_blueprint import redrive
    from sqs_blueprint.errors import SqsBlueprintError

    bar = _progress_bar(sys.stderr)

    def say(text: str) -> None:
        bar.end()
        print(f"sqs-blueprint dlq redrive: {text}", file=sys.stderr)

    def started(handle: str) -> None:
        bar.end()
        print(f"task handle: {handle}", flush=True)
        say(f"cancel with: sqs-blueprint dlq cancel --task-handle {handle}")

    select = redrive.by_ids(args.ids) if args.ids else None
    if args.where is not None:
        select = redrive.where(args.where)
    try:
        result = redrive.redrive(
            args.queue,
            to=args.to,
            select=select,
            rate=args.rate,
            client_side=args.client_side,
            buckets=args.bucket,
            progress=bar,
            notify=say,
            started=started,
            wait_seconds=args.wait,
        )
    except KeyboardInterrupt as stop:
        bar.end()
        print(*getattr(stop, "__notes__", ["interrupted"]), sep="\n")
        return 130
    bar.end()
    if select is not None and result.chosen == 0 and result.status == "COMPLETED":
        what = f"--where {args.where!r}" if args.where is not None else "--id " + " ".join(args.ids)
        raise SqsBlueprintError(
            f"nothing matched {what} among the {result.skipped} message(s) in the DLQ; "
            "nothing was moved"
        )
    print(result.summary())
    for message_id, reason in {**result.failed, **result.duplicated}.items():
        where = "is in both queues" if message_id in result.duplicated else "stays in the DLQ"
        say(f"{message_id} {where}: {reason}")
    found = {*result.moved_ids, *result.failed, *result.duplicated}
    missing = sorted(set(args.ids or ()) - found)
    if missing:
        say(f"not found in the DLQ: {', '.join(missing)}")
    return 0 if result.ok and not missing else 1


def _dlq_cancel(args: argparse.Namespace) -> int:
    from sqs_blueprint import redrive

    moved = redrive.cancel(args.task_handle)
    print(f"cancelling task {args.task_handle}; about {moved} message(s) already moved")
    return 0


def _add_local(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    local = sub.add_parser("local", help="the local cloud: synthesized stacks in moto")
    local_sub = local.add_subparsers(dest="local_command", required=True, metavar="COMMAND")
    p = local_sub.add_parser(
        "up", help="deploy cdk.out into moto and run its event-source mappings until Ctrl-C"
    )
    p.add_argument("--cdk-out", default="cdk.out", help="the synthesized cloud assembly")
    p.add_argument("--port", type=int, default=0, help="embedded server port (default: free)")
    p.add_argument("--endpoint-url", help="deploy into this running moto server instead")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--no-run", action="store_true", help="deploy only, do not run the mappings")
    p.set_defaults(func=_run_local_up)
    p = local_sub.add_parser(
        "deploy",
        help="update a running local cloud's stacks from cdk.out (after make synth STAGE=local); "
        "queues keep their messages",
    )
    p.add_argument("--cdk-out", default="cdk.out", help="the synthesized cloud assembly")
    p.add_argument(
        "--endpoint-url", required=True, help="the running local cloud (local up prints it)"
    )
    p.add_argument("--region", default="us-east-1")
    p.set_defaults(func=_run_local_deploy)


def _print_stacks(stacks: Sequence[Any]) -> None:
    """What a deploy did to each stack: outputs, changes, what is not applied locally."""
    for stack in stacks:
        changes = "; ".join(
            f"{word} {', '.join(ids)}"
            for word, ids in zip(
                ("added", "changed", "removed"),
                (stack.changes.get(k, ()) for k in ("Add", "Modify", "Remove")),
                strict=True,
            )
            if ids
        )
        print(f"stack {stack.name} ({stack.artifact_id}): {stack.action}")
        if changes:
            print(f"  {changes}")
        for key, value in stack.outputs.items():
            print(f"  {key} = {value}")
        for skipped in stack.skipped:
            print(f"  not applied locally: {skipped}")


def _run_local_up(args: argparse.Namespace) -> int:
    import signal
    import time

    from sqs_blueprint.local import LocalCloud
    from sqs_blueprint.local.runner import LocalRunner

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    if args.endpoint_url:
        cloud = LocalCloud.connect(args.endpoint_url, region=args.region)
    else:
        cloud = LocalCloud.start(port=args.port, region=args.region)
    runner: LocalRunner | None = None
    try:
        _print_stacks(cloud.deploy(args.cdk_out))
        if not args.no_run:
            runner = LocalRunner(cloud).start()
            for m in runner.mappings:
                print(f"running {m.function_name} <- {m.queue_arn.split(':')[-1]}")
            print(f"function logs: {runner.log_dir}")
        print(f"\nlocal cloud at {cloud.endpoint_url}; to use it from another shell:")
        for key, value in cloud.environment().items():
            print(f"  export {key}={value}")
        print(
            "After `make synth STAGE=local`, update it with: sqs-blueprint local deploy "
            f"--cdk-out {args.cdk_out} --endpoint-url {cloud.endpoint_url}"
        )
        print("Ctrl-C stops it.", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopping the local cloud")
    finally:
        if runner is not None:
            runner.stop()
        cloud.stop()
    return 0


def _run_local_deploy(args: argparse.Namespace) -> int:
    from sqs_blueprint.local import LocalCloud

    cloud = LocalCloud.connect(args.endpoint_url, region=args.region)
    _print_stacks(cloud.deploy(args.cdk_out, update=True))
    return 0


def _add_demo(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo", help="the blueprint end to end on the local cloud (make demo synthesizes first)"
    )
    p.add_argument(
        "--cdk-out",
        default="cdk.out.local",
        help="the local stage's assembly (synthesized there if the folder has none)",
    )
    p.add_argument("--messages", type=int, default=200, help="ordinary write-buffer messages")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (function logs)")
    p.add_argument("--verbose", action="store_true", help="list what is not applied locally")
    p.set_defaults(func=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from sqs_blueprint.local import demo

    return demo.main(args.cdk_out, args.messages, args.json, keep=args.keep, verbose=args.verbose)


# Subcommand registrations, in the order `--help` lists them.
_COMMANDS: list[_Register] = [
    _add_demo,
    _add_plan,
    _add_rpc,
    _add_send,
    _add_worker,
    _add_dlq,
    _add_local,
]


def _command(args: argparse.Namespace) -> str:
    """``sqs-blueprint <command> [<subcommand>]``, for error lines."""
    words = [args.command, getattr(args, f"{args.command}_command", None)]
    return " ".join(["sqs-blueprint", *filter(None, words)])


def _error_line(exc: BaseException, args: argparse.Namespace) -> tuple[str, int]:
    """One line and an exit code for an error that reached :func:`main`."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
    )

    from sqs_blueprint._clients import error_text

    if isinstance(exc, SqsBlueprintError):
        return str(exc), exc.exit_code if isinstance(exc.exit_code, int) else 1
    if isinstance(exc, NoRegionError):
        return (
            "no AWS region configured: set AWS_DEFAULT_REGION (or a region in your AWS profile)",
            1,
        )
    if isinstance(exc, NoCredentialsError):
        return (
            "no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (aws configure / aws sso login)",
            1,
        )
    if isinstance(exc, ClientError):
        queue = getattr(args, "queue_url", None) or "given"
        if exc.response.get("Error", {}).get("Code") in _MISSING_QUEUE_CODES:
            return (
                f"queue {queue} does not exist in this account and region "
                "(check --queue-url, AWS_DEFAULT_REGION and AWS_ENDPOINT_URL)",
                1,
            )
        return f"AWS refused the request: {error_text(exc)}", 1
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach AWS: {exc} (check AWS_DEFAULT_REGION and AWS_ENDPOINT_URL)", 1
    if isinstance(exc, BotoCoreError):
        return str(exc), 1
    if isinstance(exc, ValueError):  # the library's refusal of an input
        return str(exc), 2
    return f"{type(exc).__name__}: {exc}", 1


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)  # exits 0 (--help, --version) or 2 (one error line)
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        print(f"{_command(args)}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        line, code = _error_line(exc, args)
        print(f"{_command(args)}: {' '.join(line.split())}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
