"""DLQ inspect and redrive: the client-side path on moto, the native path with Stubber."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from sqs_blueprint import redrive as rd
from sqs_blueprint.errors import UsageError
from sqs_blueprint.payload import PayloadStore
from sqs_blueprint.redrive.client_side import Pacer, entry
from sqs_blueprint.redrive.queues import describe

ACCOUNT = "123456789012"  # moto's default account
ARN = f"arn:aws:sqs:us-east-1:{ACCOUNT}"
BUCKET = "payloads"


@pytest.fixture
def sqs(aws: None) -> Any:
    return boto3.client("sqs")


def make_dlq(sqs: Any, name: str, *, sources: int = 1, fifo: bool = False) -> tuple[str, list[str]]:
    """A DLQ and the source queues whose RedrivePolicy names it."""
    suffix = ".fifo" if fifo else ""
    attrs = {"FifoQueue": "true"} if fifo else {}
    dlq = sqs.create_queue(QueueName=f"{name}-dlq{suffix}", Attributes=attrs)["QueueUrl"]
    policy = json.dumps({"deadLetterTargetArn": f"{ARN}:{name}-dlq{suffix}", "maxReceiveCount": 5})
    urls = [
        sqs.create_queue(
            QueueName=f"{name}-{i}{suffix}", Attributes={**attrs, "RedrivePolicy": policy}
        )["QueueUrl"]
        for i in range(sources)
    ]
    return dlq, urls


def put(sqs: Any, url: str, bodies: list[str], **extra: Any) -> list[str]:
    """Message ids of ``bodies`` sent one by one (FIFO callers give the group)."""
    ids = []
    for body in bodies:
        kwargs = dict(extra)
        if url.endswith(".fifo"):
            kwargs["MessageDeduplicationId"] = uuid.uuid4().hex
        ids.append(sqs.send_message(QueueUrl=url, MessageBody=body, **kwargs)["MessageId"])
    return ids


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every visible message, deleted, in receive order (docs/aws-facts.md#local-cloud:
    WaitTimeSeconds=0)."""
    out: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=0,
        MessageAttributeNames=["All"],
        MessageSystemAttributeNames=["All"],
    ).get("Messages", []):
        out += batch
        for m in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


def bodies(messages: list[dict[str, Any]]) -> Counter[str]:
    return Counter(m["Body"] for m in messages)


def run(sqs: Any, dlq: str, **kwargs: Any) -> rd.RedriveResult:
    """A redrive with fast receives (docs/aws-facts.md#local-cloud) and the fallback notice
    silenced."""
    return rd.redrive(dlq, sqs_client=sqs, notify=lambda _: None, wait_seconds=0, **kwargs)


# --- inspect -----------------------------------------------------------------------


def test_inspect_shows_messages_and_leaves_every_one_visible(sqs: Any) -> None:
    dlq, _ = make_dlq(sqs, "orders")
    sent = put(sqs, dlq, [json.dumps({"n": n}) for n in range(15)])

    letters = rd.inspect(dlq, sqs_client=sqs, limit=50)

    assert sorted(letter.message_id for letter in letters) == sorted(sent)
    first = letters[0]
    assert first.receive_count == 1 and first.group_id is None and first.error is None
    assert first.sent_at is not None and first.first_received_at is not None
    assert first.body is not None and first.size == len(first.body)
    assert sorted(m["MessageId"] for m in drain(sqs, dlq)) == sorted(sent)


def test_inspect_stops_at_the_limit_and_hands_everything_back(sqs: Any) -> None:
    dlq, _ = make_dlq(sqs, "orders")
    put(sqs, dlq, [f"m{n}" for n in range(25)])

    assert len(rd.inspect(dlq, sqs_client=sqs, limit=5)) == 5
    assert len(drain(sqs, dlq)) == 25


def test_survey_pages_through_groups_and_counts_what_a_fifo_group_hides(sqs: Any) -> None:
    dlq, _ = make_dlq(sqs, "ledger", fifo=True)
    put(sqs, dlq, [f"g{n}" for n in range(25)], MessageGroupId="g")
    put(sqs, dlq, ["h0"], MessageGroupId="h")

    survey = rd.survey(dlq, sqs_client=sqs, limit=50)

    assert [letter.body for letter in survey.letters] == [f"g{n}" for n in range(10)] + ["h0"]
    assert (survey.seen, survey.unseen, survey.total, survey.blind) == (11, 15, 26, True)
    assert len(drain(sqs, dlq)) == 26  # all handed back


