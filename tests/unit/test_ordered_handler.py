"""The ordered (FIFO) Lambda handler on moto: order after a failure, versioned no-ops."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from sqs_blueprint.backoff import Backoff, Retrier
from sqs_blueprint.payload import PayloadStore
from sqs_blueprint.producer import Message, Producer
from sqs_blueprint.write_buffer import WriteBuffer
from tests.unit.lambda_events import FakeContext, failed_ids, load_handler, receive_event
from tests.unit.s3_faults import fail_get_object
from tests.unit.tables import create_table

TABLE, BUCKET = "events", "payloads"


@pytest.fixture
def env(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    ddb = boto3.client("dynamodb")
    create_table(ddb, TABLE, wcu=5)
    sqs = boto3.client("sqs")
    url = sqs.create_queue(
        QueueName="events.fifo", Attributes={"FifoQueue": "true", "VisibilityTimeout": "30"}
    )["QueueUrl"]
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("KEY_FIELDS", "account")
    monkeypatch.setenv("VERSION_FIELD", "version")
    monkeypatch.setenv("PAYLOAD_BUCKET", BUCKET)
    buffer = WriteBuffer.from_env(dynamodb_client=ddb)
    yield {
        "sqs": sqs,
        "url": url,
        "ddb": ddb,
        "handler": load_handler("ordered"),
        "buffer": buffer,
        "retrier": Retrier(buffer.settings.retry),
    }


def call(env: dict[str, Any], event: dict[str, Any], context: FakeContext) -> dict[str, Any]:
    """The handler with this test's write buffer and backoff."""
    response: dict[str, Any] = env["handler"].handle(event, context, env["buffer"], env["retrier"])
    return response


def send(env: dict[str, Any], group: str, *bodies: dict[str, Any] | str) -> list[str]:
    messages = [Message(b if isinstance(b, str) else json.dumps(b), group_id=group) for b in bodies]
    result = Producer(env["url"], sqs_client=env["sqs"]).send_many(messages)
    assert not result.failed
    return [s.message_id for s in sorted(result.sent, key=lambda s: s.index)]


def stored(env: dict[str, Any]) -> dict[str, int]:
    rows = env["ddb"].scan(TableName=TABLE)["Items"]
    return {r["account"]["S"]: int(r["version"]["N"]) for r in rows}


def invoke(env: dict[str, Any]) -> dict[str, Any]:
    """One poll as the event-source mapping does it: successes are deleted."""
    event = receive_event(env["sqs"], env["url"])
    response: dict[str, Any] = call(env, event, FakeContext())
    failed = set(failed_ids(response))
    for record in event["Records"]:
        if record["messageId"] not in failed:
            env["sqs"].delete_message(QueueUrl=env["url"], ReceiptHandle=record["receiptHandle"])
    return response


def test_a_failure_holds_back_only_its_own_group(env: dict[str, Any]) -> None:
    first, bad, later = send(
        env, "g1", {"account": "a", "version": 1}, "not json", {"account": "a", "version": 2}
    )
    (other,) = send(env, "g2", {"account": "b", "version": 1})
    event = receive_event(env["sqs"], env["url"])
    assert [r["messageId"] for r in event["Records"]] == [first, bad, later, other]
    response = call(env, event, FakeContext())
    assert failed_ids(response) == [bad, later]
    # Version 2 of "a" waits behind the poison record, in order; group g2 went on.
    assert stored(env) == {"a": 1, "b": 1}


def test_an_older_version_is_an_acknowledged_no_op(env: dict[str, Any]) -> None:
    send(env, "g1", {"account": "a", "version": 5, "note": "new"})
    assert invoke(env) == {"batchItemFailures": []}
    send(
        env,
        "g1",
        {"account": "a", "version": 3, "note": "replayed"},
        {"account": "a", "version": 5, "note": "dup"},
    )
    assert invoke(env) == {"batchItemFailures": []}
    (row,) = env["ddb"].scan(TableName=TABLE)["Items"]
    assert row["version"]["N"] == "5" and row["note"]["S"] == "new"


def test_a_record_without_a_numeric_version_fails(env: dict[str, Any]) -> None:
    ids = send(env, "g1", {"account": "a", "version": "two"})
    with pytest.raises(BatchProcessingError):
        invoke(env)
    assert stored(env) == {} and len(ids) == 1


