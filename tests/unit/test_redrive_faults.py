"""DLQ tools on real-world dead letters: malformed messages, untrusted pointers, failing calls.

On moto, with faults moto cannot produce injected through botocore event hooks.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections import Counter
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sqs_blueprint import redrive as rd
from sqs_blueprint.cli import main
from sqs_blueprint.payload import S3Pointer
from sqs_blueprint.redrive import client_side
from tests.unit.test_redrive import bodies, drain, make_dlq, put

PAYLOADS, SECRET = "payloads", "secret"
DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture
def sqs(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The SQS client the library and the CLI use (so tests can hook it)."""
    client = boto3.client("sqs")
    real = boto3.client

    def make(service: str, *args: Any, **kwargs: Any) -> Any:
        return client if service == "sqs" else real(service, *args, **kwargs)

    monkeypatch.setattr("sqs_blueprint._clients.boto3.client", make)
    return client


@pytest.fixture
def s3(aws: None) -> Any:
    client = boto3.client("s3")
    for bucket in (PAYLOADS, SECRET):
        client.create_bucket(Bucket=bucket)
    return client


def consumer(sqs: Any, source_url: str, payload_bucket: str | None) -> None:
    """A Lambda function mapped to the source queue, with PAYLOAD_BUCKET (moto never runs it)."""
    role = boto3.client("iam").create_role(
        RoleName=f"r-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    code = io.BytesIO()
    zipfile.ZipFile(code, "w").writestr("h.py", "def h(event, context): pass")
    env = {"Variables": {"PAYLOAD_BUCKET": payload_bucket}} if payload_bucket is not None else {}
    lam = boto3.client("lambda")
    name = f"consumer-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="h.h",
        Code={"ZipFile": code.getvalue()},
        Environment=env,
    )
    arn = sqs.get_queue_attributes(QueueUrl=source_url, AttributeNames=["QueueArn"])
    lam.create_event_source_mapping(
        EventSourceArn=arn["Attributes"]["QueueArn"], FunctionName=name, Enabled=False
    )


def offloaded(sqs: Any, dlq: str, body: str, size: str = "7", **extra: Any) -> str:
    """Send a message that claims to be offloaded, with any body and declared size."""
    attributes = {"ExtendedPayloadSize": {"DataType": "Number", "StringValue": size}}
    return str(
        sqs.send_message(QueueUrl=dlq, MessageBody=body, MessageAttributes=attributes, **extra)[
            "MessageId"
        ]
    )


def store_in(s3: Any, bucket: str, text: str) -> str:
    """A pointer body to ``text`` stored in ``bucket``."""
    key = uuid.uuid4().hex
    s3.put_object(Bucket=bucket, Key=key, Body=text.encode())
    return S3Pointer(bucket, key).body()


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["dlq", *argv])
    out, err = capsys.readouterr()
    return code, out, err


# --- malformed dead letters ---------------------------------------------------------


def malformed(sqs: Any, s3: Any, dlq: str) -> dict[str, str]:
    """One dead letter of each malformed kind, and two good ones; their ids by kind."""
    good = store_in(s3, PAYLOADS, json.dumps({"k": "ok", "n": 2}))
    return {
        "fraction": offloaded(sqs, dlq, store_in(s3, PAYLOADS, "x"), size="1.5"),
        "not json": offloaded(sqs, dlq, "not json"),
        "deep pointer": offloaded(sqs, dlq, DEEP),
        "bad bucket": offloaded(sqs, dlq, S3Pointer("Not A Bucket!", "k").body()),
        "missing": offloaded(sqs, dlq, S3Pointer(PAYLOADS, "gone").body()),
        "deep body": put(sqs, dlq, [DEEP])[0],
        "good": put(sqs, dlq, [json.dumps({"k": "ok", "n": 1})])[0],
        "good offloaded": offloaded(sqs, dlq, good, size="19"),
    }