def test_survey_of_a_standard_queue_sees_every_letter(sqs: Any) -> None:
    dlq, _ = make_dlq(sqs, "orders")
    put(sqs, dlq, [f"m{n}" for n in range(25)])

    survey = rd.survey(dlq, sqs_client=sqs, limit=50)

    assert (len(survey.letters), survey.seen, survey.unseen, survey.blind) == (25, 25, 0, False)


def test_inspect_resolves_s3_payloads_and_shows_missing_ones(sqs: Any) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    store = PayloadStore(BUCKET, s3_client=s3, always=True)
    dlq, _ = make_dlq(sqs, "big")
    for text in ("héllo €", "gone"):
        payload = store.offload(text)
        sqs.send_message(
            QueueUrl=dlq, MessageBody=payload.body, MessageAttributes=payload.message_attributes
        )
        if text == "gone":
            assert payload.pointer is not None
            s3.delete_object(Bucket=BUCKET, Key=payload.pointer.key)

    letters = {letter.size: letter for letter in rd.inspect(dlq, sqs_client=sqs, resolver=store)}

    assert (
        letters[10].body == "héllo €" and letters[10].payload is not None
    )  # docs/aws-facts.md#extended-client-wire-format vector
    missing = letters[4]
    assert missing.body is None and missing.payload and missing.payload.startswith("s3://")
    assert missing.error is not None and "does not exist" in missing.error
    assert "does not exist" in missing.preview()
    assert len(drain(sqs, dlq)) == 2


def test_inspect_by_name_and_unknown_name(sqs: Any) -> None:
    dlq, _ = make_dlq(sqs, "named")
    put(sqs, dlq, ["x"])
    assert [letter.body for letter in rd.inspect("named-dlq", sqs_client=sqs)] == ["x"]
    with pytest.raises(rd.QueueNotFound, match="queue 'nope' does not exist") as info:
        rd.inspect("nope", sqs_client=sqs)
    assert info.value.exit_code == 1 and not isinstance(info.value, UsageError)


def test_summary_and_json_carry_the_facts(sqs: Any) -> None:
    dlq, _ = make_dlq(sqs, "fifo", fifo=True)
    put(sqs, dlq, ["line one\nline two " + "x" * 200], MessageGroupId="g1")

    (letter,) = rd.inspect(dlq, sqs_client=sqs)

    text = letter.summary()
    assert "receives=1" in text and "group=g1" in text and "\n    line one line two" in text
    assert letter.preview().endswith("…") and len(letter.preview()) == 120
    exported = json.loads(json.dumps(letter.to_json()))
    assert exported["group_id"] == "g1" and exported["body"].startswith("line one\n")


# --- client-side redrive on moto ---------------------------------------------------


def test_moto_has_no_move_tasks_so_redrive_moves_client_side_and_says_so(sqs: Any) -> None:
    dlq, (source,) = make_dlq(sqs, "orders")
    put(sqs, dlq, [f"m{n}" for n in range(23)])
    notes: list[str] = []

    result = rd.redrive(dlq, sqs_client=sqs, notify=notes.append, wait_seconds=0)

    assert result.path == "client-side" and result.ok
    assert (result.moved, result.skipped, result.unreached) == (23, 0, 0)
    assert notes and "no message move tasks" in notes[0] and "client-side" in notes[0]
    assert bodies(drain(sqs, source)) == Counter(f"m{n}" for n in range(23))
    assert drain(sqs, dlq) == []