def test_a_good_batch_keeps_order_within_the_group(env: dict[str, Any]) -> None:
    writes: list[tuple[str, str]] = []  # (account, version) of each PutItem, in call order

    def record_write(params: dict[str, Any], **_: Any) -> None:
        item = params["Item"]
        writes.append((item["account"]["S"], item["version"]["N"]))

    env["ddb"].meta.events.register("provide-client-params.dynamodb.PutItem", record_write)
    send(env, "g1", *({"account": "a", "version": v} for v in range(1, 8)))
    send(env, "g2", {"account": "z", "version": 1})
    polls = 0
    while (
        env["sqs"].get_queue_attributes(
            QueueUrl=env["url"], AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        != "0"
    ):
        assert invoke(env) == {"batchItemFailures": []}
        polls += 1
    assert 1 <= polls <= 8
    assert stored(env) == {"a": 7, "z": 1}
    # Every version was written, in the order sent: a reordering shows here even though
    # versioned mode would still end at version 7.
    assert [v for account, v in writes if account == "a"] == [str(v) for v in range(1, 8)]
    assert ("z", "1") in writes


def test_an_equal_version_is_a_no_op_in_one_event_and_across_events(env: dict[str, Any]) -> None:
    send(
        env,
        "g1",
        {"account": "a", "version": 2, "note": "first"},
        {"account": "a", "version": 2.0, "note": "same version"},
    )
    assert invoke(env) == {"batchItemFailures": []}
    send(env, "g1", {"account": "a", "version": 2e0, "note": "later, same version"})
    assert invoke(env) == {"batchItemFailures": []}
    (row,) = env["ddb"].scan(TableName=TABLE)["Items"]
    assert row["note"]["S"] == "first"


@pytest.mark.parametrize("code", ["AccessDenied", "InternalError", "SlowDown"])
def test_a_payload_s3_refuses_holds_back_only_its_group(env: dict[str, Any], code: str) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    store = PayloadStore(BUCKET, s3_client=s3, always=True)
    messages = [
        Message(json.dumps({"account": "a", "version": 1}), group_id="g1"),
        Message(json.dumps({"account": "a", "version": 2}), group_id="g1"),
        Message(json.dumps({"account": "a", "version": 3}), group_id="g1"),
        Message(json.dumps({"account": "b", "version": 1}), group_id="g2"),
    ]
    sent = Producer(env["url"], sqs_client=env["sqs"], payloads=store).send_many(messages)
    ids = [m.message_id for m in sorted(sent.sent, key=lambda m: m.index)]
    (bad_key,) = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]
        if s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() == messages[1].body.encode()
    ]
    faulty = boto3.client("s3")  # the handler's client, with the fault
    fail_get_object(faulty, bad_key, code)
    env["buffer"] = WriteBuffer.from_env(dynamodb_client=env["ddb"], s3_client=faulty)
    response = call(env, receive_event(env["sqs"], env["url"]), FakeContext())
    assert failed_ids(response) == ids[1:3]
    assert stored(env) == {"a": 1, "b": 1}


def test_a_deeply_nested_body_holds_back_only_its_group(env: dict[str, Any]) -> None:
    first, deep, later = send(
        env,
        "g1",
        {"account": "a", "version": 1},
        '{"account": "a", "version": 2, "x":' + "[" * 500 + "]" * 500 + "}",
        {"account": "a", "version": 3},
    )
    (other,) = send(env, "g2", {"account": "b", "version": 1})
    response = call(env, receive_event(env["sqs"], env["url"]), FakeContext())
    assert failed_ids(response) == [deep, later]
    assert stored(env) == {"a": 1, "b": 1} and first != other


# ---------------------------------------------------------------- retry backoff


def delayed(env: dict[str, Any], rand: float = 1.0) -> dict[str, int]:
    """Record the retry delays the handler sets: ``{receipt handle: seconds}``."""
    changes: dict[str, int] = {}

    def keep(params: dict[str, Any], **_: Any) -> None:
        assert params["QueueUrl"] == env["url"]
        changes.update((e["ReceiptHandle"], e["VisibilityTimeout"]) for e in params["Entries"])

    env["sqs"].meta.events.register("provide-client-params.sqs.ChangeMessageVisibilityBatch", keep)
    env["retrier"] = Retrier(Backoff(8, 64), sqs_client=env["sqs"], rand=lambda: rand)
    return changes


def test_the_backoff_delays_each_groups_first_failure_only(env: dict[str, Any]) -> None:
    changes = delayed(env)
    _, bad, _ = send(
        env, "g1", {"account": "a", "version": 1}, "not json", {"account": "a", "version": 2}
    )
    other_bad, _ = send(env, "g2", "[1]", {"account": "b", "version": 1})
    event = receive_event(env["sqs"], env["url"])
    handle = {r["messageId"]: r["receiptHandle"] for r in event["Records"]}
    response = call(env, event, FakeContext())
    assert len(failed_ids(response)) == 4
    assert changes == {handle[bad]: 8, handle[other_bad]: 8}


def test_a_batch_that_fails_whole_still_delays_each_groups_first(env: dict[str, Any]) -> None:
    changes = delayed(env, rand=0.5)
    first, _ = send(env, "g1", "not json", {"account": "a", "version": 1})
    (other,) = send(env, "g2", "[2]")
    event = receive_event(env["sqs"], env["url"])
    handle = {r["messageId"]: r["receiptHandle"] for r in event["Records"]}
    with pytest.raises(BatchProcessingError):
        call(env, event, FakeContext())
    assert changes == {handle[first]: 4, handle[other]: 4}


def test_the_delayed_first_failure_keeps_its_group_in_order(env: dict[str, Any]) -> None:
    delayed(env, rand=0.0)  # a 0 s delay: the failure is visible again at once
    bad, later = send(env, "g1", "not json", {"account": "a", "version": 2})
    send(env, "g2", {"account": "b", "version": 1})
    response = invoke(env)
    assert failed_ids(response) == [bad, later]
    # "later" kept the queue's 30 s; its group is blocked while it is in flight
    assert receive_event(env["sqs"], env["url"])["Records"] == []


def test_the_entry_point_reads_its_settings_once_per_environment(
    env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    send(env, "g1", {"account": "a", "version": 1})
    handler = env["handler"]
    event = receive_event(env["sqs"], env["url"])
    assert handler.lambda_handler(event, FakeContext()) == {"batchItemFailures": []}
    monkeypatch.setenv("TABLE_NAME", "not-read-again")
    send(env, "g2", {"account": "b", "version": 1})  # g1 is still in flight
    event = receive_event(env["sqs"], env["url"])
    assert handler.lambda_handler(event, FakeContext()) == {"batchItemFailures": []}
    assert stored(env) == {"a": 1, "b": 1}