def test_inspect_lists_every_malformed_letter_with_its_reason(sqs: Any, s3: Any) -> None:
    dlq, _ = make_dlq(sqs, "orders")
    ids = malformed(sqs, s3, dlq)
    buckets = [PAYLOADS, "Not A Bucket!"]

    letters = {x.message_id: x for x in rd.inspect(dlq, sqs_client=sqs, buckets=buckets)}

    errors = {kind: letters[i].error for kind, i in ids.items()}
    assert errors["fraction"] == (
        "not fetched: its ExtendedPayloadSize attribute '1.5' is not a whole number of bytes"
    )
    assert errors["not json"] == (
        "not fetched: body is not an S3 payload pointer: expected "
        '["software.amazon.payloadoffloading.PayloadS3Pointer", '
        '{"s3BucketName": ..., "s3Key": ...}], got \'not json\''
    )
    assert errors["deep pointer"] is not None
    assert errors["deep pointer"].startswith(
        "not fetched: body is not an S3 payload pointer: expected "
    )
    assert "\n" not in errors["deep pointer"]
    assert errors["bad bucket"] is not None
    assert errors["bad bucket"].startswith(
        "payload s3://Not A Bucket!/k cannot be read: Parameter validation "
        'failed: Invalid bucket name "Not A Bucket!"'
    )
    assert "transient" not in errors["bad bucket"]
    assert (
        errors["missing"] is not None and "s3://payloads/gone does not exist" in errors["missing"]
    )
    assert (errors["deep body"], errors["good"], errors["good offloaded"]) == (None, None, None)
    assert letters[ids["good offloaded"]].body == json.dumps({"k": "ok", "n": 2})
    fraction = letters[ids["fraction"]]
    assert fraction.size is None and "size=?B" in fraction.summary()
    assert fraction.payload is not None and fraction.payload.startswith("s3://payloads/")
    assert "<error: not fetched: its ExtendedPayloadSize" in fraction.preview()
    assert len(drain(sqs, dlq)) == len(ids)  # all handed back