def test_redrive_by_id_moves_only_the_chosen_and_keeps_attributes(sqs: Any) -> None:
    dlq, (source,) = make_dlq(sqs, "orders")
    attrs = {
        "tenant": {"DataType": "String", "StringValue": "t-1"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
    }
    ids = put(sqs, dlq, [f"m{n}" for n in range(20)], MessageAttributes=attrs)
    chosen = set(ids[::3])

    result = run(sqs, dlq, select=rd.by_ids(chosen))

    assert set(result.moved_ids) == chosen and result.skipped == 20 - len(chosen)
    moved = drain(sqs, source)
    assert bodies(moved) == Counter(f"m{n}" for n in range(0, 20, 3))
    assert all(m["MessageAttributes"] == attrs for m in moved)
    left = drain(sqs, dlq)  # the rest were handed back: visible at once
    assert len(left) == 20 - len(chosen) and not chosen & {m["MessageId"] for m in left}


def test_redrive_where_matches_json_bodies_only(sqs: Any) -> None:
    dlq, (source,) = make_dlq(sqs, "orders")
    docs = [json.dumps({"kind": "retry" if n % 2 else "drop", "n": n}) for n in range(12)]
    put(sqs, dlq, [*docs, "not json", "[1, 2]"])

    result = run(sqs, dlq, select=rd.where("kind == 'retry' && n > `4`"))

    assert sorted(json.loads(b)["n"] for b in bodies(drain(sqs, source))) == [5, 7, 9, 11]
    assert result.moved == 4 and result.skipped == 10
    assert len(drain(sqs, dlq)) == 10


def test_bad_jmespath_expression_is_refused_before_any_call() -> None:
    with pytest.raises(rd.RedriveUsageError) as info:
        rd.where("kind ==")
    assert str(info.value) == (
        "--where 'kind ==' is not a JMESPath expression (Incomplete expression at character 7); "
        "see https://jmespath.org/ for the syntax"
    )


def test_fifo_redrive_keeps_group_order_and_sets_ids(sqs: Any) -> None:
    dlq, (source,) = make_dlq(sqs, "ledger", fifo=True)
    for group in ("a", "b"):
        put(sqs, dlq, [f"{group}{n}" for n in range(12)], MessageGroupId=group)

    result = run(sqs, dlq, client_side=True)

    assert result.moved == 24 and result.ok
    moved = drain(sqs, source)
    for group in ("a", "b"):
        in_group = [m["Body"] for m in moved if m["Attributes"]["MessageGroupId"] == group]
        assert in_group == [f"{group}{n}" for n in range(12)]
    assert all(len(m["Attributes"]["MessageDeduplicationId"]) == 64 for m in moved)


def test_fifo_group_behind_an_unchosen_message_is_not_reached(sqs: Any) -> None:
    dlq, (source,) = make_dlq(sqs, "ledger", fifo=True)
    put(sqs, dlq, [json.dumps({"ok": True, "n": n}) for n in range(15)], MessageGroupId="a")
    put(sqs, dlq, [json.dumps({"ok": n != 0, "n": n}) for n in range(15)], MessageGroupId="b")

    result = run(sqs, dlq, select=rd.where("ok"))

    moved = [json.loads(m["Body"]) for m in drain(sqs, source)]
    assert [d["n"] for d in moved if d["ok"]] == list(range(15)) + list(range(1, result.moved - 14))
    assert result.unreached > 0 and "not reached" in result.summary()
    assert len(drain(sqs, dlq)) + result.moved == 30  # none lost, none duplicated


def test_retrying_a_fifo_move_does_not_duplicate(sqs: Any) -> None:
    """The deduplication id depends on the DLQ message, so a second send is dropped."""
    dlq, (source,) = make_dlq(sqs, "ledger", fifo=True)
    put(sqs, dlq, ["a0"], MessageGroupId="a")
    (message,) = sqs.receive_message(
        QueueUrl=dlq, MessageSystemAttributeNames=["All"], WaitTimeSeconds=0
    )["Messages"]
    moved = entry(0, message, describe(sqs, dlq))
    sqs.send_message_batch(QueueUrl=source, Entries=[moved])  # a move whose delete was lost

    run(sqs, dlq, client_side=True, visibility=1)

    assert bodies(drain(sqs, source)) == Counter({"a0": 1})


def test_s3_pointer_messages_move_with_their_pointer_intact(sqs: Any) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    store = PayloadStore(BUCKET, s3_client=s3, always=True)
    dlq, (source,) = make_dlq(sqs, "big")
    sent = []
    for n in range(3):
        payload = store.offload(json.dumps({"n": n, "pad": "x" * 1000}))
        sqs.send_message(
            QueueUrl=dlq, MessageBody=payload.body, MessageAttributes=payload.message_attributes
        )
        sent.append(payload)

    result = run(sqs, dlq, select=rd.where("n >= `1`"), resolver=store)

    assert result.moved == 2
    moved = drain(sqs, source)
    assert bodies(moved) == Counter(p.body for p in sent[1:])
    assert all("ExtendedPayloadSize" in m["MessageAttributes"] for m in moved)
    assert len(s3.list_objects_v2(Bucket=BUCKET)["Contents"]) == 3  # nothing copied or deleted


def fail_sends(sqs: Any, marker: str) -> None:
    """Make SendMessageBatch report entries whose body contains ``marker`` as failed."""
    dropped: list[dict[str, Any]] = []

    def drop(params: dict[str, Any], **_: Any) -> None:
        entries = params["Entries"]
        dropped.extend(e for e in entries if marker in e["MessageBody"])
        params["Entries"] = [e for e in entries if marker not in e["MessageBody"]]

    def report(parsed: dict[str, Any], **_: Any) -> None:
        failed = [{"Id": e["Id"], "SenderFault": False, "Code": "InternalError"} for e in dropped]
        parsed["Failed"] = parsed.get("Failed", []) + [{**f, "Message": "injected"} for f in failed]
        dropped.clear()

    sqs.meta.events.register("before-parameter-build.sqs.SendMessageBatch", drop)
    sqs.meta.events.register("after-call.sqs.SendMessageBatch", report)


def test_entries_that_fail_to_send_stay_in_the_dlq_and_are_reported(sqs: Any) -> None:
    dlq, (source,) = make_dlq(sqs, "orders")
    ids = put(sqs, dlq, [f"{'bad' if n % 7 == 3 else 'ok'}{n}" for n in range(20)])
    fail_sends(sqs, "bad")

    result = run(sqs, dlq, client_side=True)

    assert set(result.failed) == {ids[3], ids[10], ids[17]} and not result.ok
    assert all("injected" in reason for reason in result.failed.values())
    assert result.moved == 17 and len(drain(sqs, source)) == 17
    assert bodies(drain(sqs, dlq)) == Counter(["bad3", "bad10", "bad17"])


def test_a_failed_fifo_send_holds_its_group_and_says_what_went_ahead(sqs: Any) -> None:
    dlq, (source,) = make_dlq(sqs, "ledger", fifo=True)
    put(sqs, dlq, ["a0", "a1", "a2-bad", *[f"a{n}" for n in range(3, 12)]], MessageGroupId="a")
    fail_sends(sqs, "bad")

    result = run(sqs, dlq, client_side=True)

    # One receive, one batch: a3..a9 went in the batch a2 failed in; a10, a11 were never reached.
    assert [m["Body"] for m in drain(sqs, source)] == ["a0", "a1", *[f"a{n}" for n in range(3, 10)]]
    (reason,) = result.failed.values()
    assert "injected" in reason and "7 later message(s) of group a in the same batch" in reason
    assert result.unreached == 2
    assert [m["Body"] for m in drain(sqs, dlq)] == ["a2-bad", "a10", "a11"]


def test_a_failed_fifo_send_stops_its_group_in_later_batches(sqs: Any) -> None:
    dlq, (source,) = make_dlq(sqs, "ledger", fifo=True)
    # three of these need two batches (docs/aws-facts.md#sqs-limits: 1 MiB per batch)
    pad = "x" * 400_000
    put(sqs, dlq, [f"a0-bad{pad}", f"a1{pad}", f"a2{pad}"], MessageGroupId="a")
    put(sqs, dlq, ["b0"], MessageGroupId="b")
    fail_sends(sqs, "bad")

    result = run(sqs, dlq, client_side=True)

    assert sorted(m["Body"][:2] for m in drain(sqs, source)) == ["a1", "b0"]
    reasons = sorted(result.failed.values())
    assert reasons[0] == "not sent: an earlier message of group a was not sent"
    assert reasons[1].startswith("not sent: injected; 1 later message(s) of group a")
    assert [m["Body"][:2] for m in drain(sqs, dlq)] == ["a0", "a2"]


def test_a_failing_send_call_keeps_every_message(sqs: Any) -> None:
    dlq, (source,) = make_dlq(sqs, "orders")
    put(sqs, dlq, [f"m{n}" for n in range(5)])

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "KMS.AccessDenied", "Message": "no key"}}, "Send")

    sqs.meta.events.register("before-call.sqs.SendMessageBatch", refuse)
    result = run(sqs, dlq, client_side=True)

    assert result.moved == 0 and len(result.failed) == 5
    assert all("KMS.AccessDenied" in reason for reason in result.failed.values())
    assert len(drain(sqs, dlq)) == 5 and drain(sqs, source) == []


