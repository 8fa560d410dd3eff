"""The write-buffer Lambda handler on moto, with real Powertools and Lambda-shaped events."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from sqs_blueprint.backoff import Backoff, Retrier
from sqs_blueprint.capacity import share
from sqs_blueprint.payload import PayloadStore
from sqs_blueprint.producer import Producer
from sqs_blueprint.write_buffer import SettingsError, WriteBuffer, WriteBufferSettings, wcu_text
from tests.unit.lambda_events import FakeContext, failed_ids, load_handler, receive_event
from tests.unit.s3_faults import fail_get_object
from tests.unit.tables import create_table

TABLE, BUCKET, OTHER_BUCKET = "items", "payloads", "elsewhere"


@pytest.fixture
def env(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    ddb = boto3.client("dynamodb")
    create_table(ddb, TABLE, wcu=10)
    s3 = boto3.client("s3")
    for bucket in (BUCKET, OTHER_BUCKET):
        s3.create_bucket(Bucket=bucket)
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="ingest")["QueueUrl"]
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("PAYLOAD_BUCKET", BUCKET)
    monkeypatch.setenv("KEY_FIELDS", "id")
    calls: list[str] = []
    ddb.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.append(model.name))
    buffer = WriteBuffer.from_env(dynamodb_client=ddb)
    yield {
        "sqs": sqs,
        "url": url,
        "ddb": ddb,
        "s3": s3,
        "handler": load_handler("write_buffer"),
        "buffer": buffer,
        "retrier": Retrier(buffer.settings.retry),
        "calls": calls,
    }


def call(env: dict[str, Any], event: dict[str, Any], context: FakeContext) -> dict[str, Any]:
    """The handler with this test's write buffer and backoff."""
    response: dict[str, Any] = env["handler"].handle(event, context, env["buffer"], env["retrier"])
    return response


def send(env: dict[str, Any], *bodies: str, store: PayloadStore | None = None) -> list[str]:
    result = Producer(env["url"], sqs_client=env["sqs"], payloads=store).send_many(bodies)
    assert not result.failed
    return [s.message_id for s in sorted(result.sent, key=lambda s: s.index)]


def items(env: dict[str, Any]) -> list[dict[str, Any]]:
    return env["ddb"].scan(TableName=TABLE)["Items"]  # type: ignore[no-any-return]


def invoke(env: dict[str, Any], **context: Any) -> dict[str, Any]:
    event = receive_event(env["sqs"], env["url"], max_messages=25)
    return call(env, event, FakeContext(**context))  # type: ignore[no-any-return]


def test_good_records_are_written_in_one_batched_request(env: dict[str, Any]) -> None:
    send(env, *(json.dumps({"id": i, "v": i * 1.5}) for i in range(10)))
    response = invoke(env)
    assert response == {"batchItemFailures": []}
    assert len(items(env)) == 10
    assert env["calls"].count("BatchWriteItem") == 1 and "PutItem" not in env["calls"]


def test_duplicates_change_nothing(env: dict[str, Any]) -> None:
    send(env, '{"id": 1, "a": 1}', '{"a": 1, "id": 1}', '{"id":1,"a":1}', '{"id": 2}')
    assert invoke(env) == {"batchItemFailures": []}
    send(env, '{"id": 1, "a": 1}')
    assert invoke(env) == {"batchItemFailures": []}
    assert sorted(int(i["id"]["N"]) for i in items(env)) == [1, 2]


def test_each_kind_of_poison_fails_alone(env: dict[str, Any]) -> None:
    good = send(env, '{"id": "ok-1"}', '{"id": "ok-2"}')
    poison = send(env, "not json", "[1, 2]", '{"no_id": 1}', '{"id": 3, "pk": "mine"}')
    poison += send(
        env,
        '{"id": "deep", "x":' + "[" * 500 + "]" * 500 + "}",
        "[" * 100_000 + "]" * 100_000,
        '{"id": 123456789012345678901234567890123456789}',
        '{"id": "huge", "n": 1e126}',
        '{"id": "surrogate", "s": "\\ud800"}',
    )
    # A pointer to a missing object, one to a bucket not allowed, and an item over 400 KB.
    missing = PayloadStore(BUCKET, s3_client=env["s3"], always=True)
    poison += send(env, '{"id": "gone"}', store=missing)
    env["s3"].delete_object(
        Bucket=BUCKET, Key=env["s3"].list_objects_v2(Bucket=BUCKET)["Contents"][0]["Key"]
    )
    poison += send(
        env, '{"id": "foreign"}', store=PayloadStore(OTHER_BUCKET, s3_client=env["s3"], always=True)
    )
    poison += send(
        env,
        json.dumps({"id": "big", "blob": "x" * 410_000}),
        store=PayloadStore(BUCKET, s3_client=env["s3"]),
    )
    response = invoke(env)
    assert sorted(failed_ids(response)) == sorted(poison)
    assert sorted(i["id"]["S"] for i in items(env)) == ["ok-1", "ok-2"]
    assert set(good).isdisjoint(failed_ids(response))


