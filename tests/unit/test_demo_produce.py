"""The demo's producer tells its progress while it sends, in calls of 500 messages."""

from __future__ import annotations

import boto3
import pytest

from sqs_blueprint.local.demo.story import Console
from sqs_blueprint.local.demo.workload import ordered_workload, send_chunked
from sqs_blueprint.producer import Message, Producer


def test_sending_in_chunks_tells_the_progress_and_keeps_indexes(aws: None) -> None:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="produce")["QueueUrl"]
    messages = [Message(f"m-{i}") for i in range(1_200)]
    told: list[int] = []
    sent, failed = send_chunked(Producer(url, sqs_client=sqs), messages, told.append)
    assert told == [500, 500, 200]
    assert failed == []
    assert [s.index for s in sent] == list(range(1_200))  # counted from the first message
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "1200"


def test_the_plain_bar_names_what_it_counts(capsys: pytest.CaptureFixture[str]) -> None:
    out = Console(quiet=False)
    out.progress(10, 10, "sent")
    out.progress(3, 10)
    out.progress(10, 10)
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"  [{'#' * 30}] 10/10 sent",
        f"  [{'#' * 30}] 10/10 written",
    ]


@pytest.mark.parametrize(("records", "per_account"), [(20, 2), (2_000, 100), (100_000, 100)])
def test_the_ordered_story_keeps_at_most_100_versions_an_account(
    records: int, per_account: int
) -> None:
    events, final = ordered_workload(records)
    assert set(final.values()) == {per_account}
    assert len(events) == 10 * (per_account + 1) + 1  # and a replay each, and one malformed