# --- destination rules -----------------------------------------------------------


def test_several_sources_need_to_and_the_error_lists_them(sqs: Any) -> None:
    dlq, sources = make_dlq(sqs, "shared", sources=2)
    with pytest.raises(rd.RedriveError, match="serves 2 source queues") as info:
        run(sqs, dlq)
    assert all(url in str(info.value) for url in sources)


def test_several_sources_with_to_moves_into_the_one_named(sqs: Any) -> None:
    dlq, sources = make_dlq(sqs, "shared", sources=2)
    put(sqs, dlq, ["a", "b"])
    assert run(sqs, dlq, to="shared-1").moved == 2
    assert len(drain(sqs, sources[1])) == 2 and drain(sqs, sources[0]) == []


def test_a_dlq_without_source_needs_to(sqs: Any) -> None:
    dlq = sqs.create_queue(QueueName="orphan")["QueueUrl"]
    with pytest.raises(rd.RedriveError, match=r"serves no source queue.*--to"):
        run(sqs, dlq)


def test_a_destination_that_is_not_a_source_is_refused(sqs: Any) -> None:
    dlq, _ = make_dlq(sqs, "orders")
    sqs.create_queue(QueueName="elsewhere")
    with pytest.raises(rd.RedriveError, match=r"refusing to redrive.*RedriveAllowPolicy"):
        run(sqs, dlq, to="elsewhere")


