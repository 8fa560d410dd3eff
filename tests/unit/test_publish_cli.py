"""``sqs-blueprint publish``: each line reaches a queue through SNS, EventBridge or S3;
bad input is refused with exit 2 before anything is published."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from sqs_blueprint.cli import main


@pytest.fixture
def queue(aws: None) -> dict[str, str]:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="in")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return {"url": url, "arn": arn["QueueArn"]}


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def received(url: str) -> list[str]:
    sqs, bodies = boto3.client("sqs"), []
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        bodies += [m["Body"] for m in got]
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)
            ],
        )
    return bodies


def lines(tmp_path: Path, *bodies: Any) -> str:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(b) + "\n" for b in bodies))
    return str(path)


def test_topic_lines_reach_a_filtered_raw_subscription(
    queue: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sns = boto3.client("sns")
    topic = sns.create_topic(Name="orders")["TopicArn"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue["arn"],
        Attributes={"RawMessageDelivery": "true", "FilterPolicy": '{"kind": ["order"]}'},
    )
    bodies = [{"n": i} for i in range(12)]  # two batches
    file = lines(tmp_path, *bodies)
    code, out, err = run(
        ["publish", "topic", "--topic-arn", topic, "--attribute", "kind=order", file], capsys
    )
    assert (code, err) == (0, "")
    assert [json.loads(line)["line"] for line in out.splitlines()] == list(range(1, 13))
    assert sorted(received(queue["url"]), key=lambda b: json.loads(b)["n"]) == [
        json.dumps(b) for b in bodies
    ]
    code, out, _ = run(
        ["publish", "topic", "--topic-arn", topic, "--attribute", "kind=other", file], capsys
    )
    assert code == 0 and received(queue["url"]) == []


def test_bus_lines_become_events_with_that_detail(
    queue: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = boto3.client("events")
    events.put_rule(Name="shop", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="shop", Targets=[{"Id": "q", "Arn": queue["arn"]}])
    file = lines(tmp_path, {"n": 1}, {"n": 2})
    code, out, err = run(
        ["publish", "bus", "--source", "shop", "--detail-type", "order", file], capsys
    )
    assert (code, err) == (0, "") and len(out.splitlines()) == 2
    got = [json.loads(b) for b in received(queue["url"])]
    assert sorted(e["detail"]["n"] for e in got) == [1, 2]
    assert {(e["source"], e["detail-type"]) for e in got} == {("shop", "order")}
    mixed = tmp_path / "mixed.txt"
    mixed.write_text('{"n": 3}\nnot json\n')
    code, out, _ = run(
        ["publish", "bus", "--source", "shop", "--detail-type", "o", str(mixed)], capsys
    )
    assert (code, out) == (2, "") and received(queue["url"]) == []  # not even the good line


def test_bucket_lines_become_objects_under_the_prefix(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="drop")
    file = lines(tmp_path, {"n": 1}, {"n": 2})
    code, out, _ = run(["publish", "bucket", "--bucket", "drop", "--prefix", "in/", file], capsys)
    assert code == 0
    keys = [json.loads(line)["key"] for line in out.splitlines()]
    assert all(k.startswith("in/") and k.endswith(".json") for k in keys)
    bodies = [s3.get_object(Bucket="drop", Key=k)["Body"].read() for k in keys]
    assert bodies == [b'{"n": 1}', b'{"n": 2}']


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["publish", "bus", "--source", "s", "--detail-type", "t"],
            "sqs-blueprint publish bus: line 2: an event's detail must be a JSON object; "
            "nothing was published",
        ),
        (
            [
                "publish",
                "topic",
                "--topic-arn",
                "arn:aws:sns:us-east-1:123456789012:t",
                "--attribute",
                "kind",
            ],
            "sqs-blueprint publish topic: --attribute must be NAME=VALUE, got 'kind'",
        ),
        (
            ["publish", "topic", "--topic-arn", "arn:aws:sns:us-east-1:123456789012:t.fifo"],
            "sqs-blueprint publish topic: a FIFO topic needs a message group: use --group-id",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    path = tmp_path / "in.txt"
    path.write_text('{"n": 1}\nnot json\n')
    code, _, err = run([*argv, str(path)], capsys)
    assert code == 2 and err.strip() == message


def test_help_names_each_input(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["publish", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert all(kind in out for kind in ("topic", "bus", "bucket"))
