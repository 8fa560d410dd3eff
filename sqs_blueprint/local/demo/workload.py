"""What the demo sends: the write buffer's records (ordinary, duplicates, large
bodies through S3, a partner's untrusted payloads) and the ordered pipeline's
versioned updates (with replays and one malformed update)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqs_blueprint.errors import UsageError
from sqs_blueprint.messages import Failed, Sent
from sqs_blueprint.payload import PayloadStore
from sqs_blueprint.producer import Message, Producer

PARTNER_BUCKET = "partner-payloads"
# Large bodies go through S3 above the producer's threshold. The demo lowers it from
# 262,144 bytes (docs/aws-facts.md#extended-client-wire-format) to 8 KiB: each body
# becomes a DynamoDB item too, and a 300 KB item would cost 300 WCU of a table
# provisioned for 1 KB items.
LARGE_BODY_BYTES = 20_000
OFFLOAD_THRESHOLD = 8 * 1024
ACCOUNTS = 10
# The ordered story needs a few versions per account, not a share of a large run: its
# table is provisioned for 20 WCU, so 100 versions an account keep its drain near 50 s.
MAX_VERSIONS = 100
CHUNK = 500  # messages a producer call sends before the progress is told

Progress = Callable[[int], None]  # told how many more messages were sent


class DemoError(UsageError):
    """The demo could not run (for example, an assembly of another stage)."""


def partner_policy(role_arn: str, *, bucket: str = PARTNER_BUCKET) -> dict[str, Any]:
    """The partner's bucket policy that lets the consumer's role read its payloads: within an
    account a resource policy alone grants (docs/aws-facts.md#iam-evaluation)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": role_arn},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }


def buffer_workload(n: int) -> list[tuple[Message, str]]:
    """(message, kind) pairs: ordinary records, exact and reordered duplicates, large
    bodies, and records whose payloads a partner put in its own bucket."""
    plan: list[tuple[Message, str]] = []
    for i in range(n):
        record = {"order_id": f"o-{i:05d}", "customer": f"c-{i % 37}", "amount": round(i * 1.25, 2)}
        plan.append((Message(json.dumps(record)), "ordinary"))
        if i % 5 == 0:  # the same logical record again, fields in another order
            plan.append((Message(json.dumps(dict(reversed(record.items())))), "duplicate"))
    for i in range(max(2, n // 20)):
        large = {"order_id": f"big-{i}", "attachment": "x" * LARGE_BODY_BYTES}
        plan.append((Message(json.dumps(large)), "large"))
    for i in range(max(2, n // 20)):
        plan.append(
            (Message(json.dumps({"order_id": f"partner-{i}", "note": "p" * 100})), "partner")
        )
    return plan


def send_chunked(
    producer: Producer, messages: list[Message], progress: Progress | None
) -> tuple[list[Sent], list[Failed]]:
    """Send ``messages`` in calls of ``CHUNK``, telling ``progress`` after each; indexes
    in what is returned count from the start of ``messages``. Stops after a call with a
    failure, so that no later message of a FIFO group overtakes it."""
    sent: list[Sent] = []
    failed: list[Failed] = []
    for start in range(0, len(messages), CHUNK):
        chunk = messages[start : start + CHUNK]
        result = producer.send_many(chunk)
        sent += [replace(s, index=s.index + start) for s in result.sent]
        failed += [replace(f, index=f.index + start) for f in result.failed]
        if progress is not None:
            progress(len(chunk))
        if failed:
            break
    return sent, failed


def send_buffer_workload(
    sqs: Any,
    s3: Any,
    url: str,
    bucket: str,
    plan: list[tuple[Message, str]],
    progress: Progress | None = None,
) -> int:
    """Send the write buffer's workload; returns how many bodies went through S3."""
    store = PayloadStore(bucket, s3_client=s3, threshold=OFFLOAD_THRESHOLD)
    ours = Producer(url, sqs_client=sqs, payloads=store)
    partner = Producer(
        url, sqs_client=sqs, payloads=PayloadStore(PARTNER_BUCKET, s3_client=s3, always=True)
    )
    offloaded = 0
    for producer, kinds in ((ours, {"ordinary", "duplicate", "large"}), (partner, {"partner"})):
        sent, failed = send_chunked(producer, [m for m, k in plan if k in kinds], progress)
        if failed:
            raise DemoError(f"{len(failed)} messages could not be sent: {failed[0]}")
        offloaded += sum(1 for s in sent if s.offloaded)
    return offloaded


def ordered_workload(n: int) -> tuple[list[Message], dict[str, int]]:
    """Versioned updates per account (one message group each), replays of old
    versions, and a malformed last update for one account."""
    per_account = max(2, min(MAX_VERSIONS, n // (2 * ACCOUNTS)))
    messages: list[Message] = []
    final: dict[str, int] = {}
    for a in range(ACCOUNTS):
        account = f"acct-{a}"
        for version in range(1, per_account + 1):
            body = {"account": account, "version": version, "balance": version * 10}
            messages.append(Message(json.dumps(body), group_id=account))
        replay = {"account": account, "version": 1, "balance": 10, "replayed": True}
        messages.append(Message(json.dumps(replay), group_id=account))
        final[account] = per_account
    messages.append(
        Message(json.dumps({"account": "acct-3", "version": "latest"}), group_id="acct-3")
    )
    return messages, final


def send_ordered_workload(
    sqs: Any, url: str, events: list[Message], progress: Progress | None = None
) -> dict[str, str]:
    """Send the ordered updates; the message group of each message id SQS returned."""
    sent, failed = send_chunked(Producer(url, sqs_client=sqs), events, progress)
    if failed:
        raise DemoError(f"{len(failed)} updates could not be sent: {failed[0]}")
    return {s.message_id: events[s.index].group_id or "" for s in sent}
