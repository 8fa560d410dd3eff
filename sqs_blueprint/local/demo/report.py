"""The demo's closing count: what it measured (at the server and in the queues),
and the table it prints."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqs_blueprint.payload import PayloadStore
from sqs_blueprint.redrive import inspect
from sqs_blueprint.upsert import item_key


@dataclass
class Summary:
    produced: int = 0
    unique: int = 0
    written: int = 0
    duplicates_absorbed: int = 0
    offloaded: int = 0
    dead_lettered: int = 0
    redriven: int = 0
    waiting_in_dlq: int = 0  # not written, kept in the dead-letter queue
    in_flight: int = 0  # not written, their messages still in the source queue
    lost: int = 0  # not written and nowhere to be found
    written_twice: int = 0  # keys the table's server wrote more than once
    max_write_rate_wcu: int = 0  # the most WCU written in one second, from the first write
    written_wcu: int = 0  # every WCU the write buffer's table was charged, metered
    provisioned_wcu: int = 0
    drain_s: float = 0.0  # until every record of the first pass was written
    ideal_drain_s: float = 0.0  # the WCU those writes cost, at the provisioned rate
    batch_size: int = 0
    max_concurrency: int = 0
    visibility_timeout_s: int = 0
    local_visibility_timeout_s: int = 0
    ordered: dict[str, Any] = field(default_factory=dict)
    alarms: dict[str, str] = field(default_factory=dict)  # each alarm's state at the end
    elapsed_s: float = 0.0
    completed: bool = False  # every record written, every account at its latest version
    traces: list[str] = field(default_factory=list)  # two records followed (demo/follow.py)
    # The local cloud's IAM check (sqs_blueprint.local.access): calls evaluated, denied, and
    # the grants of the deployed roles that no call used.
    iam_mode: str = ""
    calls_checked: int = 0
    denied: int = 0
    grants_never_used: int = 0


def depth(sqs: Any, url: str) -> int:
    """Messages in a queue, visible and in flight."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attrs[n]) for n in names)


def queue_name(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def metered_pk(metered_key: str) -> str:
    """The ``pk`` of a key as the meter records it (the table's key attributes as JSON)."""
    value: str = json.loads(metered_key)["pk"]["S"]
    return value


def keys_in(sqs: Any, s3: Any, dlq_url: str, key_fields: tuple[str, ...] | None) -> set[str]:
    """Keys of the records still waiting in a DLQ (kept, so not lost)."""
    resolver = PayloadStore(s3_client=s3)
    keys = set()
    for letter in inspect(dlq_url, sqs_client=sqs, resolver=resolver, limit=1000):
        if letter.body is not None:
            try:
                keys.add(item_key(json.loads(letter.body), key_fields))
            except (ValueError, TypeError):
                continue
    return keys


def stored_versions(ddb: Any, table: str) -> dict[str, int]:
    """Each account's version in the ordered pipeline's table."""
    rows = ddb.scan(TableName=table)["Items"]
    return {r["account"]["S"]: int(r["version"]["N"]) for r in rows}


def ordered_result(
    ddb: Any, sqs: Any, table: str, dlq_url: str, final: dict[str, int]
) -> dict[str, Any]:
    stored = stored_versions(ddb, table)
    wrong = sorted(a for a, v in final.items() if stored.get(a) != v)
    return {
        "accounts": len(final),
        "latest_versions_kept": len(final) - len(wrong),
        "dead_lettered": depth(sqs, dlq_url),
        "lost": len(wrong),
    }


def _rate(summary: Summary) -> str:
    rate = (
        f"{summary.max_write_rate_wcu} WCU in one second, of {summary.provisioned_wcu} "
        "provisioned (metered at the server)"
    )
    if summary.max_write_rate_wcu > summary.provisioned_wcu:
        rate += ": OVER the provisioned rate, which DynamoDB serves only from burst capacity"
    return rate


def _drain(summary: Summary) -> str:
    """The first pass's drain time against the ideal (its metered WCU / provisioned WCU)."""
    if not summary.drain_s or not summary.ideal_drain_s:
        return f"{summary.drain_s:g} s"
    ratio = summary.drain_s / summary.ideal_drain_s
    return (
        f"{summary.drain_s:g} s, {ratio:.2f}x the ideal {summary.ideal_drain_s:g} s "
        f"(the WCU written / {summary.provisioned_wcu} provisioned WCU a second)"
    )


def _alarms(summary: Summary) -> str:
    firing = sum(state == "ALARM" for state in summary.alarms.values())
    return f"{len(summary.alarms)} evaluated locally, {firing} in ALARM at the end"


def render(summary: Summary) -> str:
    """The closing table."""
    ordered = summary.ordered
    rows: list[tuple[str, str]] = [
        ("produced", str(summary.produced)),
        ("unique", str(summary.unique)),
        ("written", str(summary.written)),
        ("duplicates absorbed", str(summary.duplicates_absorbed)),
        ("offloaded to S3", str(summary.offloaded)),
        ("dead-lettered", str(summary.dead_lettered)),
        ("redriven", str(summary.redriven)),
        ("waiting in the DLQ", str(summary.waiting_in_dlq)),
        ("still in flight", str(summary.in_flight)),
        ("lost", str(summary.lost)),
        ("written twice", str(summary.written_twice)),
        ("highest write rate", _rate(summary)),
        ("drain", _drain(summary)),
        ("batch size", str(summary.batch_size)),
        ("max concurrency", str(summary.max_concurrency)),
        (
            "visibility timeout",
            f"{summary.visibility_timeout_s} s deployed "
            f"({summary.local_visibility_timeout_s} s locally)",
        ),
        (
            "ordered pipeline",
            f"{ordered.get('latest_versions_kept', 0)}/{ordered.get('accounts', 0)} accounts at "
            f"their latest version, {ordered.get('dead_lettered', 0)} malformed update "
            "dead-lettered",
        ),
        ("calls checked", f"{summary.calls_checked} (IAM {summary.iam_mode or 'off'})"),
        ("denied", str(summary.denied)),
        ("grants never used", str(summary.grants_never_used)),
        ("alarms", _alarms(summary)),
        ("elapsed", f"{summary.elapsed_s:g} s"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k:<{width}}  {v}" for k, v in rows)


def closing(summary: Summary) -> str:
    """Step 7: the table, and what is missing when the story did not complete."""
    text = "7. Summary\n" + render(summary)
    if not summary.completed:
        text += (
            f"\n  NOT COMPLETED: {summary.unique - summary.written} of {summary.unique} records "
            f"not written ({summary.waiting_in_dlq} in the DLQ, {summary.in_flight} in "
            f"flight, {summary.lost} lost)"
        )
    return text
