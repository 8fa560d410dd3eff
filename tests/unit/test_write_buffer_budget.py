"""The write budget at run time, on moto with the real handler and Powertools: what a
batch cannot write before its deadline is returned, not blamed; what is larger than
the consumer accepts fails alone."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from sqs_blueprint.backoff import Backoff, Retrier
from sqs_blueprint.producer import Producer
from sqs_blueprint.write_buffer import WriteBuffer, WriteBufferSettings
from tests.unit.lambda_events import FakeContext, failed_ids, load_handler, receive_event
from tests.unit.tables import create_table

TABLE = "budgeted"


class Clock:
    """Moves only when the pacer sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def sqs(aws: None) -> Iterator[Any]:
    create_table(boto3.client("dynamodb"), TABLE, wcu=10)
    yield boto3.client("sqs")


def run(sqs: Any, settings: WriteBufferSettings, bodies: list[str]) -> tuple[Any, str, list[str]]:
    """Send ``bodies``, receive them as one event and run the handler on it: the response,
    the queue and the message ids in order."""
    url = sqs.create_queue(QueueName="ingest")["QueueUrl"]
    sent = Producer(url, sqs_client=sqs).send_many(bodies).sent
    ids = [s.message_id for s in sorted(sent, key=lambda s: s.index)]
    clock = Clock()
    buffer = WriteBuffer(settings, clock=clock.time, sleep=clock.sleep)
    retrier = Retrier(Backoff(60, 900), sqs_client=sqs, rand=lambda: 0.5)
    event = receive_event(sqs, url, max_messages=len(bodies))
    handler = load_handler("write_buffer")
    response = handler.handle(event, FakeContext(), buffer, retrier)
    return response, url, ids


def visible_again(sqs: Any, url: str) -> dict[str, int]:
    """Message id -> receive count of the messages a receive gets now."""
    got = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    ).get("Messages", [])
    return {m["MessageId"]: int(m["Attributes"]["ApproximateReceiveCount"]) for m in got}


def test_records_the_budget_had_no_room_for_are_returned_at_once_without_blame(sqs: Any) -> None:
    handler = load_handler("write_buffer")
    stream = io.StringIO()
    handler.logger.registered_handler.setStream(stream)
    # 10 WCU/s for 2 s: 20 one-KB records are written, the last 5 never attempted.
    settings = WriteBufferSettings(TABLE, key_fields=("id",), wcu_per_second=10, deadline_s=2)
    bodies = [json.dumps({"id": i}) for i in range(25)] + ["not json"]
    response, url, ids = run(sqs, settings, bodies)
    deferred, poison = ids[20:25], ids[25]
    assert sorted(failed_ids(response)) == sorted([*deferred, poison])
    # The deferred come back at once, each receive counted; the poison waits its backoff.
    assert visible_again(sqs, url) == dict.fromkeys(deferred, 2)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    said = {line.get("correlation_id"): line["message"] for line in lines if "reason" in line}
    assert said == {**dict.fromkeys(deferred, "record deferred"), poison: "record failed"}
    (summary,) = [line for line in lines if line["message"] == "batch written"]
    assert (summary["written"], summary["failed"], summary["deferred"]) == (20, 1, 5)


def test_an_item_over_the_consumers_maximum_fails_alone(sqs: Any) -> None:
    settings = WriteBufferSettings(TABLE, key_fields=("id",), max_item_kb=2)
    small, large = json.dumps({"id": 1, "d": "x" * 1900}), json.dumps({"id": 2, "d": "x" * 2100})
    response, _, ids = run(sqs, settings, [small, large])
    assert failed_ids(response) == [ids[1]]
    stored = boto3.client("dynamodb").scan(TableName=TABLE)["Items"]
    assert [i["id"]["N"] for i in stored] == ["1"]


def test_the_maximum_item_size_round_trips_through_the_environment() -> None:
    settings = WriteBufferSettings("t", max_item_kb=12)
    assert settings.to_env()["MAX_ITEM_KB"] == "12"
    assert WriteBufferSettings.from_env(settings.to_env()) == settings
    assert "MAX_ITEM_KB" not in WriteBufferSettings("t").to_env()
