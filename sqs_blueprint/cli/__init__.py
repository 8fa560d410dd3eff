"""The ``sqs-blueprint`` command.

One module per command group (``plan``, ``rpc``, ``send``, ``worker``, ``dlq``,
``trace``, ``local`` with ``demo``): each has an ``add(subparsers)`` that registers its
arguments and sets ``func`` to a ``(args) -> int`` function. :func:`main` is the
one place that turns an error into one line on stderr and an exit code: 2 for
bad input (argparse, :class:`~sqs_blueprint.errors.UsageError`), 1 for a failure
at run time (any other error of the family, or an AWS error).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import cast

from sqs_blueprint.cli import dlq, local, plan, publish, rpc, send, trace, worker
from sqs_blueprint.cli._parsing import Parser, Subparsers
from sqs_blueprint.errors import SqsBlueprintError

__all__ = ["main"]

# The arguments that name a queue, by command: send, worker and rpc take --queue-url, dlq --queue.
_QUEUE_FLAGS = ("queue_url", "queue")
_MISSING_QUEUE_CODES = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})

# Subcommand registrations, in the order `--help` lists them.
_COMMANDS: list[Callable[[Subparsers], None]] = [
    local.add_demo,
    plan.add,
    rpc.add,
    send.add,
    publish.add,
    worker.add,
    dlq.add,
    trace.add,
    local.add,
]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sqs-blueprint")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="sqs-blueprint",
        description="Operate systems decoupled by Amazon SQS.",
        epilog="Exit codes: 0 done, 1 failed at run time (AWS, missing queue), 2 bad input.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = cast(  # every subparser is a Parser; the add functions take the base type
        "Subparsers", parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    )
    for register in _COMMANDS:
        register(sub)
    return parser


def _command(args: argparse.Namespace) -> str:
    """``sqs-blueprint <command> [<subcommand>]``, for error lines."""
    words = [args.command, getattr(args, f"{args.command}_command", None)]
    return " ".join(["sqs-blueprint", *filter(None, words)])


def _missing_queue_line(args: argparse.Namespace) -> str:
    """The missing-queue line, naming the flag that gave the queue (if one did)."""
    given = [(f"--{dest.replace('_', '-')}", getattr(args, dest, None)) for dest in _QUEUE_FLAGS]
    flag, queue = next(((f, q) for f, q in given if q), (None, "given"))
    check = f"{flag}, " if flag else ""
    return (
        f"queue {queue} does not exist in this account and region "
        f"(check {check}AWS_DEFAULT_REGION and AWS_ENDPOINT_URL)"
    )


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
        if exc.response.get("Error", {}).get("Code") in _MISSING_QUEUE_CODES:
            return _missing_queue_line(args), 1
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