def allow_policy(sqs: Any, policy: dict[str, Any]) -> None:
    """docs/aws-facts.md#local-cloud: moto drops RedriveAllowPolicy, so add it to
    GetQueueAttributes answers."""

    def add(parsed: dict[str, Any], **_: Any) -> None:
        parsed.setdefault("Attributes", {})["RedriveAllowPolicy"] = json.dumps(policy)

    sqs.meta.events.register("after-call.sqs.GetQueueAttributes", add)


def test_a_destination_the_allow_policy_names_is_accepted(sqs: Any) -> None:
    dlq, _ = make_dlq(sqs, "orders")
    other = sqs.create_queue(QueueName="elsewhere")["QueueUrl"]
    put(sqs, dlq, ["a"])
    allow_policy(sqs, {"redrivePermission": "byQueue", "sourceQueueArns": [f"{ARN}:elsewhere"]})
    assert run(sqs, dlq, to=other).moved == 1
    assert bodies(drain(sqs, other)) == Counter(["a"])


@pytest.mark.parametrize(
    ("policy", "allowed"),
    [
        ({"redrivePermission": "allowAll"}, True),
        ({"redrivePermission": "byQueue", "sourceQueueArns": [f"{ARN}:q"]}, True),
        ({"redrivePermission": "byQueue", "sourceQueueArns": [f"{ARN}:other"]}, False),
        ({"redrivePermission": "denyAll"}, False),
        (None, False),
        ("not json", False),
        ([], False),
    ],
)
def test_redrive_allowed_reads_the_policy(policy: Any, allowed: bool) -> None:
    text = policy if policy is None or isinstance(policy, str) else json.dumps(policy)
    assert rd.redrive_allowed(text, f"{ARN}:q") is allowed


def test_fifo_dlq_into_standard_queue_is_refused(sqs: Any) -> None:
    dlq, _ = make_dlq(sqs, "ledger", fifo=True)
    sqs.create_queue(QueueName="plain")
    allow_policy(sqs, {"redrivePermission": "allowAll"})
    with pytest.raises(rd.RedriveError, match=r"FIFO queue but .* is standard"):
        run(sqs, dlq, to="plain")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate": 0}, "rate must be 1 .. 500"),
        ({"rate": 501}, "rate must be 1 .. 500"),
        ({"visibility": 0}, "visibility must be"),
        ({"wait_seconds": 21}, "wait must be 0 .. 20"),
    ],
)
def test_bad_numbers_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(rd.RedriveUsageError, match=message):
        rd.redrive("https://sqs.us-east-1.amazonaws.com/1/q", sqs_client=object(), **kwargs)


# --- native path with Stubber ----------------------------------------------------

DLQ_URL = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/orders-dlq"
SRC_URL = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/orders"
OTHER_URL = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/other"
ATTRS = ["All"]


def stub_destination(stub: Stubber, *, to: str = SRC_URL, policy: str | None = None) -> None:
    """The calls that check the DLQ and its destination, in order."""
    dlq_attrs = {"QueueArn": f"{ARN}:orders-dlq"}
    if policy is not None:
        dlq_attrs["RedriveAllowPolicy"] = policy
    stub.add_response(
        "get_queue_attributes",
        {"Attributes": dlq_attrs},
        {"QueueUrl": DLQ_URL, "AttributeNames": ATTRS},
    )
    stub.add_response(
        "list_dead_letter_source_queues", {"queueUrls": [SRC_URL]}, {"QueueUrl": DLQ_URL}
    )
    stub.add_response(
        "get_queue_attributes",
        {"Attributes": {"QueueArn": f"{ARN}:{to.rsplit('/', 1)[1]}"}},
        {"QueueUrl": to, "AttributeNames": ATTRS},
    )


