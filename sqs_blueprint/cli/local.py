"""``sqs-blueprint local`` (the local cloud: up, deploy) and ``sqs-blueprint demo``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from sqs_blueprint.cli._parsing import Subparsers, int_in

_PORT = int_in(0, 65535)
_ANY_STAGE_HELP = "deploy a blueprint assembly of a stage other than local"
_IAM_HELP = (
    "the local cloud's IAM check: enforce (a call AWS would deny fails with AccessDenied), "
    "audit (it goes through and is reported) or off; default: $SQS_BLUEPRINT_LOCAL_IAM, "
    "else enforce"
)
_IAM_MODES = ("enforce", "audit", "off")


def add(sub: Subparsers) -> None:
    local = sub.add_parser("local", help="the local cloud: synthesized stacks in moto")
    local_sub = local.add_subparsers(dest="local_command", required=True, metavar="COMMAND")
    p = local_sub.add_parser(
        "up", help="deploy cdk.out into moto and run its event-source mappings until Ctrl-C"
    )
    p.add_argument("--cdk-out", default="cdk.out", help="the synthesized cloud assembly")
    p.add_argument("--port", type=_PORT, default=0, help="embedded server port (0: a free one)")
    p.add_argument("--endpoint-url", help="deploy into this running moto server instead")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--no-run", action="store_true", help="deploy only, do not run the mappings")
    p.add_argument("--any-stage", action="store_true", help=_ANY_STAGE_HELP)
    p.add_argument("--keep", action="store_true", help="keep the function logs' folder on exit")
    p.add_argument("--iam", choices=_IAM_MODES, help=_IAM_HELP)
    p.set_defaults(func=_run_up)
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
    p.add_argument("--any-stage", action="store_true", help=_ANY_STAGE_HELP)
    p.set_defaults(func=_run_deploy)


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


def _assembly(args: argparse.Namespace) -> Any:
    """The assembly in ``--cdk-out``, refused if it is another blueprint stage than local
    (unless ``--any-stage``), before anything starts."""
    from sqs_blueprint.local import read_assembly

    assembly = read_assembly(args.cdk_out)
    if not args.any_stage:
        assembly.check_local_stage()
    return assembly


class _Stopped(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; ``code`` is the shell's exit status for it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.code = 128 + signum


def _stop_on_signals() -> None:
    """Turn SIGINT and SIGTERM into :class:`_Stopped`, also when the shell started this
    process with SIGINT ignored (a background job of a script)."""
    import signal

    def stop(signum: int, frame: object) -> None:
        raise _Stopped(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)


def _connect(args: argparse.Namespace) -> Any:
    from sqs_blueprint.local import LocalCloud, LocalCloudError

    try:
        return LocalCloud.connect(args.endpoint_url, region=args.region)
    except LocalCloudError as error:
        raise LocalCloudError(f"{error}, or leave out --endpoint-url to embed one") from error


def _run_up(args: argparse.Namespace) -> int:
    import shutil
    import tempfile
    import time
    from pathlib import Path

    from sqs_blueprint.local import LocalCloud
    from sqs_blueprint.local.deploy import deploy_assembly
    from sqs_blueprint.local.runner import LocalRunner

    assembly = _assembly(args)
    _stop_on_signals()
    if args.endpoint_url:
        cloud = _connect(args)
    else:
        cloud = LocalCloud.start(port=args.port, region=args.region, iam=args.iam)
    runner: LocalRunner | None = None
    alarms: Any = None
    logs: Path | None = None
    try:
        _print_stacks(deploy_assembly(cloud, assembly))
        if not args.no_run:
            logs = Path(tempfile.mkdtemp(prefix="sqs-blueprint-local-"))
            runner = LocalRunner(cloud, log_dir=logs).start()
            for m in runner.mappings:
                print(f"running {m.function_name} <- {m.queue_arn.split(':')[-1]}")
            alarms = _watch_alarms(cloud, runner)
            kept = "kept on exit" if args.keep else "removed on exit unless --keep"
            print(f"function logs: {logs} ({kept})")
        print(f"\nlocal cloud at {cloud.endpoint_url}; to use it from another shell:")
        for key, value in cloud.environment().items():
            print(f"  export {key}={value}")
        if cloud.access is not None and cloud.access.mode != "off":
            print(f"IAM {cloud.access.mode}: those keys act as the account's administrator; to")
            print("act as a deployed role (a worker's, say) set AWS_ACCESS_KEY_ID to its name:")
            for role in sorted(cloud.access.policies.identity):
                print(f"  {role}")
        print(
            "After `make synth STAGE=local`, update it with: sqs-blueprint local deploy "
            f"--cdk-out {args.cdk_out} --endpoint-url {cloud.endpoint_url}"
        )
        print("Ctrl-C stops it.", flush=True)
        while True:
            time.sleep(3600)
    except _Stopped as stopped:
        print("stopping the local cloud", flush=True)
        return stopped.code
    finally:
        if alarms is not None:
            alarms.stop()
        if runner is not None:
            runner.stop()
        cloud.stop()
        if logs is not None and not args.keep:
            shutil.rmtree(logs, ignore_errors=True)


def _watch_alarms(cloud: Any, runner: Any) -> Any:
    """The deployed alarms evaluated while ``local up`` runs, each change printed."""
    from sqs_blueprint.local.alarm_watch import DEFAULT_SCALE, AlarmWatch, Change

    def tell(change: Change) -> None:
        if "ALARM" in (change.old, change.new):
            print(change, flush=True)

    watch = AlarmWatch(cloud, stats=lambda: runner.stats().functions, notify=tell).start()
    print(
        f"alarms: {len(watch.alarms)} evaluated locally, periods {DEFAULT_SCALE:g}x shorter "
        f"(a 300 s period lasts {300 / DEFAULT_SCALE:g} s); moves into and out of ALARM are "
        "printed here"
    )
    return watch


def _run_deploy(args: argparse.Namespace) -> int:
    from sqs_blueprint.local import LocalCloud
    from sqs_blueprint.local.deploy import deploy_assembly

    assembly = _assembly(args)
    cloud = LocalCloud.connect(args.endpoint_url, region=args.region)
    _print_stacks(deploy_assembly(cloud, assembly, update=True))
    return 0


def add_demo(sub: Subparsers) -> None:
    p = sub.add_parser(
        "demo", help="the blueprint end to end on the local cloud (make demo synthesizes first)"
    )
    p.add_argument(
        "--cdk-out",
        default="cdk.out.local",
        help="the local stage's assembly (synthesized there if the folder has none)",
    )
    p.add_argument(
        "--messages",
        type=int,
        default=200,
        help=(
            "ordinary write-buffer records (at least 20); the demo sends about "
            "1.3 messages a record plus up to 1,011 ordered updates. The drain takes about "
            "2 WCU a record (a tenth are 20 KB bodies) at the table's provisioned WCU a "
            "second: 100 WCU locally, so above a few thousand records raise it with --wcu. "
            "No upper bound is enforced; the largest run measured is 100,000 with "
            "--wcu 1000: about 7 minutes on 2 cores, its drain 1.05x the ideal 200 s, "
            "about 3 GB of memory at its peak (Benchmarks)"
        ),
    )
    p.add_argument(
        "--wcu",
        type=int,
        default=None,
        help=(
            "write capacity units for the write buffer's table (1..40,000; default: the "
            "local stage's 100); the consumers' write budget scales with it"
        ),
    )
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (function logs)")
    p.add_argument(
        "--verbose",
        action="store_true",
        help="list what is not applied locally, and the grants no call used",
    )
    p.add_argument("--iam", choices=_IAM_MODES, help=_IAM_HELP)
    p.set_defaults(func=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from sqs_blueprint.local import demo

    return demo.main(
        args.cdk_out,
        args.messages,
        args.json,
        keep=args.keep,
        verbose=args.verbose,
        wcu=args.wcu,
        iam=args.iam,
    )
