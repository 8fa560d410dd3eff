"""The ``sqs-blueprint`` command.

Each subcommand is a ``_add_<name>(subparsers)`` function that registers its
arguments and sets ``func`` to a ``_run_<name>(args) -> int`` function.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

_Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sqs-blueprint",
        description="Operate systems decoupled by Amazon SQS.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in _COMMANDS:
        register(sub)
    return parser


def _add_plan(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("plan", help="plan a DynamoDB write buffer: concurrency, batch, cost")
    p.add_argument("--wcu", type=int, required=True, help="provisioned write capacity units")
    p.add_argument("--item-kb", type=float, required=True, help="item size in KB")
    p.add_argument("--function-timeout", type=float, required=True, help="seconds")
    p.add_argument("--batch-size", type=int, default=10)
    p.add_argument("--batching-window", type=float, default=0, help="seconds")
    p.add_argument("--record-ms", type=float, default=None, help="unpaced ms per record")
    p.add_argument("--backlog", type=int, default=None, help="messages to drain")
    p.add_argument("--messages-per-day", type=float, default=None)
    p.add_argument("--offloaded-share", type=float, default=0.0, help="0..1 sent through S3")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_run_plan)


def _run_plan(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from sqs_blueprint import capacity

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
    except ValueError as exc:
        print(f"sqs-blueprint plan: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(out))
        return 0
    notes = out.pop("notes")
    costs = out.pop("monthly_cost_usd", {})
    assert isinstance(notes, tuple) and isinstance(costs, dict)
    rows = [(k, f"{v:,.6g}" if isinstance(v, float) else str(v)) for k, v in out.items()]
    rows += [(f"monthly {k} (USD)", f"{v:,.2f}") for k, v in costs.items()]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    for note in notes:
        print(f"note: {note}")
    return 0


def _add_rpc(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rpc = sub.add_parser("rpc", help="request/response over SQS")
    rpc_sub = rpc.add_subparsers(dest="rpc_command", required=True, metavar="COMMAND")
    p = rpc_sub.add_parser("call", help="send one request and print its JSON response")
    p.add_argument("--queue-url", required=True, help="request queue URL")
    p.add_argument("--prefix", required=True, help="response queue name prefix")
    p.add_argument("--type", required=True, help="request type")
    p.add_argument("--json-payload", default="{}", help="JSON object of request fields")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds")
    p.add_argument("--wait", type=int, default=20, help="long-poll seconds (1..20)")
    p.set_defaults(func=_run_rpc_call)


def _run_rpc_call(args: argparse.Namespace) -> int:
    import json

    from sqs_blueprint.rpc import RpcClient, RpcError, RpcTimeout

    try:
        payload = json.loads(args.json_payload)
    except ValueError as exc:
        print(f"sqs-blueprint rpc call: --json-payload is not JSON: {exc}", file=sys.stderr)
        return 2
    if not isinstance(payload, dict):
        print("sqs-blueprint rpc call: --json-payload must be a JSON object", file=sys.stderr)
        return 2
    client = RpcClient(
        request_queue_url=args.queue_url,
        response_queue_prefix=args.prefix,
        wait_time_seconds=args.wait,
    )
    try:
        with client:
            answer = client.call({**payload, "type": args.type}, timeout=args.timeout)
    except (RpcError, RpcTimeout) as exc:
        print(f"sqs-blueprint rpc call: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(answer))
    return 0


def _add_send(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("send", help="send one message per input line, batched; large ones via S3")
    p.add_argument("--queue-url", required=True, help="queue to send to")
    p.add_argument("--bucket", help="S3 bucket for large payloads (Extended Client format)")
    p.add_argument("--threshold", type=int, default=262_144, help="offload above BYTES")
    p.add_argument("--always-s3", action="store_true", help="offload every message")
    p.add_argument("--group-id", help="message group id (FIFO queues)")
    p.add_argument(
        "--attribute", action="append", default=[], metavar="NAME=VALUE", help="string attribute"
    )
    p.add_argument("--whole", action="store_true", help="send the whole input as one message")
    p.add_argument("file", nargs="?", default="-", help="input file, or - for stdin")
    p.set_defaults(func=_run_send)


def _run_send(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from botocore.exceptions import BotoCoreError, ClientError

    from sqs_blueprint.payload import PayloadStore
    from sqs_blueprint.producer import Message, Producer

    def fail(message: str) -> int:
        print(f"sqs-blueprint send: {message}", file=sys.stderr)
        return 2

    attributes: dict[str, dict[str, str]] = {}
    for pair in args.attribute:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            return fail(f"--attribute must be NAME=VALUE, got {pair!r}")
        attributes[name] = {"DataType": "String", "StringValue": value}
    if args.always_s3 and not args.bucket:
        return fail("--always-s3 needs --bucket")
    try:
        store = None
        if args.bucket:
            store = PayloadStore(args.bucket, threshold=args.threshold, always=args.always_s3)
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
    except (ValueError, OSError) as exc:
        return fail(str(exc))
    lines = [(1, text)] if args.whole else list(enumerate(text.splitlines(), start=1))
    lines = [(number, body) for number, body in lines if body]
    messages = [Message(body, attributes, group_id=args.group_id) for _, body in lines]
    try:
        result = Producer(args.queue_url, payloads=store).send_many(messages)
    except (BotoCoreError, ClientError) as exc:
        print(f"sqs-blueprint send: {exc}", file=sys.stderr)
        return 1
    for sent in result.sent:
        line = lines[sent.index][0]
        out = {"line": line, "message_id": sent.message_id, "offloaded": sent.offloaded}
        print(json.dumps(out))
    for failed in result.failed:
        print(json.dumps({"line": lines[failed.index][0], "error": failed.error}), file=sys.stderr)
    return 1 if result.failed else 0


def _add_worker(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("worker", help="long-poll a queue and run a handler on each record")
    p.add_argument("--queue-url", required=True)
    p.add_argument(
        "--handler",
        required=True,
        help="module:function taking one record (raise to fail it), or builtin:write-buffer "
        "(TABLE_NAME, KEY_FIELDS, ... from the environment)",
    )
    p.add_argument("--concurrency", type=int, default=4, help="handler threads")
    p.add_argument("--visibility-timeout", type=int, default=None, help="seconds; queue's if unset")
    p.add_argument("--max-messages", type=int, default=10, help="per receive (1..10)")
    p.add_argument("--wait", type=int, default=20, help="long-poll seconds (0..20)")
    p.add_argument("--drain-timeout", type=float, default=30.0, help="seconds to finish on stop")
    p.add_argument(
        "--payload-bucket",
        default=None,
        help="the only bucket S3 pointers may name (default: $PAYLOAD_BUCKET)",
    )
    p.set_defaults(func=_run_worker)


def _run_worker(args: argparse.Namespace) -> int:
    import os

    from sqs_blueprint.worker import Worker, load_handler, log_json

    log_json()
    try:
        worker = Worker(
            args.queue_url,
            load_handler(args.handler),
            concurrency=args.concurrency,
            visibility_timeout=args.visibility_timeout,
            max_messages=args.max_messages,
            wait_time_seconds=args.wait,
            drain_timeout=args.drain_timeout,
            payload_bucket=args.payload_bucket or os.environ.get("PAYLOAD_BUCKET") or None,
        )
    except ValueError as exc:
        print(f"sqs-blueprint worker: {exc}", file=sys.stderr)
        return 2
    worker.stop_on_signals()
    worker.run()
    return 0


def _add_dlq(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dlq = sub.add_parser("dlq", help="inspect a dead-letter queue and redrive its messages")
    dlq_sub = dlq.add_subparsers(dest="dlq_command", required=True, metavar="COMMAND")
    p = dlq_sub.add_parser("inspect", help="show dead letters without consuming them")
    p.add_argument("--queue", required=True, help="DLQ URL, name or ARN")
    p.add_argument("--limit", type=int, default=20, help="messages to show")
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
    p.add_argument("--wait", type=int, default=1, help="client-side long poll per receive (s)")
    p.set_defaults(func=_run_dlq, dlq_run=_dlq_redrive)
    p = dlq_sub.add_parser("cancel", help="cancel a running move task")
    p.add_argument("--task-handle", required=True, help="as printed by `dlq redrive`")
    p.set_defaults(func=_run_dlq, dlq_run=_dlq_cancel)


def _run_dlq(args: argparse.Namespace) -> int:
    """Exit 2 for a request that cannot be carried out as asked, 1 for a failing AWS call."""
    from botocore.exceptions import BotoCoreError, ClientError

    from sqs_blueprint.redrive import RedriveError

    try:
        code: int = args.dlq_run(args)
    except RedriveError as exc:
        print(f"sqs-blueprint dlq {args.dlq_command}: {exc}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as exc:
        print(f"sqs-blueprint dlq {args.dlq_command}: {exc}", file=sys.stderr)
        return 1
    return code


def _dlq_inspect(args: argparse.Namespace) -> int:
    import json

    from sqs_blueprint import redrive

    url = redrive.queue_url(args.queue)
    sources = redrive.source_queues(url)
    letters = redrive.inspect(url, limit=args.limit)
    if args.json:
        for letter in letters:
            print(json.dumps({"queue": url, "sources": sources, **letter.to_json()}))
        return 0
    print(f"{url} serves: {', '.join(sources) or 'no source queue'}")
    print(f"{len(letters)} message(s) shown, all handed back (none consumed)")
    for letter in letters:
        print(letter.summary())
    return 0


def _dlq_redrive(args: argparse.Namespace) -> int:
    from sqs_blueprint import redrive

    def say(text: str) -> None:
        print(f"sqs-blueprint dlq redrive: {text}", file=sys.stderr)

    def started(handle: str) -> None:
        print(f"task handle: {handle}", flush=True)
        say(f"cancel with: sqs-blueprint dlq cancel --task-handle {handle}")

    select = redrive.by_ids(args.ids) if args.ids else None
    if args.where is not None:
        select = redrive.where(args.where)
    result = redrive.redrive(
        args.queue,
        to=args.to,
        select=select,
        rate=args.rate,
        client_side=args.client_side,
        progress=redrive.progress_bar(sys.stderr.write),
        notify=say,
        started=started,
        wait_seconds=args.wait,
    )
    sys.stderr.write("\n")
    print(result.summary())
    for message_id, reason in result.failed.items():
        say(f"{message_id} stays in the DLQ: {reason}")
    missing = sorted(set(args.ids or ()) - set(result.moved_ids) - set(result.failed))
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


def _run_local_up(args: argparse.Namespace) -> int:
    import signal
    import time

    from sqs_blueprint.local import AssemblyError, DeployError, LocalCloud
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
        for stack in cloud.deploy(args.cdk_out):
            print(f"stack {stack.name} ({stack.artifact_id}): created")
            for key, value in stack.outputs.items():
                print(f"  {key} = {value}")
            for skipped in stack.skipped:
                print(f"  not applied locally: {skipped}")
        if not args.no_run:
            runner = LocalRunner(cloud).start()
            for m in runner.mappings:
                print(f"running {m.function_name} <- {m.queue_arn.split(':')[-1]}")
            print(f"function logs: {runner.log_dir}")
        print(f"\nlocal cloud at {cloud.endpoint_url}; to use it from another shell:")
        for key, value in cloud.environment().items():
            print(f"  export {key}={value}")
        print("Ctrl-C stops it.", flush=True)
        while True:
            time.sleep(3600)
    except (AssemblyError, DeployError) as exc:
        print(f"sqs-blueprint local up: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopping the local cloud")
    finally:
        if runner is not None:
            runner.stop()
        cloud.stop()
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
    p.set_defaults(func=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from sqs_blueprint.local import demo

    return demo.main(args.cdk_out, args.messages, args.json)


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


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
