"""``sqs-blueprint publish``: try a pipeline's inputs (README "Inputs") from the command line.

``publish topic`` publishes one SNS message per input line (batches of 10, with
``--attribute`` message attributes for attribute filter policies); ``publish bus``
puts one EventBridge event per line (the line is the event's detail, a JSON object);
``publish bucket`` uploads one S3 object per line (``--prefix`` then a random name).
Each published line is a JSON line on stdout, each failed one on stderr (exit 1).
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqs_blueprint.cli._parsing import Subparsers
from sqs_blueprint.errors import UsageError

# SNS PublishBatch and EventBridge PutEvents take at most 10 entries per call.
_BATCH = 10
Lines = list[tuple[int, str]]


def add(sub: Subparsers) -> None:
    p = sub.add_parser(
        "publish",
        help="publish to a pipeline's input: an SNS topic, an event bus or an S3 bucket",
        description="Publish one message, event or object per input line to a pipeline's "
        "input (cdk.json 'inputs'), to see it arrive through SNS, EventBridge or S3.",
    )
    kinds = p.add_subparsers(dest="publish_command", required=True, metavar="INPUT")
    topic = kinds.add_parser("topic", help="one SNS message per line")
    topic.add_argument("--topic-arn", required=True, help="the topic (output Input<n>TopicArn)")
    topic.add_argument(
        "--attribute", action="append", default=[], metavar="NAME=VALUE", help="string attribute"
    )
    topic.add_argument("--group-id", help="message group of every message (FIFO topic)")
    topic.set_defaults(func=_run(_publish_topic))
    bus = kinds.add_parser("bus", help="one EventBridge event per line (the line is its detail)")
    bus.add_argument("--bus", default="default", help="event bus name or ARN")
    bus.add_argument("--source", required=True, help="the events' source (match your pattern)")
    bus.add_argument("--detail-type", required=True, help="the events' detail-type")
    bus.set_defaults(func=_run(_publish_bus))
    bucket = kinds.add_parser("bucket", help="one S3 object per line")
    bucket.add_argument("--bucket", required=True, help="the bucket (output Input<n>BucketName)")
    bucket.add_argument("--prefix", default="", help="key prefix (match your input's prefix)")
    bucket.add_argument("--suffix", default=".json", help="key suffix")
    bucket.set_defaults(func=_run(_publish_bucket))
    for kind in (topic, bus, bucket):
        kind.add_argument("file", nargs="?", default="-", help="input file, or - for stdin")


def _run(publish: Callable[[argparse.Namespace, Lines], list[dict[str, Any]]]) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {args.file}: {exc}") from exc
        lines = [(n, body) for n, body in enumerate(text.splitlines(), start=1) if body]
        results = publish(args, lines)
        for result in results:
            print(json.dumps(result), file=sys.stderr if "error" in result else sys.stdout)
        return 1 if any("error" in r for r in results) else 0

    return run


def _attributes(pairs: list[str]) -> dict[str, dict[str, str]]:
    attributes = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--attribute must be NAME=VALUE, got {pair!r}")
        attributes[name] = {"DataType": "String", "StringValue": value}
    return attributes


def _publish_topic(args: argparse.Namespace, lines: Lines) -> list[dict[str, Any]]:
    import boto3

    attributes = _attributes(args.attribute)
    fifo = args.topic_arn.endswith(".fifo")
    if fifo and not args.group_id:
        raise UsageError("a FIFO topic needs a message group: use --group-id")
    sns, results = boto3.client("sns"), []
    for start in range(0, len(lines), _BATCH):
        chunk = lines[start : start + _BATCH]
        entries = []
        for n, body in chunk:
            entry: dict[str, Any] = {"Id": str(n), "Message": body}
            if attributes:
                entry["MessageAttributes"] = attributes
            if fifo:
                entry["MessageGroupId"] = args.group_id
                entry["MessageDeduplicationId"] = uuid.uuid4().hex
            entries.append(entry)
        response = sns.publish_batch(TopicArn=args.topic_arn, PublishBatchRequestEntries=entries)
        results += [
            {"line": int(ok["Id"]), "message_id": ok["MessageId"]}
            for ok in response.get("Successful", [])
        ]
        results += [
            {"line": int(bad["Id"]), "error": f"{bad.get('Code')}: {bad.get('Message')}"}
            for bad in response.get("Failed", [])
        ]
    return sorted(results, key=lambda r: int(r["line"]))


def _publish_bus(args: argparse.Namespace, lines: Lines) -> list[dict[str, Any]]:
    import boto3

    bad = [n for n, body in lines if not _is_object(body)]
    if bad:
        raise UsageError(
            f"line {', '.join(map(str, bad[:5]))}: an event's detail must be a JSON object; "
            "nothing was published"
        )
    events, results = boto3.client("events"), []
    for start in range(0, len(lines), _BATCH):
        chunk = lines[start : start + _BATCH]
        entries = [
            {
                "EventBusName": args.bus,
                "Source": args.source,
                "DetailType": args.detail_type,
                "Detail": body,
            }
            for _, body in chunk
        ]
        response = events.put_events(Entries=entries)
        for (n, _), entry in zip(chunk, response["Entries"], strict=True):
            if entry.get("EventId"):
                results.append({"line": n, "event_id": entry["EventId"]})
            else:
                results.append(
                    {"line": n, "error": f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}"}
                )
    return results


def _publish_bucket(args: argparse.Namespace, lines: Lines) -> list[dict[str, Any]]:
    import boto3

    s3, results = boto3.client("s3"), []
    for n, body in lines:
        key = f"{args.prefix}{uuid.uuid4().hex}{args.suffix}"
        s3.put_object(Bucket=args.bucket, Key=key, Body=body.encode("utf-8"))
        results.append({"line": n, "bucket": args.bucket, "key": key})
    return results


def _is_object(body: str) -> bool:
    try:
        return isinstance(json.loads(body), dict)
    except ValueError:
        return False
