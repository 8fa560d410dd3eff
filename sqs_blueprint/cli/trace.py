"""``sqs-blueprint trace ID``: one record's life, from producer to DynamoDB.

ID is a message id, a trace id (X-Ray's ``1-…`` or 32 hex digits) or an item key.
With ``--local DIR`` (the local cloud's function logs folder, which ``local up``
prints and ``demo --keep`` keeps) it reads what the local cloud collected;
otherwise it asks AWS: CloudWatch Logs Insights over the stage's log groups
(``--log-group``, or every group under ``--log-group-prefix``) and X-Ray.
Exit 1 when nothing names the id.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sqs_blueprint.cli._parsing import Subparsers
from sqs_blueprint.errors import SqsBlueprintError, UsageError

MAX_LOG_GROUPS = 50  # Logs Insights' limit for one query


def add(sub: Subparsers) -> None:
    p = sub.add_parser(
        "trace", help="follow one record: sent, received, dead-lettered, redriven, written"
    )
    p.add_argument("ident", metavar="ID", help="a message id, a trace id or an item key")
    p.add_argument("--local", metavar="DIR", help="the local cloud's function logs folder")
    p.add_argument(
        "--log-group", action="append", default=[], help="a log group to search (repeatable)"
    )
    p.add_argument(
        "--log-group-prefix",
        default="/aws/lambda/",
        help="search the log groups under this prefix (default /aws/lambda/), without --log-group",
    )
    p.add_argument("--since", type=float, default=24.0, help="hours back to search (default 24)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if args.since <= 0:
        raise UsageError(f"--since {args.since:g}: must be a number of hours greater than 0")
    if args.local:
        from sqs_blueprint.local.spans import local_story

        folder = Path(args.local)
        if not folder.is_dir():
            raise UsageError(f"--local {folder}: no such folder (local up prints its logs folder)")
        found = local_story(folder, args.ident)
    else:
        found = _aws(args)
    for line in found.lines():
        print(line)
    if not found.steps:
        raise SqsBlueprintError(f"nothing names {args.ident}: no span and no log line")
    return 0


def _aws(args: argparse.Namespace) -> Any:
    import boto3

    from sqs_blueprint.trace_aws import aws_story, check_ident

    check_ident(args.ident)
    logs = boto3.client("logs")
    groups, more = list(args.log_group), False
    if not groups:
        pages = logs.get_paginator("describe_log_groups").paginate(
            logGroupNamePrefix=args.log_group_prefix
        )
        groups = [g["logGroupName"] for page in pages for g in page.get("logGroups", [])]
        more = len(groups) > MAX_LOG_GROUPS
    found = aws_story(
        args.ident,
        log_groups=groups[:MAX_LOG_GROUPS],
        since_s=args.since * 3600,
        logs_client=logs,
        xray_client=boto3.client("xray"),
    )
    if more:
        found.unseen.append(
            f"log groups past the first {MAX_LOG_GROUPS} under {args.log_group_prefix} "
            "(name them with --log-group)"
        )
    return found
