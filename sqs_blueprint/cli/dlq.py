"""``sqs-blueprint dlq``: inspect a dead-letter queue, redrive its messages, cancel a move."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TextIO

from sqs_blueprint.cli._parsing import Subparsers
from sqs_blueprint.limits import SQS_MAX_MOVE_RATE

if TYPE_CHECKING:
    from sqs_blueprint.console import Progress
    from sqs_blueprint.redrive import DeadLetter, RedriveResult, Survey


def add(sub: Subparsers) -> None:
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
    p.set_defaults(func=_inspect)
    p = dlq_sub.add_parser("redrive", help="move dead letters back to their source queue")
    p.add_argument("--queue", required=True, help="DLQ URL, name or ARN")
    p.add_argument("--to", help="destination queue (default: the one source the DLQ serves)")
    p.add_argument("--rate", type=int, help=f"messages per second (1..{SQS_MAX_MOVE_RATE})")
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
    p.set_defaults(func=_redrive)
    p = dlq_sub.add_parser("cancel", help="cancel a running move task")
    p.add_argument("--task-handle", required=True, help="as printed by `dlq redrive`")
    p.set_defaults(func=_cancel)


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


def _unseen_because(queue: str) -> str:
    """Why letters of a DLQ (a URL, name or ARN: each ends with the name) were not seen."""
    if queue.endswith(".fifo"):
        return (
            "SQS hands out a FIFO message group's later letters only once the earlier ones "
            "leave the queue"
        )
    return "they arrived during the run, or a receive missed them"


def _inspect(args: argparse.Namespace) -> int:
    import json

    from sqs_blueprint import redrive

    url = redrive.queue_url(args.queue)
    sources = redrive.source_queues(url)
    buckets, fetched = _payload_buckets(url, args.bucket)
    survey = redrive.survey(url, limit=args.limit, buckets=buckets)
    letters = survey.letters
    code = _say_unseen(survey, url)
    if args.json:
        for letter in letters:
            row = {"queue": url, "sources": sources, "payload_buckets": buckets}
            print(json.dumps({**row, **letter.to_json()}))
        return code
    print(f"{url} serves: {', '.join(sources) or 'no source queue'}")
    print(fetched)
    shown = f"{len(letters)} message(s) shown"
    if survey.limited and survey.total > len(letters):
        shown += f" of about {survey.total} (--limit {args.limit})"
    print(f"{shown}, all handed back (none consumed)")
    if letters and sys.stdout.isatty():
        print(_letters_table(letters))
        return code
    for letter in letters:
        print(letter.summary())
    return code


def _say_unseen(survey: Survey, url: str) -> int:
    """Say on stderr what an inspection below its limit could not see; the exit code."""
    if not survey.blind:
        return 0
    print(
        f"sqs-blueprint dlq inspect: {survey.seen} of about {survey.total} letter(s) seen; "
        f"about {survey.unseen} not seen: {_unseen_because(url)}, and inspect consumes none",
        file=sys.stderr,
    )
    return 1


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


def _redrive(args: argparse.Namespace) -> int:
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
    unreached = _unreached(result, args.queue)
    if select is not None and result.chosen == 0 and result.status == "COMPLETED":
        what = f"--where {args.where!r}" if args.where is not None else "--id " + " ".join(args.ids)
        where = "in the DLQ"
        if unreached:
            where = f"seen of about {result.seen + result.unreached} in the DLQ; {unreached}"
        raise SqsBlueprintError(
            f"nothing matched {what} among the {result.skipped} message(s) {where}; "
            "nothing was moved"
        )
    code = _report(result, args.ids or (), say)
    if not unreached:
        return code
    total = result.seen + result.unreached
    say(f"{result.seen} of about {total} letter(s) examined; {unreached}: they stay in the DLQ")
    return 1


def _unreached(result: RedriveResult, queue: str) -> str:
    """How many letters a client-side run could not reach, and why; empty if none."""
    if not result.unreached:
        return ""
    return (
        f"about {result.unreached} could not be reached ({_unseen_because(queue)}, "
        "and letters not moved stay in it)"
    )


def _report(result: RedriveResult, ids: Sequence[str], say: Callable[[str], None]) -> int:
    """The redrive's summary on stdout, each message left behind on stderr; the exit code."""
    print(result.summary())
    for message_id, reason in {**result.failed, **result.duplicated}.items():
        where = "is in both queues" if message_id in result.duplicated else "stays in the DLQ"
        say(f"{message_id} {where}: {reason}")
    found = {*result.moved_ids, *result.failed, *result.duplicated}
    missing = sorted(set(ids) - found)
    if missing:
        say(f"not found in the DLQ: {', '.join(missing)}")
    return 0 if result.ok and not missing else 1


def _cancel(args: argparse.Namespace) -> int:
    from sqs_blueprint import redrive

    moved = redrive.cancel(args.task_handle)
    print(f"cancelling task {args.task_handle}; about {moved} message(s) already moved")
    return 0
