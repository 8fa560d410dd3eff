"""The batching producer on moto, with failed batch entries injected by botocore hooks."""

from __future__ import annotations

import copy
import json
import string
import threading
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from hypothesis import given
from hypothesis import strategies as st

from sqs_blueprint.limits import SQS_BATCH_MAX_ENTRIES, SQS_MAX_MESSAGE_BYTES
from sqs_blueprint.payload import PayloadStore
from sqs_blueprint.producer import (
    Failed,
    Message,
    Producer,
    deduplication_id,
    pack,
)
from sqs_blueprint.records import Record

BUCKET = "payloads"


@pytest.fixture
def sqs(aws: None) -> Any:
    return boto3.client("sqs", config=Config(retries={"total_max_attempts": 1}))


@pytest.fixture
def s3(aws: None) -> Any:
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def count_calls(client: Any) -> list[str]:
    calls: list[str] = []
    client.meta.events.register("before-call.sqs.*", lambda model, **_: calls.append(model.name))
    return calls


def receive_all(sqs: Any, url: str, resolver: PayloadStore | None = None) -> list[Record]:
    records: list[Record] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return records
        records += [Record.from_sqs(m, queue_url=url, resolver=resolver) for m in messages]


def no_sleep(_: float) -> None:
    pass


def test_small_messages_go_ten_per_request(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    calls = count_calls(sqs)
    result = Producer(url, sqs_client=sqs).send_many([f"m{i}" for i in range(25)])
    assert [s.index for s in result.sent] == list(range(25)) and result.failed == []
    assert calls == ["GetQueueAttributes"] + ["SendMessageBatch"] * 3
    assert sorted(r.body for r in receive_all(sqs, url)) == sorted(f"m{i}" for i in range(25))


def test_batches_are_packed_by_total_bytes(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    calls = count_calls(sqs)
    body = "x" * 300_000
    result = Producer(url, sqs_client=sqs, max_message_size=1_048_576).send_many([body] * 5)
    assert len(result.sent) == 5
    assert calls == ["SendMessageBatch"] * 2  # 3 x 300 KB, then 2: never over 1 MiB


def test_large_messages_are_offloaded_and_resolved(sqs: Any, s3: Any) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    store = PayloadStore(BUCKET, s3_client=s3)
    attrs = {"blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}}
    before = copy.deepcopy(attrs)
    big, small = "é" * 150_000, "small"
    messages = [Message(big, attrs), Message(small, attrs)]
    result = Producer(url, sqs_client=sqs, payloads=store).send_many(messages)
    assert [s.offloaded for s in result.sent] == [True, False]
    assert attrs == before
    got = {r.body: r for r in receive_all(sqs, url, resolver=store)}
    assert set(got) == {big, small}
    assert got[big].offloaded and got[big].message_attributes == attrs


def test_message_over_the_queue_limit_is_offloaded_below_the_threshold(sqs: Any, s3: Any) -> None:
    url = sqs.create_queue(QueueName="q", Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
    store = PayloadStore(BUCKET, s3_client=s3)
    result = Producer(url, sqs_client=sqs, payloads=store).send_many(["x" * 2000])
    assert result.sent[0].offloaded


def test_message_over_the_queue_limit_without_store_fails_alone(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="q", Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
    result = Producer(url, sqs_client=sqs).send_many(["x" * 2000, "ok", ""])
    assert [s.index for s in result.sent] == [1]
    assert result.failed == [
        Failed(
            0,
            "message is 2,000 bytes, over the queue's maximum of 1,024; offload it to S3 "
            "(Producer(payloads=PayloadStore(bucket)), or --bucket on the command line)",
        ),
        Failed(2, "message body is empty; SQS needs at least one character"),
    ]


# A body plus attribute bytes at the queue's maximum stays inline with threshold="queue";
# one byte more is offloaded (docs/aws-facts.md#sqs-limits).
KIND = {"kind": {"DataType": "String", "StringValue": "order"}}  # 4 + 6 + 5 = 15 bytes


@pytest.mark.parametrize("limit", [1_048_576, 4_096])
def test_queue_threshold_offloads_only_above_the_queue_maximum(
    sqs: Any, s3: Any, limit: int
) -> None:
    url = sqs.create_queue(QueueName="q", Attributes={"MaximumMessageSize": str(limit)})["QueueUrl"]
    calls = count_calls(sqs)
    producer = Producer(url, sqs_client=sqs, payloads=PayloadStore(BUCKET, threshold="queue"))
    inline, over = "é" * ((limit - 15) // 2) + "a" * ((limit - 15) % 2), "a" * (limit - 14)
    first = producer.send_many([Message(inline, KIND)])
    second = producer.send_many([Message(over, KIND)])
    assert [s.offloaded for s in first.sent + second.sent] == [False, True]
    assert calls.count("GetQueueAttributes") == 1  # read once, then remembered
    got = {r.body: r for r in receive_all(sqs, url, resolver=PayloadStore(BUCKET, s3_client=s3))}
    assert set(got) == {inline, over}
    assert not got[inline].offloaded and got[over].offloaded
    assert got[over].message_attributes == KIND


def test_default_threshold_still_offloads_what_the_extended_clients_offload(
    sqs: Any, s3: Any
) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    body = "a" * (262_144 - 14)  # 262,145 bytes with KIND
    default = Producer(url, sqs_client=sqs, payloads=PayloadStore(BUCKET, s3_client=s3))
    queue = Producer(url, sqs_client=sqs, payloads=PayloadStore(BUCKET, threshold="queue"))
    assert default.send_many([Message(body, KIND)]).sent[0].offloaded
    assert not queue.send_many([Message(body, KIND)]).sent[0].offloaded
    assert not default.send_many([Message(body[1:], KIND)]).sent[0].offloaded


def test_cli_send_threshold_queue_keeps_large_lines_inline(
    sqs: Any, s3: Any, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from sqs_blueprint.cli import main

    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    source = tmp_path / "in.txt"
    source.write_text("x" * 300_000 + "\n")
    assert main(["send", "--queue-url", url, "--bucket", BUCKET, str(source)]) == 0
    assert json.loads(capsys.readouterr().out)["offloaded"] is True
    args = ["send", "--queue-url", url, "--bucket", BUCKET, "--threshold", "queue", str(source)]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["offloaded"] is False


def test_cli_send_threshold_must_be_bytes_or_queue(capsys: pytest.CaptureFixture[str]) -> None:
    from sqs_blueprint.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["send", "--queue-url", "https://q", "--threshold", "1MiB"])
    assert exit_.value.code == 2
    assert (
        "argument --threshold: must be a whole number of bytes or 'queue', got '1MiB'"
        in capsys.readouterr().err
    )


def test_fifo_needs_a_group_and_dedups_on_the_original_body(sqs: Any, s3: Any) -> None:
    url = sqs.create_queue(QueueName="q.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    store = PayloadStore(BUCKET, s3_client=s3, always=True)
    producer = Producer(url, sqs_client=sqs, payloads=store)
    result = producer.send_many(
        [Message("same", group_id="g"), Message("same", group_id="g"), Message("no group")]
    )
    assert result.failed == [
        Failed(
            2,
            "a FIFO queue needs a message group id: Message(body, group_id=...) "
            "or Producer(..., group_key=...)",
        )
    ]
    records = receive_all(sqs, url, resolver=store)
    assert [r.body for r in records] == ["same"]  # both pointers differ; the dedup id does not
    assert records[0].deduplication_id == deduplication_id("same", "g")
    assert records[0].group_id == "g"
    explicit = producer.send_many([Message("same", group_id="g", deduplication_id="d-1")])
    assert explicit.failed == []


class BatchFaults:
    """Answers the next SendMessageBatch calls with the given per-entry failures."""

    def __init__(self, client: Any) -> None:
        self.answers: list[tuple[bool, str]] = []  # (sender fault, code) for every entry
        self.calls = 0
        self._ids: list[str] = []
        client.meta.events.register("provide-client-params.sqs.SendMessageBatch", self._ids_of)
        client.meta.events.register("before-call.sqs.SendMessageBatch", self._answer)

    def _ids_of(self, params: dict[str, Any], **_: Any) -> None:
        self._ids = [e["Id"] for e in params["Entries"]]

    def _answer(self, **_: Any) -> Any:
        self.calls += 1
        if not self.answers:
            return None
        sender, code = self.answers.pop(0)
        failed = [
            {"Id": i, "SenderFault": sender, "Code": code, "Message": "injected"} for i in self._ids
        ]
        ok = AWSResponse("https://sqs", 200, {}, None)
        return ok, {"Successful": [], "Failed": failed, "ResponseMetadata": {}}


def test_failed_entries_are_retried_with_backoff(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    faults = BatchFaults(sqs)
    faults.answers = [(False, "InternalError"), (False, "InternalError")]
    slept: list[float] = []
    producer = Producer(url, sqs_client=sqs, max_message_size=1024, sleep=slept.append)
    result = producer.send_many(["a", "b"])
    assert (len(result.sent), result.failed, faults.calls) == (2, [], 3)
    assert len(slept) == 2


def test_entries_still_failing_are_returned_never_dropped(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    faults = BatchFaults(sqs)
    faults.answers = [(False, "InternalError")] * 10
    producer = Producer(url, sqs_client=sqs, max_message_size=1024, max_attempts=3, sleep=no_sleep)
    result = producer.send_many(["a", "b"])
    assert result.failed == [
        Failed(0, "InternalError: injected"),
        Failed(1, "InternalError: injected"),
    ]
    assert faults.calls == 3


def test_sender_faults_are_not_retried(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    faults = BatchFaults(sqs)
    faults.answers = [(True, "InvalidParameterValue")]
    result = Producer(url, sqs_client=sqs, max_message_size=1024).send_many(["a"])
    assert result.failed == [Failed(0, "InvalidParameterValue: injected")]
    assert faults.calls == 1


def test_fifo_group_stops_after_a_failure(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="q.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    faults = BatchFaults(sqs)
    faults.answers = [(True, "InvalidParameterValue")]
    messages = [Message(f"m{i}", group_id="g") for i in range(12)]
    result = Producer(url, sqs_client=sqs, max_message_size=1024).send_many(messages)
    assert result.sent == []
    assert result.failed[10] == Failed(
        10, "held back: message 0 of FIFO group 'g' failed before it", held_back=True
    )
    assert faults.calls == 1


def test_a_failed_call_fails_its_whole_batch(sqs: Any) -> None:
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/missing"
    result = Producer(url, sqs_client=sqs, max_message_size=1024).send_many(["a", "b"])
    assert [f.index for f in result.failed] == [0, 1]
    assert "does not exist" in result.failed[0].error


@given(st.lists(st.integers(1, SQS_MAX_MESSAGE_BYTES), max_size=60))
def test_pack_never_exceeds_ten_entries_or_the_batch_bytes(sizes: list[int]) -> None:
    batches = pack(sizes)
    assert [i for b in batches for i in b] == list(range(len(sizes)))
    for batch in batches:
        assert 1 <= len(batch) <= SQS_BATCH_MAX_ENTRIES
        assert sum(sizes[i] for i in batch) <= SQS_MAX_MESSAGE_BYTES


def test_cli_send_prints_one_line_per_message(
    sqs: Any, s3: Any, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from sqs_blueprint.cli import main

    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    source = tmp_path / "in.txt"
    source.write_text("one\n\n" + "x" * 300_000 + "\n")
    code = main(["send", "--queue-url", url, "--bucket", BUCKET, "--attribute", "k=v", str(source)])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(x["line"], x["offloaded"]) for x in lines] == [(1, False), (3, True)]
    records = receive_all(sqs, url, resolver=PayloadStore(BUCKET, s3_client=s3))
    assert {r.body for r in records} == {"one", "x" * 300_000}
    assert records[0].message_attributes == {"k": {"DataType": "String", "StringValue": "v"}}
    assert main(["send", "--queue-url", url, "--whole", str(source)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1
    small = sqs.create_queue(QueueName="small", Attributes={"MaximumMessageSize": "1024"})
    assert main(["send", "--queue-url", small["QueueUrl"], str(source)]) == 1
    assert "over the queue's maximum of 1,024" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--attribute", "novalue"], "--attribute must be NAME=VALUE, got 'novalue'"),
        (["--always-s3"], "--always-s3 needs --bucket"),
        (["--bucket", "b", "--threshold", "-1"], "threshold must be between 0 and 1,048,576"),
        (["/nonexistent/file"], "No such file or directory"),
    ],
)
def test_cli_send_rejects_bad_input(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from sqs_blueprint.cli import main

    assert main(["send", "--queue-url", "https://q", *args]) == 2
    assert message in capsys.readouterr().err


# ---------------------------------------------------------------- failures never escape


def drain(sqs: Any, url: str, resolver: PayloadStore | None = None) -> list[Record]:
    """Receive and delete until the queue is empty (a FIFO group's next message needs it)."""
    records = []
    while batch := receive_all_once(sqs, url, resolver):
        records += batch
        entries = [{"Id": str(i), "ReceiptHandle": r.receipt_handle} for i, r in enumerate(batch)]
        sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    return records


def receive_all_once(sqs: Any, url: str, resolver: PayloadStore | None) -> list[Record]:
    messages = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=0,
        MessageAttributeNames=["All"],
        MessageSystemAttributeNames=["All"],
    ).get("Messages", [])
    return [Record.from_sqs(m, queue_url=url, resolver=resolver) for m in messages]


def keys_in(s3: Any) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


class CallFaults:
    """Raises ``errors[n]`` on the n-th call of one operation (None lets the call through)."""

    def __init__(self, client: Any, event: str, errors: list[Exception | None]) -> None:
        self.errors = list(errors)
        self.calls = 0
        self._lock = threading.Lock()
        client.meta.events.register(event, self._maybe_raise)

    def _maybe_raise(self, **_: Any) -> None:
        with self._lock:
            self.calls += 1
            error = self.errors.pop(0) if self.errors else None
        if error is not None:
            raise error


class EntryFaults:
    """Fails the entries whose body is in ``fail`` once, as SQS reports a failed entry;
    the other entries of the call reach moto."""

    def __init__(self, client: Any) -> None:
        self.fail: dict[str, tuple[str, bool]] = {}  # body -> (code, sender fault)
        self._removed: list[dict[str, Any]] = []
        client.meta.events.register("provide-client-params.sqs.SendMessageBatch", self._strip)
        client.meta.events.register("after-call.sqs.SendMessageBatch", self._report)

    def _strip(self, params: dict[str, Any], **_: Any) -> None:
        entries = params["Entries"]
        self._removed = [e for e in entries if e["MessageBody"] in self.fail]
        params["Entries"] = [e for e in entries if e["MessageBody"] not in self.fail]

    def _report(self, parsed: dict[str, Any], **_: Any) -> None:
        for e in self._removed:
            code, sender = self.fail.pop(e["MessageBody"])
            failed = {"Id": e["Id"], "SenderFault": sender, "Code": code, "Message": "injected"}
            parsed.setdefault("Failed", []).append(failed)


def no_connection() -> EndpointConnectionError:
    return EndpointConnectionError(endpoint_url="https://sqs.us-east-1.amazonaws.com/")


def s3_error(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "InternalError", "Message": "injected"}}, operation)


def fifo(sqs: Any) -> str:
    url: str = sqs.create_queue(QueueName="q.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    return url


def test_a_network_error_on_one_batch_fails_that_batch_alone(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    faults = CallFaults(
        sqs, "before-call.sqs.SendMessageBatch", [None, no_connection(), no_connection()]
    )
    producer = Producer(url, sqs_client=sqs, max_message_size=1024, max_attempts=2, sleep=no_sleep)
    result = producer.send_many([f"m{i}" for i in range(25)])
    assert [s.index for s in result.sent] == [*range(10), *range(20, 25)]
    reason = 'EndpointConnectionError: Could not connect to the endpoint URL: "https://sqs.us-east-1.amazonaws.com/"'
    assert result.failed == [Failed(i, reason) for i in range(10, 20)]
    assert faults.calls == 4  # batch 2 tried twice
    assert sorted(r.body for r in drain(sqs, url)) == sorted(
        f"m{i}" for i in [*range(10), *range(20, 25)]
    )


def test_a_transient_network_error_is_retried(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    CallFaults(sqs, "before-call.sqs.SendMessageBatch", [no_connection()])
    producer = Producer(url, sqs_client=sqs, max_message_size=1024, sleep=no_sleep)
    result = producer.send_many(["a", "b"])
    assert (len(result.sent), result.failed) == (2, [])
    assert sorted(r.body for r in drain(sqs, url)) == ["a", "b"]


def test_an_unknown_outcome_is_reported_and_its_payload_kept(sqs: Any, s3: Any) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    timeout = ReadTimeoutError(endpoint_url="https://sqs")
    CallFaults(sqs, "before-call.sqs.SendMessageBatch", [timeout])
    store = PayloadStore(BUCKET, s3_client=s3, always=True)
    producer = Producer(url, sqs_client=sqs, payloads=store, max_attempts=1)
    result = producer.send_many(["a"])
    assert result.failed == [
        Failed(
            0,
            'ReadTimeoutError: Read timeout on endpoint URL: "https://sqs"; it may have been sent',
            maybe_sent=True,
        )
    ]
    assert len(keys_in(s3)) == 1 and result.payloads_deleted == 0  # a delivered pointer needs it


def test_an_unexpected_error_is_reported_not_raised(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    CallFaults(sqs, "before-call.sqs.SendMessageBatch", [RuntimeError("boom")])
    result = Producer(url, sqs_client=sqs, max_message_size=1024).send_many(["a"])
    assert result.failed == [
        Failed(0, "RuntimeError: boom; it may have been sent", maybe_sent=True)
    ]


def test_a_missing_queue_fails_every_message_without_raising(sqs: Any) -> None:
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/missing"
    result = Producer(url, sqs_client=sqs).send_many(["a", "b"])
    assert [f.index for f in result.failed] == [0, 1] and result.sent == []
    assert result.failed[0].error.startswith("AWS.SimpleQueueService.NonExistentQueue: ")


def test_an_s3_failure_fails_its_message_and_holds_back_its_group(sqs: Any, s3: Any) -> None:
    url = fifo(sqs)
    CallFaults(s3, "before-call.s3.PutObject", [None, s3_error("PutObject")])
    store = PayloadStore(BUCKET, s3_client=s3, always=True)
    messages = [
        Message("a1", group_id="a"),
        Message("b1", group_id="b"),
        Message("a2", group_id="a"),
        Message("b2", group_id="b"),
    ]
    result = Producer(url, sqs_client=sqs, payloads=store).send_many(messages)
    assert [s.index for s in result.sent] == [0, 2]
    assert result.failed == [
        Failed(
            1,
            "body not offloaded to S3: InternalError: injected",
        ),
        Failed(3, "held back: message 1 of FIFO group 'b' failed before it", held_back=True),
    ]
    assert [r.body for r in drain(sqs, url, resolver=store)] == ["a1", "a2"]
    assert len(keys_in(s3)) == 2  # b2 was never offloaded


def test_payloads_of_unsent_messages_are_deleted_and_counted(sqs: Any, s3: Any) -> None:
    url = fifo(sqs)
    faults = BatchFaults(sqs)
    faults.answers = [(True, "InvalidParameterValue")]
    store = PayloadStore(BUCKET, s3_client=s3, always=True)
    messages = [Message(f"m{i}", group_id="g") for i in range(12)]
    result = Producer(url, sqs_client=sqs, payloads=store).send_many(messages)
    assert result.sent == [] and len(result.failed) == 12
    assert [f.held_back for f in result.failed] == [False] * 10 + [True] * 2
    assert result.payloads_deleted == 12  # all offloaded before the first batch went
    assert keys_in(s3) == [] and drain(sqs, url) == []


def test_a_payload_that_cannot_be_deleted_is_listed(sqs: Any, s3: Any) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    BatchFaults(sqs).answers = [(True, "InvalidParameterValue")]
    CallFaults(s3, "before-call.s3.DeleteObject", [s3_error("DeleteObject")])
    store = PayloadStore(BUCKET, s3_client=s3, always=True)
    result = Producer(url, sqs_client=sqs, payloads=store).send_many(["a"])
    [key] = keys_in(s3)
    assert result.payloads_deleted == 0
    assert result.payloads_not_deleted == [f"s3://{BUCKET}/{key}: InternalError: injected"]


def test_a_fifo_failure_in_preparation_holds_back_only_its_group(sqs: Any) -> None:
    url = fifo(sqs)
    messages = [Message(f"g{i}" if i != 3 else "", group_id="g") for i in range(6)]
    messages += [Message(f"h{i}", group_id="h") for i in range(3)]
    result = Producer(url, sqs_client=sqs).send_many(messages)
    assert [s.index for s in result.sent] == [0, 1, 2, 6, 7, 8]
    held = "held back: message 3 of FIFO group 'g' failed before it"
    assert result.failed == [
        Failed(3, "message body is empty; SQS needs at least one character"),
        *(Failed(i, held, held_back=True) for i in (4, 5)),
    ]
    got = drain(sqs, url)
    assert [r.body for r in got if r.group_id == "g"] == ["g0", "g1", "g2"]
    assert [r.body for r in got if r.group_id == "h"] == ["h0", "h1", "h2"]


def test_a_failed_entry_is_not_retried_behind_a_later_one_of_its_group(sqs: Any) -> None:
    url = fifo(sqs)
    faults = EntryFaults(sqs)
    faults.fail = {"a1": ("InternalError", False)}  # retryable, but a2 got through
    messages = [Message("a1", group_id="a"), Message("a2", group_id="a")]
    messages += [Message("a3", group_id="a"), Message("b1", group_id="b")]
    result = Producer(url, sqs_client=sqs, max_message_size=1024).send_many(messages)
    assert [s.index for s in result.sent] == [1, 2, 3]
    assert result.failed == [
        Failed(
            0,
            "InternalError: injected; not retried: a later message of FIFO group 'a' was sent, "
            "so sending this one now would break the group's order",
        )
    ]
    assert sorted(r.body for r in drain(sqs, url)) == ["a2", "a3", "b1"]


def test_a_retryable_entry_is_retried_in_order_with_the_rest_of_its_group(sqs: Any) -> None:
    url = fifo(sqs)
    faults = EntryFaults(sqs)
    faults.fail = {"a1": ("InternalError", False), "a2": ("InternalError", False)}
    messages = [Message(body, group_id="a") for body in ("a0", "a1", "a2")]
    producer = Producer(url, sqs_client=sqs, max_message_size=1024, sleep=no_sleep)
    result = producer.send_many(messages)
    assert ([s.index for s in result.sent], result.failed) == ([0, 1, 2], [])
    assert [r.body for r in drain(sqs, url)] == ["a0", "a1", "a2"]


def test_a_sender_fault_holds_back_the_rest_of_its_group_in_the_same_batch(sqs: Any) -> None:
    url = fifo(sqs)
    faults = EntryFaults(sqs)
    faults.fail = {"a1": ("InvalidParameterValue", True), "a2": ("InternalError", False)}
    messages = [Message(body, group_id="a") for body in ("a0", "a1", "a2")]
    messages.append(Message("b0", group_id="b"))
    result = Producer(url, sqs_client=sqs, max_message_size=1024).send_many(messages)
    assert [s.index for s in result.sent] == [0, 3]
    assert result.failed == [
        Failed(1, "InvalidParameterValue: injected"),
        Failed(
            2,
            "InternalError: injected; not retried: "
            "held back: message 1 of FIFO group 'a' failed before it",
        ),
    ]


@pytest.mark.parametrize("name", ["ExtendedPayloadSize", "SQSLargePayloadSize"])
@pytest.mark.parametrize("offloading", [True, False])
def test_reserved_attribute_names_are_refused_in_every_mode(
    sqs: Any, s3: Any, name: str, offloading: bool
) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    store = PayloadStore(BUCKET, s3_client=s3) if offloading else None
    attrs = {name: {"DataType": "Number", "StringValue": "1"}}
    result = Producer(url, sqs_client=sqs, payloads=store).send_many([Message("a", attrs), "b"])
    assert [s.index for s in result.sent] == [1]
    assert result.failed == [
        Failed(
            0,
            f"message attribute {name!r} is reserved for S3 payload pointers "
            "(Extended Client format); rename it",
        )
    ]


# ---------------------------------------------------------------- group keys and tenants


def test_a_group_key_field_gives_each_entity_its_own_group(sqs: Any) -> None:
    url = fifo(sqs)
    bodies = ['{"customer": "c1", "n": 0}', '{"customer": 7, "n": 1}', '{"customer": "c1", "n": 2}']
    producer = Producer(url, sqs_client=sqs, group_key="customer")
    override = Message('{"customer": "c1", "n": 3}', group_id="explicit")
    result = producer.send_many([*bodies, override])
    assert (len(result.sent), result.failed) == (4, [])
    got = drain(sqs, url)
    assert sorted((r.group_id, r.body) for r in got) == [
        ("7", bodies[1]),
        ("c1", bodies[0]),
        ("c1", bodies[2]),
        ("explicit", override.body),
    ]


def test_a_group_key_function_is_called_with_the_message(sqs: Any) -> None:
    url = fifo(sqs)
    producer = Producer(url, sqs_client=sqs, group_key=lambda m: m.body.split(":")[0])
    assert producer.send_many(["a:1", "b:1"]).failed == []
    assert sorted(r.group_id or "" for r in drain(sqs, url)) == ["a", "b"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            "not json",
            "group key 'customer' needs a JSON object body; this body is not JSON "
            "(starts 'not json')",
        ),
        ("[1, 2]", "group key 'customer' needs a JSON object body; this body is a JSON array"),
        ('"c1"', "group key 'customer' needs a JSON object body; this body is a JSON string"),
        ("7", "group key 'customer' needs a JSON object body; this body is a JSON number"),
        ("null", "group key 'customer' needs a JSON object body; this body is a JSON null"),
        ("true", "group key 'customer' needs a JSON object body; this body is a JSON boolean"),
        ('{"other": 1}', "group key field 'customer' is missing from this JSON object"),
        ('{"customer": 1.5}', "group key 'customer' must give a string or an integer, got 1.5"),
        ('{"customer": true}', "group key 'customer' must give a string or an integer, got True"),
        (
            '{"customer": "a b"}',
            "message group id must be 1..128 ASCII letters, digits or punctuation, got 'a b'",
        ),
        (
            '{"customer": "' + "x" * 129 + '"}',
            "message group id must be 1..128 ASCII letters, digits or punctuation, got '"
            + "x" * 129
            + "'",
        ),
        (
            '{"customer": ""}',
            "message group id must be 1..128 ASCII letters, digits or punctuation, got ''",
        ),
    ],
)
def test_a_bad_group_key_value_fails_its_message_alone(sqs: Any, body: str, error: str) -> None:
    url = fifo(sqs)
    result = Producer(url, sqs_client=sqs, group_key="customer").send_many(
        [body, '{"customer": "ok"}']
    )
    assert result.failed == [Failed(0, error)]
    assert [s.index for s in result.sent] == [1]


def test_group_ids_take_every_allowed_character(sqs: Any) -> None:
    url = fifo(sqs)
    group = string.ascii_letters + string.digits + string.punctuation
    assert Producer(url, sqs_client=sqs).send_many([Message("m", group_id=group)]).failed == []
    assert drain(sqs, url)[0].group_id == group


def test_a_bad_deduplication_id_is_refused(sqs: Any) -> None:
    url = fifo(sqs)
    message = Message("m", group_id="g", deduplication_id="é")
    assert Producer(url, sqs_client=sqs).send_many([message]).failed == [
        Failed(
            0,
            "message deduplication id must be 1..128 ASCII letters, digits or punctuation, got 'é'",
        )
    ]


def test_a_retried_send_is_deduplicated_even_when_offloaded(sqs: Any, s3: Any) -> None:
    url = fifo(sqs)
    store = PayloadStore(BUCKET, s3_client=s3, always=True)
    producer = Producer(url, sqs_client=sqs, payloads=store, group_key="k")
    bodies = ['{"k": "a", "n": 1}', '{"k": "b", "n": 1}']
    first, again = producer.send_many(bodies), producer.send_many(bodies)
    assert first.failed == again.failed == []
    assert sorted(r.body for r in drain(sqs, url, resolver=store)) == sorted(bodies)


def test_one_body_in_two_groups_is_two_messages(sqs: Any) -> None:
    url = fifo(sqs)
    messages = [Message("same", group_id="a"), Message("same", group_id="b")]
    assert Producer(url, sqs_client=sqs).send_many(messages).failed == []
    assert sorted(r.group_id or "" for r in drain(sqs, url)) == ["a", "b"]


def test_group_key_order_holds_under_concurrent_senders_and_transient_faults(sqs: Any) -> None:
    """Three threads share one producer; each owns four entities and sends their updates in
    chunks. Every third SendMessageBatch call fails to connect and is retried."""
    url = fifo(sqs)
    faults = CallFaults(sqs, "before-call.sqs.SendMessageBatch", [None, None, no_connection()] * 40)
    producer = Producer(url, sqs_client=sqs, group_key="entity", sleep=no_sleep)
    failures: list[Failed] = []

    def sender(thread: int) -> None:
        updates = [
            json.dumps({"entity": f"e{thread}-{e}", "seq": seq})
            for seq in range(8)
            for e in range(4)
        ]
        for start in range(0, len(updates), 7):
            failures.extend(producer.send_many(updates[start : start + 7]).failed)

    threads = [threading.Thread(target=sender, args=(t,)) for t in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == [] and faults.calls > 3 * 5  # 5 chunks a thread, some tried twice
    seen: dict[str, list[int]] = {}
    for record in drain(sqs, url):
        body = json.loads(record.body)
        assert record.group_id == body["entity"]
        seen.setdefault(body["entity"], []).append(body["seq"])
    assert seen == {f"e{t}-{e}": list(range(8)) for t in range(3) for e in range(4)}


def test_a_tenant_sets_the_group_id_on_a_standard_queue(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    producer = Producer(url, sqs_client=sqs, tenant_key="tenant")
    messages = [
        Message("plain", tenant="t1"),
        Message('{"tenant": "t2"}'),
        Message('{"tenant": "t2"}', tenant="t3"),  # the message's own tenant wins
        Message("both", tenant="t4", group_id="t4"),
    ]
    result = producer.send_many(messages)
    assert result.failed == []
    got = sorted((r.group_id or "", r.body) for r in drain(sqs, url))
    assert got == [
        ("t1", "plain"),
        ("t2", '{"tenant": "t2"}'),
        ("t3", '{"tenant": "t2"}'),
        ("t4", "both"),
    ]


def test_tenant_contradictions_are_refused(sqs: Any) -> None:
    standard = Producer(sqs.create_queue(QueueName="q")["QueueUrl"], sqs_client=sqs)
    fifo_producer = Producer(fifo(sqs), sqs_client=sqs)
    result = standard.send_many([Message("m", tenant="t1", group_id="g"), Message("m", tenant="")])
    assert result.failed == [
        Failed(
            0,
            "tenant 't1' and group id 'g' disagree: both set the MessageGroupId; "
            "give one of them, or the same value",
        ),
        Failed(1, "message group id must be 1..128 ASCII letters, digits or punctuation, got ''"),
    ]
    result = fifo_producer.send_many(
        [Message("m", tenant="t1"), Message("m", tenant="t", group_id="t")]
    )
    assert result.failed == [
        Failed(
            0,
            "tenant 't1' given for a FIFO queue, where the message group orders messages: "
            "give a group id (the tenant itself for one ordered group per tenant); "
            "tenants are for standard (fair) queues",
        )
    ]
    assert [s.index for s in result.sent] == [1]


def test_a_malformed_response_is_reported_not_raised(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]

    def answer(**_: Any) -> Any:
        ok = [{"Id": "0"}, {"Id": "1"}]  # no MessageId
        return AWSResponse("https://sqs", 200, {}, None), {"Successful": ok, "Failed": []}

    sqs.meta.events.register("before-call.sqs.SendMessageBatch", answer)
    result = Producer(url, sqs_client=sqs, max_message_size=1024).send_many(["a", "b"])
    reason = "KeyError: 'MessageId'; it may have been sent"
    assert result.failed == [Failed(0, reason, maybe_sent=True), Failed(1, reason, maybe_sent=True)]