def test_cli_inspect_shows_malformed_letters_and_exits_0(
    sqs: Any, s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    dlq, _ = make_dlq(sqs, "orders")
    ids = malformed(sqs, s3, dlq)

    code, out, err = cli(capsys, "inspect", "--queue", dlq, "--bucket", PAYLOADS, "--json")

    rows = {row["message_id"]: row for row in map(json.loads, out.splitlines())}
    assert (code, err, set(rows)) == (0, "", set(ids.values()))
    assert rows[ids["deep pointer"]]["error"].startswith(
        "not fetched: body is not an S3 payload pointer"
    )
    assert all(row["payload_buckets"] == [PAYLOADS] for row in rows.values())


def test_selective_redrive_moves_the_matches_past_malformed_letters(sqs: Any, s3: Any) -> None:
    dlq, (source,) = make_dlq(sqs, "orders")
    ids = malformed(sqs, s3, dlq)

    result = rd.redrive(
        dlq,
        sqs_client=sqs,
        select=rd.where("k == 'ok'"),
        buckets=[PAYLOADS, "Not A Bucket!"],
        wait_seconds=0,
    )

    assert (result.moved, result.skipped, result.ok) == (2, len(ids) - 2, True)
    assert set(result.moved_ids) == {ids["good"], ids["good offloaded"]}
    assert len(drain(sqs, source)) == 2 and len(drain(sqs, dlq)) == len(ids) - 2


def test_redrive_by_id_moves_a_malformed_letter_as_it_is(sqs: Any, s3: Any) -> None:
    dlq, (source,) = make_dlq(sqs, "orders")
    ids = malformed(sqs, s3, dlq)
    chosen = {ids["fraction"], ids["deep pointer"], ids["deep body"]}

    result = rd.redrive(dlq, sqs_client=sqs, select=rd.by_ids(chosen), wait_seconds=0)

    assert set(result.moved_ids) == chosen and result.ok
    moved = drain(sqs, source)
    assert Counter(m["Body"] == DEEP for m in moved) == Counter({True: 2, False: 1})
    assert len(drain(sqs, dlq)) == len(ids) - 3


def test_a_selector_that_raises_leaves_only_its_message_behind(sqs: Any) -> None:
    dlq, (source,) = make_dlq(sqs, "orders")
    put(sqs, dlq, ["a", "boom", "b"])

    def select(letter: rd.DeadLetter) -> bool:
        if letter.body == "boom":
            raise RuntimeError("selector bug")
        return True

    result = rd.redrive(dlq, sqs_client=sqs, select=select, wait_seconds=0)

    assert (result.moved, result.skipped) == (2, 1)
    assert bodies(drain(sqs, source)) == Counter(["a", "b"])
    assert bodies(drain(sqs, dlq)) == Counter(["boom"])


# --- allowed payload buckets ----------------------------------------------------------


def untrusted(sqs: Any, s3: Any, dlq: str) -> None:
    """A letter pointing at the consumer's bucket, and one at a bucket it never reads."""
    offloaded(sqs, dlq, store_in(s3, PAYLOADS, "ordinary payload"), size="16")
    offloaded(sqs, dlq, store_in(s3, SECRET, "operator-only secret"), size="20")


def test_inspect_fetches_only_from_the_consumers_payload_buckets(
    sqs: Any, s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    dlq, (source,) = make_dlq(sqs, "orders")
    consumer(sqs, source, f" {PAYLOADS} , other-bucket")
    untrusted(sqs, s3, dlq)

    code, out, _ = cli(capsys, "inspect", "--queue", "orders-dlq")

    lines = out.splitlines()
    assert code == 0 and lines[1].startswith(
        "S3 payloads fetched only from: other-bucket, payloads (PAYLOAD_BUCKET of consumer-"
    )
    assert "ordinary payload" in out and "operator-only secret" not in out
    assert (
        "<error: not fetched: bucket 'secret' is not an allowed payload bucket "
        "(allowed: other-bucket, payloads)>"
    ) in out
    assert "payload=s3://secret/" in out  # the pointer is shown


def test_inspect_fetches_nothing_when_no_consumer_names_a_bucket(
    sqs: Any, s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    dlq, (source,) = make_dlq(sqs, "orders")
    consumer(sqs, source, None)  # a consumer without PAYLOAD_BUCKET
    untrusted(sqs, s3, dlq)

    code, out, _ = cli(capsys, "inspect", "--queue", "orders-dlq")

    assert code == 0 and out.splitlines()[1] == (
        "S3 payloads not fetched: no Lambda consumer of the source queue sets PAYLOAD_BUCKET; "
        "name the buckets to read with --bucket"
    )
    assert "ordinary payload" not in out and "operator-only secret" not in out
    assert out.count("is not an allowed payload bucket (allowed: none)") == 2


def test_bucket_flags_replace_the_discovered_buckets(
    sqs: Any, s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    dlq, (source,) = make_dlq(sqs, "orders")
    consumer(sqs, source, PAYLOADS)
    untrusted(sqs, s3, dlq)

    code, out, _ = cli(capsys, "inspect", "--queue", dlq, "--bucket", SECRET, "--bucket", SECRET)

    assert code == 0 and out.splitlines()[1] == "S3 payloads fetched only from: secret"
    assert "operator-only secret" in out and "ordinary payload" not in out


def test_library_inspect_defaults_to_the_consumers_buckets(sqs: Any, s3: Any) -> None:
    dlq, (source,) = make_dlq(sqs, "orders")
    consumer(sqs, source, PAYLOADS)
    untrusted(sqs, s3, dlq)

    read = {x.body for x in rd.inspect(dlq, sqs_client=sqs)}

    assert read == {"ordinary payload", None}


def test_discovery_that_is_refused_finds_nothing_and_says_why(sqs: Any) -> None:
    dlq, (source,) = make_dlq(sqs, "orders")
    consumer(sqs, source, PAYLOADS)
    lam = boto3.client("lambda")

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDeniedException"}}, "ListEventSourceMappings")

    lam.meta.events.register("before-call.lambda.ListEventSourceMappings", refuse)
    found = rd.consumer_buckets(dlq, sqs_client=sqs, lambda_client=lam)

    assert found == rd.PayloadBuckets(
        frozenset(), (), "ListEventSourceMappings answered AccessDeniedException"
    )


# --- failing deletes, interrupted runs ---------------------------------------------------


def fail_deletes(sqs: Any, marker: str, calls: list[int]) -> None:
    """DeleteMessageBatch fails the entries of messages whose body has ``marker``.

    Their receipt handle is swapped for one SQS does not know, so SQS itself
    reports the entry failed (ReceiptHandleIsInvalid) and the message stays.
    """
    bodies_by_handle: dict[str, str] = {}

    def remember(parsed: dict[str, Any], **_: Any) -> None:
        for m in parsed.get("Messages", []):
            bodies_by_handle[m["ReceiptHandle"]] = m["Body"]

    def spoil(params: dict[str, Any], **_: Any) -> None:
        calls.append(len(params["Entries"]))
        for entry in params["Entries"]:
            if marker in bodies_by_handle.get(entry["ReceiptHandle"], ""):
                entry["ReceiptHandle"] = "spoiled"

    sqs.meta.events.register("after-call.sqs.ReceiveMessage", remember)
    sqs.meta.events.register("before-parameter-build.sqs.DeleteMessageBatch", spoil)


def test_a_failing_delete_call_is_retried_and_nothing_is_duplicated(sqs: Any) -> None:
    dlq, (source,) = make_dlq(sqs, "orders")
    put(sqs, dlq, [f"m{n}" for n in range(5)])
    calls: list[int] = []

    def flaky(**_: Any) -> None:
        calls.append(1)
        if len(calls) <= 2:
            raise ClientError({"Error": {"Code": "InternalError"}}, "DeleteMessageBatch")

    sqs.meta.events.register("before-call.sqs.DeleteMessageBatch", flaky)
    result = rd.redrive(dlq, sqs_client=sqs, client_side=True, wait_seconds=0)

    assert (result.moved, result.duplicated, result.ok) == (5, {}, True)
    assert len(calls) == 3
    assert bodies(drain(sqs, source)) == Counter(f"m{n}" for n in range(5))
    assert drain(sqs, dlq) == []


def test_a_message_that_cannot_be_deleted_is_reported_in_both_queues(
    sqs: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_side, "DELETE_BACKOFF_S", 0.0)
    dlq, (source,) = make_dlq(sqs, "orders")
    ids = put(sqs, dlq, ["ok1", "stuck", "ok2"])
    calls: list[int] = []
    fail_deletes(sqs, "stuck", calls)

    code, out, err = cli(capsys, "redrive", "--queue", dlq, "--client-side", "--wait", "0")

    assert calls == [3, 1, 1, 1]  # one call, then three retries of the entry that failed
    assert (code, out) == (
        1,
        "client-side: completed, moved 2, in both queues 1, left in the DLQ 0 "
        "(not chosen 0, not sent 0)\n",
    )
    assert err == (
        f"2 moved\nsqs-blueprint dlq redrive: {ids[1]} is in both queues: sent, but not deleted "
        "from the DLQ after 4 attempts (delete it there, or a later redrive sends it again): "
        'ReceiptHandleIsInvalid: The input receipt handle "spoiled" is not a valid receipt '
        "handle.\n"
    )
    assert bodies(drain(sqs, source)) == Counter(["ok1", "stuck", "ok2"])
    assert bodies(drain(sqs, dlq)) == Counter(["stuck"])  # handed back, visible at once


def test_an_error_mid_run_ends_with_the_summary_and_keeps_every_message(
    sqs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    dlq, (source,) = make_dlq(sqs, "orders")
    put(sqs, dlq, [f"m{n}" for n in range(15)])
    receives: list[int] = []

    def second_refused(**_: Any) -> None:
        receives.append(1)
        if len(receives) == 2:
            raise ClientError({"Error": {"Code": "AccessDenied"}}, "ReceiveMessage")

    sqs.meta.events.register("before-call.sqs.ReceiveMessage", second_refused)
    code, out, err = cli(capsys, "redrive", "--queue", dlq, "--client-side", "--wait", "0")

    moved = drain(sqs, source)
    assert (code, err) == (1, f"{len(moved)} moved\n")
    assert out == (
        f"client-side: interrupted, moved {len(moved)}, in both queues 0, left in the DLQ 0 "
        "(not chosen 0, not sent 0) (stopped by ReceiveMessage answered AccessDenied)\n"
    )
    assert 0 < len(moved) < 15 and len(drain(sqs, dlq)) == 15 - len(moved)


def test_ctrl_c_hands_messages_back_and_prints_the_summary(
    sqs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    dlq, (source,) = make_dlq(sqs, "orders")
    put(sqs, dlq, [json.dumps({"n": n}) for n in range(6)])

    def interrupt(**_: Any) -> None:
        raise KeyboardInterrupt

    sqs.meta.events.register("before-call.sqs.SendMessageBatch", interrupt)
    code, out, _ = cli(capsys, "redrive", "--queue", dlq, "--where", "n > `2`", "--wait", "0")

    assert code == 130
    assert out == (
        "client-side: interrupted, moved 0, in both queues 0, left in the DLQ 6 "
        "(not chosen 3, not sent 3) (stopped by Ctrl-C)\n"
    )
    assert drain(sqs, source) == [] and len(drain(sqs, dlq)) == 6  # all handed back at once


# --- nothing matched, progress ---------------------------------------------------------


@pytest.mark.parametrize(
    ("choose", "what"),
    [
        (["--where", "k == `9`"], "--where 'k == `9`'"),
        (["--id", "x", "y"], "--id x y"),
    ],
)
def test_a_selection_matching_nothing_says_so_in_one_line(
    sqs: Any, capsys: pytest.CaptureFixture[str], choose: list[str], what: str
) -> None:
    dlq, (source,) = make_dlq(sqs, "orders")
    put(sqs, dlq, [json.dumps({"k": k}) for k in range(3)])

    code, out, err = cli(capsys, "redrive", "--queue", dlq, *choose, "--wait", "0")

    assert (code, out) == (1, "")
    assert err == (
        f"sqs-blueprint dlq redrive: nothing matched {what} among the 3 message(s) in the DLQ; "
        "nothing was moved\n"
    )
    assert drain(sqs, source) == [] and len(drain(sqs, dlq)) == 3


def test_where_never_matches_a_body_it_cannot_parse() -> None:
    def letter(body: str | None) -> rd.DeadLetter:
        return rd.DeadLetter("id", 1, None, None, None, None, body)

    select = rd.where("k")
    assert [select(letter(b)) for b in (DEEP, "not json", None, '{"k": 1}')] == [
        False,
        False,
        False,
        True,
    ]