def task(status: str, moved: int, total: int | None = 40, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"Status": status, "ApproximateNumberOfMessagesMoved": moved, **extra}
    if total is not None:
        out["ApproximateNumberOfMessagesToMove"] = total
    return {"Results": [out]}


LIST = {"SourceArn": f"{ARN}:orders-dlq", "MaxResults": 1}


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "sqs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def test_native_redrive_to_source_follows_the_task(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    stub_destination(stub)
    stub.add_response(
        "start_message_move_task", {"TaskHandle": "h-1"}, {"SourceArn": f"{ARN}:orders-dlq"}
    )
    stub.add_response("list_message_move_tasks", task("RUNNING", 0, None, TaskHandle="h-1"), LIST)
    stub.add_response("list_message_move_tasks", task("RUNNING", 10, TaskHandle="h-1"), LIST)
    stub.add_response("list_message_move_tasks", task("COMPLETED", 40), LIST)
    reports: list[tuple[int, int | None]] = []
    handles: list[str] = []

    result = rd.redrive(
        DLQ_URL,
        sqs_client=client,
        progress=lambda moved, total: reports.append((moved, total)),
        started=handles.append,
        poll_seconds=0,
    )

    assert result == rd.RedriveResult(path="native", moved=40, task_handle="h-1")
    assert handles == ["h-1"]
    assert reports == [(0, None), (10, 40), (40, 40)]
    assert result.summary() == "native: completed, moved 40"


def test_native_redrive_elsewhere_with_a_rate_and_a_failing_task(
    stubbed: tuple[Any, Stubber],
) -> None:
    client, stub = stubbed
    stub_destination(stub, to=OTHER_URL, policy='{"redrivePermission": "allowAll"}')
    stub.add_response(
        "start_message_move_task",
        {"TaskHandle": "h-2"},
        {
            "SourceArn": f"{ARN}:orders-dlq",
            "DestinationArn": f"{ARN}:other",
            "MaxNumberOfMessagesPerSecond": 50,
        },
    )
    stub.add_response(
        "list_message_move_tasks", task("FAILED", 3, FailureReason="AccessDenied"), LIST
    )

    result = rd.redrive(DLQ_URL, to=OTHER_URL, rate=50, sqs_client=client, poll_seconds=0)

    assert (result.status, result.moved, result.failure_reason) == ("FAILED", 3, "AccessDenied")
    assert not result.ok and "(AccessDenied)" in result.summary()


def test_native_redrive_without_waiting_returns_the_handle(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    stub_destination(stub)
    stub.add_response(
        "start_message_move_task", {"TaskHandle": "h-3"}, {"SourceArn": f"{ARN}:orders-dlq"}
    )
    result = rd.redrive(DLQ_URL, sqs_client=client, wait=False)
    assert (result.task_handle, result.status) == ("h-3", "RUNNING")


def test_http_500_from_an_emulator_means_no_move_tasks(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    stub.add_client_error(
        "start_message_move_task", "InternalFailure", "not implemented", http_status_code=500
    )
    with pytest.raises(rd.MoveTasksUnsupported, match="no message move tasks"):
        rd.start_move(client, f"{ARN}:orders-dlq")


def test_other_start_errors_are_not_taken_for_missing_move_tasks(
    stubbed: tuple[Any, Stubber],
) -> None:
    client, stub = stubbed
    stub.add_client_error("start_message_move_task", "AccessDenied", http_status_code=403)
    with pytest.raises(Exception, match="AccessDenied") as info:
        rd.start_move(client, f"{ARN}:orders-dlq")
    assert not isinstance(info.value, rd.RedriveError)


def test_cancel_sends_the_handle(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    stub.add_response(
        "cancel_message_move_task", {"ApproximateNumberOfMessagesMoved": 7}, {"TaskHandle": "h-1"}
    )
    assert rd.cancel("h-1", sqs_client=client) == 7


def test_pacer_keeps_to_the_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]
    sleeps: list[float] = []
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(time, "sleep", sleeps.append)
    pacer = Pacer(5)
    for _ in range(3):
        pacer.wait(10)
    assert sleeps == [2.0, 4.0]  # 10 messages at 5/s take 2 s per batch
