"""``sqs-blueprint plan``: size a write buffer, or (``plan fifo``) an ordered FIFO pipeline."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re

from sqs_blueprint import limits
from sqs_blueprint.capacity import drain
from sqs_blueprint.capacity.common import DEFAULT_RECORD_MS
from sqs_blueprint.cli import plan_fixed
from sqs_blueprint.cli._parsing import Subparsers
from sqs_blueprint.errors import UsageError

# The plans' argument names, as the flags that set them.
_FLAGS = {
    "wcu": "--wcu",
    "item_kb": "--item-kb",
    "function_timeout_s": "--function-timeout",
    "batch_size": "--batch-size",
    "batching_window_s": "--batching-window",
    "record_ms": "--record-ms",
    "backlog": "--backlog",
    "min_pollers": "--min-pollers",
    "hot_key_share": "--hot-key-share",
    "messages_per_day": "--messages-per-day",
    "offloaded_share": "--offloaded-share",
    "target_per_s": "--target-rate",
    "latency_s": "--latency",
    "messages_per_s": "--rate",
    "groups": "--groups",
    "message_kb": "--message-kb",
    "max_concurrency": "--max-concurrency",
    "send_latency_ms": "--send-latency-ms",
    "region": "--region",
}
_SHOWN = ("backlog", "drain_time_s")  # already among the rows
_FIELD = re.compile(rf"\b({'|'.join(_FLAGS)})\b")


def _with_flags(error: UsageError) -> UsageError:
    """The same error, naming the flags instead of the plans' argument names."""
    return UsageError(_FIELD.sub(lambda m: _FLAGS[m[1]], str(error)))


def add(sub: Subparsers) -> None:
    p = sub.add_parser(
        "plan",
        help="plan a pipeline: the write buffer (default) or `plan fifo`",
        description="Without KIND: plan a DynamoDB write buffer (--wcu, --item-kb, "
        "--function-timeout). `plan fifo`: what an ordered FIFO pipeline can carry.",
    )
    p.add_argument("--wcu", type=int, help="provisioned write capacity units (required)")
    p.add_argument("--item-kb", type=float, help="item size in KB (required)")
    p.add_argument("--function-timeout", type=float, help="seconds (required)")
    p.add_argument("--batch-size", type=int, default=10, help="mapping batch size")
    p.add_argument("--batching-window", type=float, default=0, help="seconds")
    p.add_argument(
        "--record-ms", type=float, default=DEFAULT_RECORD_MS, help="unpaced ms per record"
    )
    p.add_argument(
        "--backlog", type=int, default=None, help="messages arriving at once: the time to drain"
    )
    p.add_argument(
        "--scaling-mode",
        choices=drain.MODES,
        default=drain.STANDARD,
        help="the mapping's scaling, for --backlog",
    )
    p.add_argument(
        "--min-pollers",
        type=int,
        default=limits.LAMBDA_DEFAULT_MIN_POLLERS,
        help="provisioned mode's minimum pollers: ready at once for --backlog, and billed "
        "at rest in the monthly cost (with --scaling-mode provisioned)",
    )
    p.add_argument(
        "--hot-key-share",
        type=float,
        default=0.0,
        help="0..1 of the writes going to one key (one partition), for --backlog",
    )
    p.add_argument("--messages-per-day", type=float, default=None, help="for the monthly cost")
    p.add_argument("--offloaded-share", type=float, default=0.0, help="0..1 sent through S3")
    p.add_argument("--target-rate", type=float, default=None, help="messages/s a burst must reach")
    p.add_argument("--latency", type=float, default=None, help="seconds allowed to reach it")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    plan_fixed.add_arguments(p)
    p.set_defaults(func=_run_plan, plan_parser=p)
    kinds = p.add_subparsers(dest="plan_command", metavar="KIND")
    _add_fifo(kinds)


