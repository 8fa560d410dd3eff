"""The real synthesized stacks (stage ``local``) deployed into moto, with the real
bundled handlers run by the local event-source mappings.

Every test asserts that nothing was lost and nothing written twice. The source
queues' visibility is shortened locally (as ``sqs-blueprint demo`` does) so that
retries and dead-lettering happen within seconds.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from app import build_app
from sqs_blueprint.local import LocalCloud
from sqs_blueprint.local.assembly import Assembly, read_assembly
from sqs_blueprint.local.demo.workload import partner_policy
from sqs_blueprint.local.deploy import DeployedStack, deploy_assembly
from sqs_blueprint.local.runner import LocalRunner
from sqs_blueprint.payload import PayloadStore
from sqs_blueprint.producer import Message, Producer
from sqs_blueprint.redrive import redrive
from sqs_blueprint.rpc import RpcClient, RpcError
from sqs_blueprint.upsert import item_key
from tests.infra.conftest import cdk_context

pytestmark = pytest.mark.e2e

STACKS = ("WriteBuffer", "Ordered", "RequestResponse")
LOCAL_VISIBILITY_S = 6
PARTNER = "partner-payloads-e2e"


@dataclass
class Pipelines:
    cloud: LocalCloud
    stacks: dict[str, DeployedStack]
    runner: LocalRunner

    def out(self, stack: str, key: str) -> str:
        return self.stacks[stack].outputs[key]

    def client(self, service: str) -> Any:
        return self.cloud.client(service)

    def wait(self, condition: Callable[[], bool], timeout_s: float = 60) -> None:
        stats = self.runner.drain(timeout_s, until=condition)
        assert stats.drained, f"not done after {timeout_s} s: {stats}"

    def keys(self, stack: str) -> set[str]:
        ddb = self.client("dynamodb")
        pages = ddb.get_paginator("scan").paginate(
            TableName=self.out(stack, "TableName"), ProjectionExpression="pk"
        )
        return {item["pk"]["S"] for page in pages for item in page["Items"]}

    def depth(self, url: str) -> int:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attrs = self.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=names)
        return sum(int(v) for v in attrs["Attributes"].values())

    def environment(self, stack: str, **changes: str | None) -> None:
        self.runner.update_environment(self.out(stack, "FunctionName"), changes)


@pytest.fixture(scope="module")
def pipelines(cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipelines]:
    outdir = tmp_path_factory.mktemp("local-stage.out")
    app, _ = build_app(cdk_context("local"), outdir=str(outdir))
    app.synth()
    assembly = read_assembly(outdir)
    chosen = Assembly(assembly.directory, [s for s in assembly.stacks if s.artifact_id in STACKS])
    stacks = {s.artifact_id: s for s in deploy_assembly(cloud, chosen)}
    sqs = cloud.client("sqs")
    for name, prefix in (("WriteBuffer", "Ingest"), ("Ordered", "Events")):
        sqs.set_queue_attributes(
            QueueUrl=stacks[name].outputs[f"{prefix}QueueUrl"],
            Attributes={"VisibilityTimeout": str(LOCAL_VISIBILITY_S)},
        )
    cloud.client("s3").create_bucket(Bucket=PARTNER)
    functions = [s.outputs["FunctionName"] for s in stacks.values()]
    logs = tmp_path_factory.mktemp("pipeline-logs")
    with LocalRunner(cloud, log_dir=logs, functions=functions) as runner:
        for name in ("WriteBuffer", "Ordered"):  # retry backoff within the shortened timeout
            runner.update_environment(
                stacks[name].outputs["FunctionName"],
                {"RETRY_BASE_S": "1", "RETRY_MAX_S": str(LOCAL_VISIBILITY_S)},
            )
        yield Pipelines(cloud, stacks, runner)


def send(p: Pipelines, bodies: list[dict[str, Any]], store: PayloadStore | None = None) -> int:
    """Send to the write buffer; returns how many went through S3."""
    producer = Producer(
        p.out("WriteBuffer", "IngestQueueUrl"), sqs_client=p.client("sqs"), payloads=store
    )
    result = producer.send_many(json.dumps(b) for b in bodies)
    assert not result.failed
    return sum(1 for s in result.sent if s.offloaded)


def keys_of(bodies: list[dict[str, Any]]) -> set[str]:
    return {item_key(b) for b in bodies}


def test_happy_path_absorbs_duplicates_and_resolves_large_payloads(p: Pipelines) -> None:
    tag = uuid.uuid4().hex[:8]
    records = [{"tag": tag, "order": i, "amount": i * 2.5} for i in range(40)]
    duplicates = [dict(reversed(r.items())) for r in records[:10]]
    large = [{"tag": tag, "order": f"large-{i}", "blob": "é" * 6_000} for i in range(3)]
    bucket = p.out("WriteBuffer", "PayloadBucketName")
    store = PayloadStore(bucket, s3_client=p.client("s3"), threshold=8 * 1024)
    before = p.keys("WriteBuffer")  # before sending: the running mappings write at once
    offloaded = send(p, records + duplicates + large, store=store)
    expected = keys_of(records + large)
    p.wait(lambda: expected <= p.keys("WriteBuffer"))
    p.wait(lambda: p.depth(p.out("WriteBuffer", "IngestQueueUrl")) == 0, 20)
    new = p.keys("WriteBuffer") - before
    assert new == expected  # nothing lost, duplicates absorbed, nothing else written
    assert offloaded == 3
    ddb = p.client("dynamodb")
    item = ddb.get_item(
        TableName=p.out("WriteBuffer", "TableName"), Key={"pk": {"S": item_key(large[0])}}
    )["Item"]
    assert item["blob"]["S"] == "é" * 6_000


def test_poison_goes_to_the_dlq_and_lands_after_the_fix_and_redrive(p: Pipelines) -> None:
    tag = uuid.uuid4().hex[:8]
    good = [{"tag": tag, "order": i} for i in range(5)]
    partner = [{"tag": tag, "partner": i} for i in range(4)]
    send(p, good)
    send(p, partner, store=PayloadStore(PARTNER, s3_client=p.client("s3"), always=True))
    dlq = p.out("WriteBuffer", "IngestDeadLetterQueueUrl")
    p.wait(lambda: keys_of(good) <= p.keys("WriteBuffer") and p.depth(dlq) >= 4, 90)
    assert not keys_of(partner) & p.keys("WriteBuffer")
    bucket = p.out("WriteBuffer", "PayloadBucketName")
    p.environment("WriteBuffer", PAYLOAD_BUCKET=f"{bucket},{PARTNER}")
    # ... and the partner lets the consumer's role read its bucket (the IAM check enforces it)
    function = p.out("WriteBuffer", "FunctionName")
    role = p.client("lambda").get_function_configuration(FunctionName=function)["Role"]
    p.client("s3").put_bucket_policy(
        Bucket=PARTNER, Policy=json.dumps(partner_policy(role, bucket=PARTNER))
    )
    result = redrive(dlq, sqs_client=p.client("sqs"), notify=lambda _: None)
    assert (result.path, result.moved, dict(result.failed)) == ("client-side", 4, {})
    p.wait(lambda: keys_of(partner) <= p.keys("WriteBuffer"))
    assert p.depth(dlq) == 0


def test_fifo_order_holds_in_a_group_while_another_group_fails(p: Pipelines) -> None:
    tag = uuid.uuid4().hex[:8]
    good, bad = f"good-{tag}", f"bad-{tag}"
    messages = [
        Message(json.dumps({"account": bad, "version": 1}), group_id=bad),
        Message(json.dumps({"account": bad, "version": "two"}), group_id=bad),
        Message(json.dumps({"account": bad, "version": 3}), group_id=bad),
        *(Message(json.dumps({"account": good, "version": v}), group_id=good) for v in range(1, 7)),
        Message(json.dumps({"account": good, "version": 2, "replayed": True}), group_id=good),
    ]
    queue = p.out("Ordered", "EventsQueueUrl")
    assert not Producer(queue, sqs_client=p.client("sqs")).send_many(messages).failed
    table = p.out("Ordered", "TableName")
    ddb = p.client("dynamodb")

    def version(account: str) -> int | None:
        item = ddb.get_item(TableName=table, Key={"pk": {"S": item_key({"account": account})}})
        return int(item["Item"]["version"]["N"]) if "Item" in item else None

    p.wait(lambda: version(good) == 6 and version(bad) == 1, 30)
    dlq = p.out("Ordered", "EventsDeadLetterQueueUrl")
    p.wait(lambda: p.depth(queue) == 0 and p.depth(dlq) >= 2, 90)
    # Version 3 never overtook the malformed version 2: it waited behind it, in order.
    assert version(bad) == 1 and version(good) == 6
    sqs = p.client("sqs")
    letters = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=0)
    bodies = [json.loads(m["Body"]) for m in letters.get("Messages", [])]
    assert [b["version"] for b in bodies if b["account"] == bad] == ["two", 3]


def test_a_handler_crash_returns_the_whole_batch_and_nothing_is_lost(p: Pipelines) -> None:
    tag = uuid.uuid4().hex[:8]
    records = [{"tag": tag, "order": i} for i in range(6)]
    function = p.out("WriteBuffer", "FunctionName")
    errors_before = p.runner.stats().functions[function].errors
    config = p.client("lambda").get_function_configuration(FunctionName=function)
    budget = config["Environment"]["Variables"]["WCU_PER_SECOND"]
    p.environment("WriteBuffer", WCU_PER_SECOND="not-a-number")  # the handler raises at start
    try:
        send(p, records)
        p.wait(lambda: p.runner.stats().functions[function].errors > errors_before, 30)
        assert not keys_of(records) & p.keys("WriteBuffer")
    finally:
        p.environment("WriteBuffer", WCU_PER_SECOND=budget)
    p.wait(lambda: keys_of(records) <= p.keys("WriteBuffer"), 60)
    p.wait(lambda: p.depth(p.out("WriteBuffer", "IngestQueueUrl")) == 0, 20)


def test_request_response_on_the_local_cloud(p: Pipelines) -> None:
    url = p.out("RequestResponse", "RequestQueueUrl")
    prefix = p.out("RequestResponse", "ResponseQueuePrefix")
    with RpcClient(
        request_queue_url=url,
        response_queue_prefix=prefix,
        sqs_client=p.client("sqs"),
        wait_time_seconds=1,
    ) as rpc:
        futures = [
            rpc.submit({"type": "checksum", "data": f"hello-{i}"}, timeout=30) for i in range(5)
        ]
        answers = [f.result() for f in futures]
        with pytest.raises(RpcError, match="unknown request type"):
            rpc.call({"type": "nope"}, timeout=30)
    assert len({a["hexdigest"] for a in answers}) == 5


@pytest.fixture
def p(pipelines: Pipelines) -> Pipelines:
    return pipelines


def _dead_letter(p: Pipelines, dlq: str, message_id: str) -> dict[str, Any] | None:
    """The message in the DLQ, looked at and left visible (what the queue saw)."""
    got = (
        p.client("sqs")
        .receive_message(
            QueueUrl=dlq,
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            MessageSystemAttributeNames=["All"],
        )
        .get("Messages", [])
    )
    return next((m for m in got if m["MessageId"] == message_id), None)


def test_trace_follows_a_record_through_failure_dlq_redrive_and_its_write(p: Pipelines) -> None:
    from sqs_blueprint import tracing
    from sqs_blueprint.local.spans import local_story

    body = {"tag": uuid.uuid4().hex[:8], "partner": "traced"}
    untrusted = f"{PARTNER}-traced"  # not in PAYLOAD_BUCKET (an earlier test trusts PARTNER)
    p.client("s3").create_bucket(Bucket=untrusted)
    store = PayloadStore(untrusted, s3_client=p.client("s3"), always=True)
    producer = Producer(
        p.out("WriteBuffer", "IngestQueueUrl"), sqs_client=p.client("sqs"), payloads=store
    )
    [sent] = producer.send_many([json.dumps(body)]).sent
    dlq, table = p.out("WriteBuffer", "IngestDeadLetterQueueUrl"), p.out("WriteBuffer", "TableName")
    seen: list[dict[str, Any]] = []

    def dead_lettered() -> bool:
        seen[:] = [m for m in [_dead_letter(p, dlq, sent.message_id)] if m]
        return bool(seen)

    p.wait(dead_lettered, 90)
    [in_dlq] = seen
    policy = p.client("sqs").get_queue_attributes(
        QueueUrl=p.out("WriteBuffer", "IngestQueueUrl"), AttributeNames=["RedrivePolicy"]
    )["Attributes"]["RedrivePolicy"]
    max_receives = int(json.loads(policy)["maxReceiveCount"])
    bucket = p.out("WriteBuffer", "PayloadBucketName")
    p.environment("WriteBuffer", PAYLOAD_BUCKET=f"{bucket},{PARTNER},{untrusted}")
    function = p.out("WriteBuffer", "FunctionName")
    role = p.client("lambda").get_function_configuration(FunctionName=function)["Role"]
    p.client("s3").put_bucket_policy(
        Bucket=untrusted, Policy=json.dumps(partner_policy(role, bucket=untrusted))
    )
    assert redrive(dlq, sqs_client=p.client("sqs"), notify=lambda _: None).moved == 1
    key = item_key(body)
    meter = p.cloud.meter
    assert meter is not None
    metered = lambda: [w for w in meter.writes(table) if json.loads(w.key)["pk"]["S"] == key]  # noqa: E731
    p.wait(lambda: bool(metered()))

    found = local_story(p.runner.log_dir, sent.message_id, meter=meter)

    # One trace id, the one the DLQ's copy of the message carried.
    header = in_dlq["Attributes"]["AWSTraceHeader"]
    assert [tracing.xray_id(t) for t in found.trace_ids] == [tracing.trace_id_of(header)]
    kinds = [s.kind for s in found.steps]
    assert kinds == ["sent"] + ["received"] * max_receives + [
        "dead-lettered",
        "redriven",
        "received",
        "written",
    ], found.lines()
    sent_step, *receives, moved, redriven, again, written = found.steps
    assert (
        sent_step.data[tracing.MESSAGE_ID] == sent.message_id and sent_step.data[tracing.OFFLOADED]
    )
    assert [s.data[tracing.RECEIVE_COUNT] for s in receives] == list(range(1, max_receives + 1))
    assert {s.data[tracing.OUTCOME] for s in receives} == {"failed"}
    assert all("BucketNotAllowed" in s.data[tracing.REASON] for s in receives)
    # The queue's own count when it moved the message, and the DLQ's name.
    assert moved.data[tracing.RECEIVE_COUNT] == max_receives
    assert moved.data[tracing.DESTINATION] == dlq.rsplit("/", 1)[-1]
    assert redriven.data[tracing.MESSAGE_ID] == sent.message_id
    assert again.data[tracing.MESSAGE_ID] == redriven.data["sqs_blueprint.new_message_id"]
    assert again.data[tracing.OUTCOME] == "written" and again.data[tracing.RECEIVE_COUNT] == 1
    # The write, as the server's meter measured it: one write of that key, its WCU.
    [write] = metered()
    assert written.data[tracing.TABLE] == table and written.data[tracing.ITEM_KEY] == key
    assert written.data[tracing.WCU] == write.wcu
    assert f"metered at the server: 1 write(s), {write.wcu} WCU" in written.text
    assert all(a.at <= b.at for a, b in zip(found.steps, found.steps[1:], strict=False))
    lines = "\n".join(found.lines())
    assert sent.message_id in lines and key in lines and "body in S3" in lines