def test_offloaded_bodies_are_resolved(env: dict[str, Any]) -> None:
    store = PayloadStore(BUCKET, s3_client=env["s3"])
    body = json.dumps({"id": "large", "blob": "é" * 200_000})
    send(env, body, store=store)
    assert invoke(env) == {"batchItemFailures": []}
    (item,) = items(env)
    assert item["blob"]["S"] == "é" * 200_000


def test_throttling_is_retried_and_nothing_is_lost(env: dict[str, Any]) -> None:
    throttles = {"left": 3}

    def throttle(**_: Any) -> None:
        if throttles["left"]:
            throttles["left"] -= 1
            raise ClientError(
                {
                    "Error": {
                        "Code": "ProvisionedThroughputExceededException",
                        "Message": "slow down",
                    }
                },
                "BatchWriteItem",
            )

    env["ddb"].meta.events.register("before-call.dynamodb.BatchWriteItem", throttle)
    send(env, *(json.dumps({"id": i}) for i in range(5)))
    assert invoke(env) == {"batchItemFailures": []}
    assert throttles["left"] == 0 and len(items(env)) == 5


class FakeTime:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_records_not_written_in_time_are_reported_at_the_deadline(env: dict[str, Any]) -> None:
    attempts: list[float] = []
    t = FakeTime()

    def always_throttle(**_: Any) -> None:
        attempts.append(t.now)
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
            "BatchWriteItem",
        )

    env["ddb"].meta.events.register("before-call.dynamodb.BatchWriteItem", always_throttle)
    env["buffer"] = WriteBuffer.from_env(dynamodb_client=env["ddb"], clock=t.clock, sleep=t.sleep)
    ids = send(env, '{"id": 1}', '{"id": 2}')
    # 2.5 s left and a 2 s margin: retries for half a second of the injected clock, then
    # both records are reported (20 s, the configured deadline, would be the wrong one).
    with pytest.raises(BatchProcessingError):
        invoke(env, remaining_ms=2_500)
    env["ddb"].meta.events.unregister("before-call.dynamodb.BatchWriteItem", always_throttle)
    assert items(env) == [] and len(ids) == 2
    assert len(attempts) > 1 and attempts[-1] == pytest.approx(0.5)


def test_a_batch_with_only_poison_returns_whole(env: dict[str, Any]) -> None:
    send(env, "nope", "{bad")
    with pytest.raises(BatchProcessingError):
        invoke(env)


def test_log_lines_carry_the_message_id(env: dict[str, Any]) -> None:
    stream = io.StringIO()
    env["handler"].logger.registered_handler.setStream(stream)
    (bad,) = send(env, "not json")
    send(env, '{"id": 1}')
    invoke(env)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    failures = [line for line in lines if line["message"] == "record failed"]
    assert len(failures) == 1 and failures[0]["correlation_id"] == bad


def offload_faulty(env: dict[str, Any], code: str) -> tuple[list[str], str]:
    """Two inline records, one offloaded that reads fine, one whose read fails with ``code``."""
    store = PayloadStore(BUCKET, s3_client=env["s3"], always=True)
    good = send(env, '{"id": "a"}', '{"id": "b"}') + send(env, '{"id": "big-ok"}', store=store)
    (bad,) = send(env, '{"id": "big-bad"}', store=store)
    keys = [o["Key"] for o in env["s3"].list_objects_v2(Bucket=BUCKET)["Contents"]]
    bad_key = next(
        k
        for k in keys
        if env["s3"].get_object(Bucket=BUCKET, Key=k)["Body"].read() == b'{"id": "big-bad"}'
    )
    return [*good, bad], bad_key


@pytest.mark.parametrize("code", ["AccessDenied", "InternalError", "SlowDown"])
def test_a_payload_s3_refuses_fails_its_record_alone(env: dict[str, Any], code: str) -> None:
    ids, bad_key = offload_faulty(env, code)
    s3 = boto3.client("s3")  # the handler's own client, with the fault
    fail_get_object(s3, bad_key, code)
    env["buffer"] = WriteBuffer.from_env(dynamodb_client=env["ddb"], s3_client=s3)
    response = invoke(env)
    assert failed_ids(response) == [ids[-1]]
    assert sorted(i["id"]["S"] for i in items(env)) == ["a", "b", "big-ok"]