def _add_fifo(kinds: Subparsers) -> None:
    from sqs_blueprint import capacity

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
    f.add_argument(
        "--batch-size",
        type=int,
        default=10,
        help=f"mapping batch size (1..{limits.LAMBDA_FIFO_MAX_BATCH_SIZE})",
    )
    f.add_argument("--high-throughput", action="store_true", help="FIFO high-throughput mode")
    f.add_argument("--region", default="us-east-1", help="for the high-throughput quota")
    f.add_argument(
        "--max-concurrency",
        type=int,
        default=limits.LAMBDA_MAX_CONCURRENCY,
        help=f"{limits.LAMBDA_MIN_CONCURRENCY}..{limits.LAMBDA_MAX_CONCURRENCY}",
    )
    f.add_argument(
        "--send-latency-ms",
        type=float,
        default=capacity.DEFAULT_SEND_LATENCY_MS,
        help="one SendMessageBatch round trip",
    )
    f.add_argument("--json", action="store_true", help="print one JSON object")
    f.set_defaults(func=_run_fifo)


def _run_fifo(args: argparse.Namespace) -> int:
    from sqs_blueprint import capacity

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
    except UsageError as error:
        raise _with_flags(error) from None
    out = dataclasses.asdict(plan)
    cost = plan.monthly_cost_usd
    out["monthly_cost_usd"] = {"sqs_requests": cost.sqs_requests, "sqs": cost.sqs}
    out["monthly_cost_usd"] |= {"lambda": cost.lambda_, "total": cost.total}
    if args.json:
        print(json.dumps(out))
        return 0
    reasons = out.pop("reasons")
    costs = out.pop("monthly_cost_usd")
    rows = [(k, _value(v), reasons.get(k, "")) for k, v in out.items()]
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


def _value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.6g}"
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _run_plan(args: argparse.Namespace) -> int:
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
        out = _write_buffer_plan(args)
    except UsageError as error:
        raise _with_flags(error) from None
    if args.json:
        print(json.dumps(out))
        return 0
    notes = out.pop("notes")
    costs = out.pop("monthly_cost_usd", {})
    scaled = out.pop("scaling", {})
    drained = out.pop("drain", {})
    assert isinstance(notes, tuple) and isinstance(costs, dict) and isinstance(scaled, dict)
    assert isinstance(drained, dict)
    notes += scaled.pop("reasons", ())
    notes += tuple(_phase_line(phase) for phase in drained.pop("phases", ()))
    rows = [(k, _value(v)) for k, v in out.items()]
    rows += [(f"scaling {k}", _value(v)) for k, v in scaled.items()]
    rows += [(f"drain {k}", _value(v)) for k, v in drained.items() if k not in _SHOWN]
    rows += [(f"monthly {k} (USD)", f"{v:,.2f}") for k, v in costs.items()]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    for note in notes:
        print(f"note: {note}")
    return 0


def _phase_line(phase: dict[str, object]) -> str:
    start, end, messages = phase["start_s"], phase["end_s"], phase["messages"]
    assert isinstance(start, float) and isinstance(end, float) and isinstance(messages, float)
    return (
        f"drain from {_duration(start)} to {_duration(end)}: {messages:,.0f} messages, "
        f"bound by {phase['binds']}"
    )


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min {rest:02d} s" if hours else f"{minutes} min {rest:02d} s"


def _write_buffer_plan(args: argparse.Namespace) -> dict[str, object]:
    """The write buffer's plan, with the drain time, scaling and cost asked for."""
    from sqs_blueprint import capacity

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
        drained = drain.plan_drain(
            plan,
            args.backlog,
            mode=args.scaling_mode,
            min_pollers=args.min_pollers,
            hot_key_share=args.hot_key_share,
        )
        out["drain_time_s"] = drained.drain_time_s
        out["drain"] = dataclasses.asdict(drained)
    if args.target_rate is not None:
        scaling = capacity.plan_scaling(plan, target_per_s=args.target_rate, latency_s=args.latency)
        out["scaling"] = dataclasses.asdict(scaling)
    if args.messages_per_day is not None:
        cost = capacity.monthly_cost(
            plan, messages_per_day=args.messages_per_day, offloaded_share=args.offloaded_share
        )
        traffic = {
            **{k.rstrip("_"): v for k, v in dataclasses.asdict(cost).items()},
            "total_provisioned": cost.total_provisioned,
            "total_on_demand": cost.total_on_demand,
        }
        out["monthly_cost_usd"] = plan_fixed.with_fixed_costs(args, traffic)
    return out
