"""The local event-source mappings run the fixture handlers with Lambda's semantics.

Each test waits for a condition with a generous deadline and checks what must
hold however the machine schedules the pollers (where a record ended, how many
times it was processed), not how long it took.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import Harness, delta
from tests.e2e.fixtures.app import VISIBILITY

pytestmark = pytest.mark.e2e
MAX_RECEIVE_COUNT = 2  # the fixture's Work queue
TIMEOUT_MS = VISIBILITY.to_milliseconds()  # the fixture functions' timeout


def test_records_are_lambda_shaped_and_context_has_remaining_time(harness: Harness) -> None:
    [message_id] = harness.send(
        "WorkQueueUrl",
        "ok",
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "order"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    harness.drain()
    seen = harness.seen()
    record = seen[f"{message_id}-1"]
    assert record["messageId"] == message_id
    assert record["receiptHandle"]
    assert json.loads(record["body"])["tag"] == harness.tag
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == harness.output("WorkQueueArn")
    assert record["awsRegion"] == "us-east-1"
    assert record["md5OfBody"]
    attributes = record["attributes"]
    for key in ("ApproximateReceiveCount", "SentTimestamp", "SenderId"):
        assert key in attributes
    assert "ApproximateFirstReceiveTimestamp" in attributes
    assert record["messageAttributes"]["kind"] == {
        "stringValue": "order",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert record["messageAttributes"]["blob"]["binaryValue"] == "AAE="
    [context] = [v for k, v in seen.items() if k.startswith("context-")]
    assert context["function_name"] == harness.output("FnAName")
    assert context["invoked_function_arn"].endswith(f":function:{harness.output('FnAName')}")
    assert context["aws_request_id"]
    assert 0 < context["remaining_ms"] <= TIMEOUT_MS


def test_fifo_batches_keep_group_order_and_carry_fifo_attributes(harness: Harness) -> None:
    ids = harness.send("OrderedQueueUrl", *["ok"] * 15)
    harness.drain()
    seen = harness.seen()
    batches = [seen[k]["records"] for k in sorted(k for k in seen if k.startswith("batch-"))]
    assert len(batches) >= 2  # batch size 10
    delivered = [r for batch in batches for r in batch]
    assert [r["messageId"] for r in delivered] == ids
    attributes = delivered[0]["attributes"]
    assert attributes["MessageGroupId"] == "g"
    assert attributes["MessageDeduplicationId"].startswith(harness.tag)
    assert attributes["SequenceNumber"]


def test_reported_failures_reappear_and_reach_the_dlq(harness: Harness) -> None:
    fn = harness.output("FnAName")
    before = harness.runner.stats()
    ids = harness.send("WorkQueueUrl", "ok", "ok", "fail", "ok", "ok")
    after = harness.drain()
    seen = harness.seen()
    # The successes of a partly failed batch are processed once, never redelivered.
    for i in (0, 1, 3, 4):
        assert f"{ids[i]}-1" in seen
        assert f"{ids[i]}-2" not in seen
    [dead] = harness.dead_letters()
    assert dead["MessageId"] == ids[2]
    # At least maxReceiveCount deliveries before the DLQ; this inspection counts one more.
    assert int(dead["Attributes"]["ApproximateReceiveCount"]) >= MAX_RECEIVE_COUNT + 1
    reported = delta(before, after, fn, "failures_reported") + delta(before, after, fn, "errors")
    assert reported >= MAX_RECEIVE_COUNT
    assert delta(before, after, fn, "deleted") == 4


def test_an_exception_returns_the_whole_batch(harness: Harness) -> None:
    fn = harness.output("FnAName")
    before = harness.runner.stats()
    ids = harness.send("WorkQueueUrl", "raise")
    after = harness.drain()
    assert delta(before, after, fn, "errors") >= MAX_RECEIVE_COUNT
    assert delta(before, after, fn, "deleted") == 0
    assert "the whole batch fails" in (after.functions[fn].last_error or "")
    [dead] = harness.dead_letters()
    assert dead["MessageId"] == ids[0]
    assert int(dead["Attributes"]["ApproximateReceiveCount"]) >= MAX_RECEIVE_COUNT + 1
    assert not harness.seen()


def test_a_timeout_kills_the_runtime_and_the_batch_is_retried(harness: Harness) -> None:
    fn = harness.output("FnAName")
    before = harness.runner.stats()
    [message_id] = harness.send("WorkQueueUrl", "sleep_once")
    after = harness.drain()
    # The first delivery sleeps 30 s: the runner gives up at the timeout, replaces the
    # runtime, and the second delivery (the handler sleeps only on the first) succeeds.
    assert delta(before, after, fn, "timeouts") == 1
    assert delta(before, after, fn, "restarts") >= 1
    assert delta(before, after, fn, "deleted") == 1
    seen = harness.seen()
    assert f"{message_id}-1" not in seen and f"{message_id}-2" in seen
    assert f"timed out after {TIMEOUT_MS / 1000:g} s" in (after.functions[fn].last_error or "")
    assert not harness.dead_letters()


def test_functions_with_the_same_module_name_stay_isolated(harness: Harness) -> None:
    harness.send("WorkQueueUrl", "ok")
    harness.send("PlainQueueUrl", "ok", "ok")
    harness.drain()
    seen = harness.seen()
    modules_a = {v["module"] for k, v in seen.items() if k.startswith("context-")}
    modules_b = {v["module"] for k, v in seen.items() if k.startswith("batch-")}
    assert modules_a == {"a"}
    assert modules_b == {"b"}


def test_an_environment_update_restarts_the_runtime_with_it(harness: Harness) -> None:
    fn = harness.output("FnAName")
    before = harness.runner.stats()
    [poison] = harness.send("WorkQueueUrl", "poison")
    failed = harness.runner.drain(
        120,
        until=lambda: (
            delta(before, harness.runner.stats(), fn, "failures_reported")
            + delta(before, harness.runner.stats(), fn, "errors")
            >= 1
        ),
    )
    assert failed.drained
    harness.runner.update_environment(fn, {"POISON_FIXED": "1"})
    after = harness.drain()
    try:
        assert f"{poison}-2" in harness.seen()
        assert delta(before, after, fn, "restarts") >= 1
        assert not harness.dead_letters()
    finally:
        harness.runner.update_environment(fn, {"POISON_FIXED": None})


def test_concurrent_pollers_never_hand_out_one_message_twice(harness: Harness) -> None:
    ids = harness.send("PlainQueueUrl", *["ok"] * 60)  # fn_b: 2 pollers, batches of 10
    harness.drain()
    seen = harness.seen()
    delivered = [
        r["messageId"] for k, v in seen.items() if k.startswith("batch-") for r in v["records"]
    ]
    assert sorted(delivered) == sorted(ids)  # every message once, none twice