def test_a_transient_payload_failure_is_retried_with_its_record(env: dict[str, Any]) -> None:
    ids, bad_key = offload_faulty(env, "SlowDown")
    s3 = boto3.client("s3")
    hook = fail_get_object(s3, bad_key, "SlowDown")
    env["buffer"] = WriteBuffer.from_env(dynamodb_client=env["ddb"], s3_client=s3)
    event = receive_event(env["sqs"], env["url"])
    assert failed_ids(call(env, event, FakeContext())) == [ids[-1]]
    # The record returns to the queue; S3 recovers and its redelivery is written.
    s3.meta.events.unregister("before-call.s3.GetObject", hook)
    (again,) = [r for r in event["Records"] if r["messageId"] == ids[-1]]
    assert call(env, {"Records": [again]}, FakeContext()) == {"batchItemFailures": []}
    assert sorted(i["id"]["S"] for i in items(env)) == ["a", "b", "big-bad", "big-ok"]


def test_a_payload_larger_than_declared_fails_alone(env: dict[str, Any]) -> None:
    store = PayloadStore(BUCKET, s3_client=env["s3"], always=True)
    (good,) = send(env, '{"id": "ok"}')
    (bad,) = send(env, '{"id": "swapped"}', store=store)
    (key,) = [o["Key"] for o in env["s3"].list_objects_v2(Bucket=BUCKET)["Contents"]]
    env["s3"].put_object(Bucket=BUCKET, Key=key, Body=json.dumps({"id": "x" * 5_000}).encode())
    assert failed_ids(invoke(env)) == [bad]
    assert [i["id"]["S"] for i in items(env)] == ["ok"] and good != bad


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"TABLE_NAME": "t", "VERSION_FIELD": "version"},
            "KEY_FIELDS='' with VERSION_FIELD='version': versioned mode keeps the newest version "
            "of each entity, so the key must name the entity and leave the version out (the "
            "whole body would make every version its own item). Fix: set KEY_FIELDS to the "
            "fields that identify the entity, e.g. KEY_FIELDS=account.",
        ),
        (
            {"TABLE_NAME": "t", "VERSION_FIELD": "v", "KEY_FIELDS": "id,v"},
            "KEY_FIELDS='id,v' with VERSION_FIELD='v': versioned mode keeps the newest version",
        ),
        (
            {"TABLE_NAME": "t", "MAX_PAYLOAD_BYTES": "1.5"},
            "MAX_PAYLOAD_BYTES=1.5: must be a whole number of bytes",
        ),
    ],
)
def test_versioned_and_payload_settings_are_checked(
    variables: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        WriteBufferSettings.from_env(variables)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({}, "TABLE_NAME is not set"),
        (
            {"TABLE_NAME": "t", "WCU_PER_SECOND": "0"},
            "WCU_PER_SECOND='0': must be a number greater than 0",
        ),
        ({"TABLE_NAME": "t", "WRITE_DEADLINE_S": "soon"}, "WRITE_DEADLINE_S='soon'"),
    ],
)
def test_bad_settings_are_refused(variables: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        WriteBufferSettings.from_env(variables)


def test_settings_from_env() -> None:
    settings = WriteBufferSettings.from_env(
        {
            "TABLE_NAME": "t",
            "KEY_FIELDS": " a, b ,",
            "WCU_PER_SECOND": "2.5",
            "VERSION_FIELD": "v",
            "PAYLOAD_BUCKET": "one,two",
            "MAX_PAYLOAD_BYTES": "1000",
        }
    )
    assert settings == WriteBufferSettings(
        table_name="t",
        key_fields=("a", "b"),
        version_field="v",
        payload_buckets=("one", "two"),
        wcu_per_second=2.5,
        max_payload_bytes=1000,
    )
    assert WriteBuffer(settings).payloads.max_payload_bytes == 1000


def test_settings_round_trip_through_the_environment_the_constructs_set() -> None:
    everything = WriteBufferSettings(
        table_name="t",
        key_fields=("a", "b"),
        version_field="v",
        payload_buckets=("one", "two"),
        wcu_per_second=2.5,
        deadline_s=24.0,
        max_payload_bytes=1000,
        retry=Backoff(30, 600),
    )
    assert everything.to_env() == {
        "TABLE_NAME": "t",
        "WCU_PER_SECOND": "2.5",
        "WRITE_DEADLINE_S": "24",
        "KEY_FIELDS": '["a","b"]',
        "VERSION_FIELD": "v",
        "PAYLOAD_BUCKET": "one,two",
        "MAX_PAYLOAD_BYTES": "1000",
        "RETRY_BASE_S": "30",
        "RETRY_MAX_S": "600",
    }
    assert WriteBufferSettings.from_env(everything.to_env()) == everything
    defaults = WriteBufferSettings(table_name="t")
    assert defaults.to_env() == {"TABLE_NAME": "t", "WRITE_DEADLINE_S": "20"}
    assert WriteBufferSettings.from_env(defaults.to_env()) == defaults


def test_a_second_allowed_bucket_is_read(
    env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYLOAD_BUCKET", f"{BUCKET},{OTHER_BUCKET}")
    env["buffer"] = WriteBuffer.from_env(dynamodb_client=env["ddb"])
    send(
        env, '{"id": "foreign"}', store=PayloadStore(OTHER_BUCKET, s3_client=env["s3"], always=True)
    )
    assert invoke(env) == {"batchItemFailures": []}
    assert [i["id"]["S"] for i in items(env)] == ["foreign"]


# ---------------------------------------------------------------- retry backoff


def change_calls(sqs: Any) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    sqs.meta.events.register(
        "provide-client-params.sqs.ChangeMessageVisibilityBatch",
        lambda params, **_: calls.append(params),
    )
    return calls


def not_visible(env: dict[str, Any]) -> int:
    name = "ApproximateNumberOfMessagesNotVisible"
    attrs = env["sqs"].get_queue_attributes(QueueUrl=env["url"], AttributeNames=[name])
    return int(attrs["Attributes"][name])


def test_a_failed_record_is_delayed_by_the_backoff_of_its_receive_count(
    env: dict[str, Any],
) -> None:
    env["retrier"] = Retrier(Backoff(10, 100), sqs_client=env["sqs"], rand=lambda: 0.5)
    calls = change_calls(env["sqs"])
    good = send(env, '{"id": 1}')
    (poison,) = send(env, "not json")
    assert failed_ids(invoke(env)) == [poison]
    env["sqs"].change_message_visibility_batch(  # as if the delay ran out
        QueueUrl=env["url"],
        Entries=[
            {
                "Id": "0",
                "ReceiptHandle": calls[0]["Entries"][0]["ReceiptHandle"],
                "VisibilityTimeout": 0,
            }
        ],
    )
    with pytest.raises(BatchProcessingError):  # its second receive, alone: twice the delay
        invoke(env)
    assert [c["Entries"][0]["VisibilityTimeout"] for c in calls[::2]] == [5, 10]
    assert calls[0]["QueueUrl"] == env["url"] and not_visible(env) == 2
    assert good and len(items(env)) == 1


def test_a_failed_visibility_change_still_reports_the_record_failed(
    env: dict[str, Any],
) -> None:
    sqs = boto3.client("sqs")

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "Change")

    sqs.meta.events.register("before-call.sqs.ChangeMessageVisibilityBatch", refuse)
    env["retrier"] = Retrier(Backoff(), sqs_client=sqs, rand=lambda: 0.0)
    send(env, '{"id": 1}')
    (poison,) = send(env, "[1, 2]")
    assert failed_ids(invoke(env)) == [poison]
    assert len(items(env)) == 1


def test_the_entry_point_reads_its_settings_once_per_environment(
    env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    send(env, '{"id": 1}')
    handler = env["handler"]
    event = receive_event(env["sqs"], env["url"])
    assert handler.lambda_handler(event, FakeContext()) == {"batchItemFailures": []}
    monkeypatch.setenv("TABLE_NAME", "not-read-again")
    send(env, '{"id": 2}')
    event = receive_event(env["sqs"], env["url"])
    assert handler.lambda_handler(event, FakeContext()) == {"batchItemFailures": []}
    assert sorted(i["id"]["N"] for i in items(env)) == ["1", "2"]


@given(
    st.integers(min_value=1, max_value=1_000_000),
    st.integers(min_value=1, max_value=1_000),
)
def test_a_written_budget_never_reads_back_above_its_share(wcu: int, consumers: int) -> None:
    budget = share(wcu, consumers)
    text = WriteBufferSettings("t", wcu_per_second=budget).to_env()["WCU_PER_SECOND"]
    assert float(text) <= budget
    assert float(text) * consumers <= wcu


def test_a_budget_of_seven_significant_digits_is_written_whole() -> None:
    assert wcu_text(1234.567) == "1234.567"  # `:g` would write 1234.57, above the budget
    assert wcu_text(10.0) == "10"
