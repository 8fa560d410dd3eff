"""The EC2 worker against a real moto server, run as the `sqs-blueprint worker` process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from sqs_blueprint.backoff import Backoff
from sqs_blueprint.errors import SqsBlueprintError, UsageError
from sqs_blueprint.payload import PayloadStore
from sqs_blueprint.records import Record
from sqs_blueprint.worker import (
    Worker,
    batch_handler,
    load_handler,
    per_record,
)
from tests.unit.tables import create_table

HERE = Path(__file__).resolve().parent
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` until true; ``timeout`` is a generous bound, never a measurement."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


@contextmanager
def running(worker: Worker) -> Iterator[Worker]:
    """``worker.run()`` in a thread for the block; stopped and joined after it."""
    runner = threading.Thread(target=worker.run)
    runner.start()
    try:
        yield worker
    finally:
        worker.stop()
        runner.join(60)
        assert not runner.is_alive(), "the worker did not stop"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()  # the server binds a free port itself and says which
    port = server.get_host_and_port()[1]
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="module")
def client(endpoint: str) -> Callable[[str], Any]:
    def make(service: str) -> Any:
        return boto3.client(service, endpoint_url=endpoint, region_name=REGION, **CREDENTIALS)

    return make


@pytest.fixture(scope="module")
def sqs(client: Callable[[str], Any]) -> Any:
    return client("sqs")


def new_queue(sqs: Any, **attributes: str) -> str:
    url: str = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:12]}", Attributes=attributes)[
        "QueueUrl"
    ]
    return url


def send(sqs: Any, url: str, bodies: list[dict[str, Any]]) -> list[str]:
    ids: list[str] = []
    for start in range(0, len(bodies), 10):
        entries = [
            {"Id": str(n), "MessageBody": json.dumps(body)}
            for n, body in enumerate(bodies[start : start + 10])
        ]
        ids += [
            m["MessageId"]
            for m in sqs.send_message_batch(QueueUrl=url, Entries=entries)["Successful"]
        ]
    return ids


def depth(sqs: Any, url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return int(attrs[names[0]]), int(attrs[names[1]])


class WorkerProcess:
    """`sqs-blueprint worker` in a subprocess, its handled records and JSON logs in files."""

    def __init__(self, endpoint: str, tmp: Path, url: str, *args: str, **env: str) -> None:
        self.handled = tmp / "handled.log"
        self.logs = tmp / "worker.jsonl"
        self.handled.touch()
        environ = {
            **os.environ,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "PYTHONPATH": str(HERE),
            "WORKER_TEST_LOG": str(self.handled),
            **env,
        }
        environ.pop("AWS_PROFILE", None)
        command = [sys.executable, "-m", "sqs_blueprint.cli", "worker", "--queue-url", url]
        with self.logs.open("w") as err:
            self.process = subprocess.Popen(
                [*command, "--wait", "1", *args], env=environ, stdout=err, stderr=err
            )

    def ids(self, event: str) -> list[str]:
        lines = self.handled.read_text().splitlines()
        return [line.split()[1] for line in lines if line.startswith(f"{event} ")]

    def log(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.logs.read_text().splitlines() if line]

    def stop(self, timeout: float = 60) -> dict[str, Any]:
        """SIGTERM, then the exit code must be 0; the counts logged on exit."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        assert code == 0, self.logs.read_text()
        (stopped,) = [line for line in self.log() if line["message"] == "worker stopped"]
        return stopped


@pytest.fixture
def start(endpoint: str, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def run(url: str, *args: str, **env: str) -> WorkerProcess:
        worker = WorkerProcess(endpoint, tmp_path, url, *args, **env)
        started.append(worker)
        return worker

    yield run
    for worker in started:
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait()


# ---------------------------------------------------------------- the process on moto


def test_processes_hundreds_of_messages_once_and_deletes_them(
    sqs: Any, start: Callable[..., WorkerProcess]
) -> None:
    url = new_queue(sqs)
    sent = send(sqs, url, [{"n": n} for n in range(300)])
    worker = start(url, "--handler", "worker_handlers:record", "--concurrency", "8")

    wait_for(lambda: len(worker.ids("done")) == 300, 120, "300 records processed")
    wait_for(lambda: depth(sqs, url) == (0, 0), 60, "every message deleted")
    stats = worker.stop()

    assert Counter(worker.ids("done")) == Counter(sent)  # each once
    assert (stats["processed"], stats["failed"], stats["received"]) == (300, 0, 300)
    assert all({"timestamp", "level", "service"} <= set(line) for line in worker.log())


def test_a_slow_record_keeps_its_visibility_and_is_received_once(
    sqs: Any, start: Callable[..., WorkerProcess]
) -> None:
    url = new_queue(sqs)
    (sent,) = send(sqs, url, [{"sleep": 12}])
    # A 6 s visibility and a 12 s job: without the heartbeat the idle thread would get it again.
    # The heartbeat extends with half the timeout left, so a busy machine has 2 s of slack.
    worker = start(
        url,
        "--handler",
        "worker_handlers:record",
        "--concurrency",
        "2",
        "--visibility-timeout",
        "6",
    )

    wait_for(lambda: worker.ids("done") == [sent], 60, "the slow record done")
    wait_for(lambda: depth(sqs, url) == (0, 0), 60, "the slow record deleted")
    stats = worker.stop()

    assert worker.ids("start") == [sent]
    assert stats["extended"] == 1 and stats["processed"] == 1
    extended = [line for line in worker.log() if line["message"] == "visibility extended"]
    assert len(extended) >= 2 and all(line["message_ids"] == [sent] for line in extended)


def test_sigterm_drains_in_flight_gives_back_the_rest_and_loses_nothing(
    sqs: Any, start: Callable[..., WorkerProcess]
) -> None:
    url = new_queue(sqs, VisibilityTimeout="60")
    sent = send(sqs, url, [{"sleep": 0.5} for _ in range(60)])
    worker = start(url, "--handler", "worker_handlers:record", "--concurrency", "4")
    wait_for(lambda: len(worker.ids("done")) >= 8, 60, "a few records processed")

    stats = worker.stop(timeout=60)  # in-flight records finish; nothing waits for the 60 s

    done = worker.ids("done")
    assert sorted(worker.ids("start")) == sorted(done)  # every started record finished
    assert stats["processed"] == len(done) and stats["returned"] > 0
    # Nothing lost: the rest is visible again at once, nothing is left in flight.
    assert depth(sqs, url) == (60 - len(done), 0)
    left = set()
    for _ in range(20):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        left |= {m["MessageId"] for m in messages}
    assert left == set(sent) - set(done)


def test_the_process_exits_soon_after_sigint_in_a_long_poll(
    sqs: Any, start: Callable[..., WorkerProcess]
) -> None:
    url = new_queue(sqs)  # empty: the worker sits in its 20 s long poll
    worker = start(url, "--handler", "worker_handlers:record", "--wait", "20")
    wait_for(lambda: any(line["message"] == "worker started" for line in worker.log()), 60, "up")

    worker.process.send_signal(signal.SIGINT)
    try:
        code = worker.process.wait(5)  # a generous bound on the 2 s promised
    except subprocess.TimeoutExpired:
        code = None

    assert code == 0, "the worker waited out its long poll after SIGINT"


def test_failures_come_back_and_reach_the_dlq_after_max_receive_count(
    sqs: Any, start: Callable[..., WorkerProcess]
) -> None:
    dlq = new_queue(sqs)
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    url = new_queue(sqs, VisibilityTimeout="1", RedrivePolicy=policy)
    bad = send(sqs, url, [{"fail": True}] * 3)
    good = send(sqs, url, [{"ok": n} for n in range(3)])
    worker = start(
        url, "--handler", "worker_handlers:record", "--concurrency", "2", "--no-retry-backoff"
    )

    wait_for(lambda: depth(sqs, dlq)[0] == 3, 120, "three messages in the DLQ")
    wait_for(lambda: depth(sqs, url) == (0, 0), 60, "the source queue empty")
    stats = worker.stop()

    assert sorted(worker.ids("done")) == sorted(good)
    assert Counter(worker.ids("start")) == Counter(
        {**dict.fromkeys(good, 1), **dict.fromkeys(bad, 2)}
    )
    assert (stats["processed"], stats["failed"]) == (3, 6)
    failed = [line for line in worker.log() if line["message"].startswith("record failed")]
    assert {line["correlation_id"] for line in failed} == set(bad)
    assert {(line["receive_count"], line["outcome"]) for line in failed} == {
        (1, "failed"),
        (2, "failed"),
    }


def test_builtin_write_buffer_upserts_resolves_pointers_and_refuses_other_buckets(
    sqs: Any, client: Callable[[str], Any], start: Callable[..., WorkerProcess]
) -> None:
    dynamodb, s3 = client("dynamodb"), client("s3")
    table = f"t-{uuid.uuid4().hex[:8]}"
    create_table(dynamodb, table)
    allowed, other = f"payloads-{uuid.uuid4().hex[:8]}", f"other-{uuid.uuid4().hex[:8]}"
    for bucket in (allowed, other):
        s3.create_bucket(Bucket=bucket)
    url = new_queue(sqs, VisibilityTimeout="30")
    send(sqs, url, [{"id": n % 10, "name": f"item {n % 10}"} for n in range(40)])
    for bucket, body in ((allowed, {"id": 100, "big": "x" * 1000}), (other, {"id": 200})):
        payload = PayloadStore(bucket, s3_client=s3, always=True).offload(json.dumps(body))
        sqs.send_message(
            QueueUrl=url, MessageBody=payload.body, MessageAttributes=payload.message_attributes
        )
    worker = start(
        url,
        "--handler",
        "builtin:write-buffer",
        TABLE_NAME=table,
        KEY_FIELDS="id",
        PAYLOAD_BUCKET=allowed,
    )

    wait_for(lambda: depth(sqs, url) == (0, 1), 120, "all but the refused pointer deleted")
    stats = worker.stop()

    items = dynamodb.scan(TableName=table)["Items"]
    assert sorted(int(item["id"]["N"]) for item in items) == [
        *range(10),
        100,
    ]  # duplicates absorbed
    assert (stats["processed"], stats["failed"]) == (41, 1)
    (refused,) = [line for line in worker.log() if line["message"].startswith("record failed")]
    assert "not in the allowed buckets" in refused["reason"]


# ---------------------------------------------------------------- the Python API


def test_records_still_running_at_the_drain_deadline_are_given_back(
    sqs: Any, client: Callable[[str], Any]
) -> None:
    url = new_queue(sqs, VisibilityTimeout="60")
    send(sqs, url, [{"stuck": True}])
    started, release = threading.Event(), threading.Event()

    def stuck(record: Record) -> None:
        started.set()
        release.wait(120)

    worker = Worker(
        url, stuck, concurrency=1, wait_time_seconds=1, drain_timeout=0.5, sqs_client=sqs
    )
    runner = threading.Thread(target=worker.run)
    runner.start()
    try:
        assert started.wait(60)
        worker.stop()
        runner.join(60)
        # run() returned while the handler still runs: the record was given back, not waited for
        assert not runner.is_alive() and not release.is_set()
    finally:
        release.set()

    assert worker.stats.returned == 1 and worker.stats.processed == 0
    assert depth(sqs, url) == (1, 0)


def test_per_record_adapter_on_fifo_stops_at_the_first_failure() -> None:
    seen: list[str] = []

    def handler(record: Record) -> None:
        seen.append(record.message_id)
        if record.body == "bad":
            raise ValueError("bad body")

    records = [
        Record(message_id=body + str(n), receipt_handle="h", body=body)
        for n, body in enumerate(["ok", "bad", "ok"])
    ]
    assert per_record(handler)(records).keys() == {"bad1"}
    seen.clear()
    failed = per_record(handler, fifo=True)(records)
    assert seen == ["ok0", "bad1"] and failed.keys() == {"bad1", "ok2"}
    assert failed["bad1"] == "ValueError: bad body"


def test_settings_and_handler_specs_are_checked_with_clear_messages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(UsageError) as error:
        Worker("url", print, concurrency=0, max_messages=11, wait_time_seconds=21)
    assert str(error.value) == (
        "invalid worker settings: concurrency must be at least 1, got 0; "
        "max_messages must be 1..10, got 11; wait_time_seconds must be 0..20, got 21"
    )
    with pytest.raises(UsageError, match="module:function"):
        load_handler("no_colon")
    with pytest.raises(UsageError, match="cannot import module"):
        load_handler("no_such_module_here:f")
    with pytest.raises(UsageError, match="has no function 'nope'"):
        load_handler("json:nope")
    with pytest.raises(SqsBlueprintError) as error:
        load_handler("tests.unit.worker_handlers_broken:record")
    assert not isinstance(error.value, UsageError)
    assert str(error.value) == (
        "handler 'tests.unit.worker_handlers_broken:record': importing module "
        "'tests.unit.worker_handlers_broken' "
        "raised RuntimeError: broken at import; fix the module"
    )
    monkeypatch.delenv("TABLE_NAME", raising=False)
    with pytest.raises(ValueError, match="TABLE_NAME is not set"):
        load_handler("builtin:write-buffer")


def test_batch_handlers_are_marked() -> None:
    @batch_handler
    def handle(records: Any) -> dict[str, str]:
        return {}

    assert Worker("url", handle).batched and not Worker("url", print).batched
    assert Worker("https://sqs/1/q.fifo", print).batched


def test_fifo_keeps_order_within_a_group_across_a_failure(sqs: Any) -> None:
    name = f"q-{uuid.uuid4().hex[:12]}.fifo"
    attributes = {
        "FifoQueue": "true",
        "ContentBasedDeduplication": "true",
        "VisibilityTimeout": "1",
    }
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    for body in ("first", "flaky", "last"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g")
    seen: list[str] = []

    def handler(record: Record) -> None:
        seen.append(record.body)
        if seen == ["first", "flaky"]:
            raise RuntimeError("fails once")

    worker = Worker(
        url, handler, concurrency=2, wait_time_seconds=1, sqs_client=sqs, retry_backoff=None
    )
    with running(worker):
        wait_for(lambda: len(seen) == 4, 60, "every record processed")

    # "last" was held back with "flaky", not run after its failure. The order of the retry is
    # moto's: when both time out it hands "last" out first, where SQS would not.
    assert seen[:2] == ["first", "flaky"] and sorted(seen[2:]) == ["flaky", "last"]
    assert (worker.stats.processed, worker.stats.failed) == (3, 2)


# ---------------------------------------------------------------- one record fails alone


def new_fifo_queue(sqs: Any, **attributes: str) -> str:
    name = f"q-{uuid.uuid4().hex[:12]}.fifo"
    attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true", **attributes}
    url: str = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url


def own_sqs(client: Callable[[str], Any]) -> Any:
    """A client of the worker's own, so fault hooks reach no other test."""
    return client("sqs")


Answer = Callable[[dict[str, Any]], "dict[str, Any] | None"]


def answer_for(sqs_client: Any, operation: str, answer: Answer) -> None:
    """Let ``answer(params)`` reply to ``operation`` for SQS: a parsed response, or None
    to let the call through."""

    def keep(params: dict[str, Any], context: dict[str, Any], **kwargs: Any) -> None:
        context["test_params"] = params

    def reply(context: dict[str, Any], **kwargs: Any) -> Any:
        response = answer(context["test_params"])
        if response is None:
            return None
        return AWSResponse("https://sqs.test", 200, {}, None), response

    sqs_client.meta.events.register(f"before-parameter-build.sqs.{operation}", keep)
    sqs_client.meta.events.register(f"before-call.sqs.{operation}", reply)


def test_a_fifo_failure_holds_back_only_its_own_group(
    sqs: Any, client: Callable[[str], Any]
) -> None:
    url = new_fifo_queue(sqs, VisibilityTimeout="600")  # the failed group stays out of reach
    for body, group in (("a1", "A"), ("b1", "B"), ("a2", "A"), ("b2", "B")):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group)
    seen: list[str] = []

    def handler(record: Record) -> None:
        seen.append(record.body)
        if record.body == "a1":
            raise RuntimeError("a1 fails")

    worker = Worker(
        url,
        handler,
        concurrency=1,
        wait_time_seconds=1,
        sqs_client=own_sqs(client),
        retry_backoff=None,
    )
    with running(worker):
        wait_for(lambda: worker.stats.processed == 2, 60, "group B processed")
        wait_for(lambda: depth(sqs, url) == (0, 2), 60, "group B deleted")

    assert seen == ["a1", "b1", "b2"]  # a2 held back with a1, never run after its failure
    assert (worker.stats.processed, worker.stats.failed) == (2, 2)
    sqs.purge_queue(QueueUrl=url)


def test_a_fifo_batch_handler_failure_holds_back_only_its_own_group(
    sqs: Any, client: Callable[[str], Any]
) -> None:
    url = new_fifo_queue(sqs, VisibilityTimeout="600")
    sent = {}
    for body, group in (("a1", "A"), ("b1", "B"), ("a2", "A"), ("b2", "B")):
        reply = sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group)
        sent[body] = reply["MessageId"]

    @batch_handler
    def handler(records: Any) -> dict[str, str]:
        return {sent["a1"]: "a1 fails"}

    worker = Worker(
        url,
        handler,
        concurrency=1,
        wait_time_seconds=1,
        sqs_client=own_sqs(client),
        retry_backoff=None,
    )
    with running(worker):
        wait_for(lambda: depth(sqs, url) == (0, 2), 60, "group B deleted, group A left")

    assert (worker.stats.processed, worker.stats.failed) == (2, 2)


@pytest.mark.parametrize("error", [SystemExit(3), KeyboardInterrupt()])
def test_a_handler_raising_a_base_exception_fails_its_record_and_the_worker_goes_on(
    sqs: Any, client: Callable[[str], Any], error: BaseException
) -> None:
    url = new_queue(sqs, VisibilityTimeout="600")
    (bad,) = send(sqs, url, [{"exit": True}])
    seen: list[str] = []

    def handler(record: Record) -> None:
        seen.append(record.message_id)
        if record.message_id == bad:
            raise error

    worker = Worker(
        url,
        handler,
        concurrency=1,
        wait_time_seconds=1,
        sqs_client=own_sqs(client),
        retry_backoff=None,
    )
    with running(worker):
        wait_for(lambda: worker.stats.failed == 1, 60, "the bad record failed")
        good = send(sqs, url, [{"n": n} for n in range(3)])  # the one slot must still work
        wait_for(lambda: worker.stats.processed == 3, 60, "the later records processed")
        wait_for(lambda: depth(sqs, url) == (0, 1), 60, "only the bad record left")

    assert sorted(seen) == sorted([bad, *good])


def test_a_transient_refusal_of_an_extension_is_asked_again(
    sqs: Any, client: Callable[[str], Any]
) -> None:
    url = new_queue(sqs)
    (sent,) = send(sqs, url, [{"slow": True}])
    worker_sqs = own_sqs(client)
    calls: list[str] = []

    def extension(params: dict[str, Any]) -> Any:
        entries = params["Entries"]
        if entries[0]["VisibilityTimeout"] == 0:
            return None
        if not calls:  # the first extension: SQS has a fault
            calls.append("refused")
            failed = [
                {"Id": e["Id"], "SenderFault": False, "Code": "InternalError", "Message": "retry"}
                for e in entries
            ]
            return {"Successful": [], "Failed": failed}
        calls.append("asked")
        return None

    answer_for(worker_sqs, "ChangeMessageVisibilityBatch", extension)
    started: list[str] = []
    release = threading.Event()

    def slow(record: Record) -> None:
        started.append(record.message_id)
        release.wait(120)

    # A 6 s visibility: without extensions the idle second thread gets the record again.
    worker = Worker(
        url, slow, concurrency=2, visibility_timeout=6, wait_time_seconds=1, sqs_client=worker_sqs
    )
    try:
        with running(worker):
            # Two extensions after the refusal carry the record past its first 6 s.
            wait_for(lambda: calls.count("asked") >= 2, 60, "extensions after the refusal")
            release.set()
            wait_for(lambda: depth(sqs, url) == (0, 0), 60, "the record deleted")
    finally:
        release.set()

    assert calls[0] == "refused" and started == [sent]  # received and run once
    assert worker.stats.processed == 1


def test_a_transient_refusal_of_a_delete_is_asked_again(
    sqs: Any, client: Callable[[str], Any]
) -> None:
    url = new_queue(sqs, VisibilityTimeout="600")
    sent = send(sqs, url, [{"n": n} for n in range(3)])
    worker_sqs = own_sqs(client)
    refusals: list[int] = []

    def delete(params: dict[str, Any]) -> Any:
        if refusals:
            return None
        refusals.append(len(params["Entries"]))
        failed = [
            {"Id": e["Id"], "SenderFault": True, "Code": "RequestThrottled", "Message": "slow down"}
            for e in params["Entries"]
        ]
        return {"Successful": [], "Failed": failed}

    answer_for(worker_sqs, "DeleteMessageBatch", delete)
    seen: list[str] = []
    worker = Worker(
        url, lambda r: seen.append(r.message_id), wait_time_seconds=1, sqs_client=worker_sqs
    )
    with running(worker):
        wait_for(lambda: depth(sqs, url) == (0, 0), 60, "every record deleted")

    assert refusals and sorted(seen) == sorted(sent)  # each run once, none left


def test_a_record_whose_payload_fetch_fails_fails_alone(
    sqs: Any, client: Callable[[str], Any]
) -> None:
    s3 = client("s3")
    bucket = f"payloads-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    url = new_queue(sqs, VisibilityTimeout="600")
    store = PayloadStore(bucket, s3_client=s3, always=True)
    pointers = [store.offload(json.dumps({"n": n})) for n in range(3)]
    for payload in pointers:
        sqs.send_message(
            QueueUrl=url, MessageBody=payload.body, MessageAttributes=payload.message_attributes
        )
    denied_key = json.loads(pointers[1].body)[1]["s3Key"]
    worker_s3 = client("s3")

    def deny(params: dict[str, Any], **kwargs: Any) -> None:
        if params["Key"] == denied_key:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetObject")

    worker_s3.meta.events.register("before-parameter-build.s3.GetObject", deny)
    seen: list[str] = []
    worker = Worker(
        url,
        lambda r: seen.append(r.body),
        concurrency=1,
        wait_time_seconds=1,
        payload_bucket=bucket,
        sqs_client=own_sqs(client),
        retry_backoff=None,
        s3_client=worker_s3,
    )
    with running(worker):
        wait_for(lambda: depth(sqs, url) == (0, 1), 60, "all but the denied record deleted")

    assert sorted(seen) == [json.dumps({"n": 0}), json.dumps({"n": 2})]
    assert (worker.stats.processed, worker.stats.failed) == (2, 1)


def test_builtin_write_buffer_fails_only_the_record_that_breaks_it(
    sqs: Any, client: Callable[[str], Any], endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dynamodb = client("dynamodb")
    table = f"t-{uuid.uuid4().hex[:8]}"
    create_table(dynamodb, table)
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "TABLE_NAME": table,
    }.items():
        monkeypatch.setenv(name, value)
    url = new_queue(sqs, VisibilityTimeout="600")
    nested = '{"id": 99, "x": ' + "[" * 500 + "]" * 500 + "}"  # 1 KB, deep enough to break
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"id": 1}))
    (deep,) = [sqs.send_message(QueueUrl=url, MessageBody=nested)["MessageId"]]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"id": 2}))

    worker = Worker(
        url,
        load_handler("builtin:write-buffer"),
        wait_time_seconds=1,
        sqs_client=own_sqs(client),
        retry_backoff=None,
    )
    with running(worker):
        wait_for(lambda: depth(sqs, url) == (0, 1), 60, "all but the nested record deleted")

    items = dynamodb.scan(TableName=table)["Items"]
    assert sorted(item["id"]["N"] for item in items) == ["1", "2"]
    assert (worker.stats.processed, worker.stats.failed) == (2, 1)
    assert deep not in {i["pk"]["S"] for i in items}


# ---------------------------------------------------------------- retry backoff


def visibility_changes(sqs_client: Any) -> list[dict[str, Any]]:
    """Every entry of every ChangeMessageVisibilityBatch the client sends."""
    entries: list[dict[str, Any]] = []
    sqs_client.meta.events.register(
        "provide-client-params.sqs.ChangeMessageVisibilityBatch",
        lambda params, **_: entries.extend(params["Entries"]),
    )
    return entries


def test_a_failed_record_comes_back_after_its_backoff_not_the_queues_timeout(
    sqs: Any, client: Callable[[str], Any]
) -> None:
    url = new_queue(sqs, VisibilityTimeout="600")  # without the backoff: back in 10 minutes
    (bad,) = send(sqs, url, [{"fail": True}])
    good = send(sqs, url, [{"n": n} for n in range(3)])
    worker_sqs = own_sqs(client)
    changes = visibility_changes(worker_sqs)
    seen: list[str] = []

    def handler(record: Record) -> None:
        seen.append(record.message_id)
        if record.message_id == bad:
            raise RuntimeError("downstream down")

    worker = Worker(
        url,
        handler,
        concurrency=2,
        wait_time_seconds=1,
        retry_backoff=Backoff(400, 1000),
        retry_random=lambda: 0.0,  # the low end of the jitter: a delay of 0 s
        sqs_client=worker_sqs,
    )
    with running(worker):
        wait_for(lambda: seen.count(bad) >= 3, 60, "the bad record received three times")

    assert set(seen) == {bad, *good} and all(seen.count(g) == 1 for g in good)
    assert changes and {e["VisibilityTimeout"] for e in changes} == {0}
    sqs.purge_queue(QueueUrl=url)


def test_a_failed_visibility_change_leaves_the_record_failed_and_it_comes_back(
    sqs: Any, client: Callable[[str], Any]
) -> None:
    url = new_queue(sqs, VisibilityTimeout="1")
    (flaky,) = send(sqs, url, [{"flaky": True}])
    worker_sqs = own_sqs(client)

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "Change")

    worker_sqs.meta.events.register("before-call.sqs.ChangeMessageVisibilityBatch", refuse)
    seen: list[str] = []

    def handler(record: Record) -> None:
        seen.append(record.message_id)
        if len(seen) == 1:
            raise RuntimeError("fails once")

    worker = Worker(
        url,
        handler,
        concurrency=1,
        wait_time_seconds=1,
        retry_random=lambda: 1.0,
        sqs_client=worker_sqs,
    )
    with running(worker):
        wait_for(lambda: worker.stats.processed == 1, 60, "the record processed on its retry")
        wait_for(lambda: depth(sqs, url) == (0, 0), 60, "the record deleted")

    assert seen == [flaky, flaky]
    assert (worker.stats.processed, worker.stats.failed) == (1, 1)


def test_fifo_worker_delays_the_groups_first_failure_only(
    sqs: Any, client: Callable[[str], Any]
) -> None:
    url = new_fifo_queue(sqs, VisibilityTimeout="600")
    sent = {}
    for body in ("a1", "a2", "a3"):
        sent[body] = sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="A")[
            "MessageId"
        ]
    worker_sqs = own_sqs(client)
    changes = visibility_changes(worker_sqs)
    handled: list[str] = []

    def handler(record: Record) -> None:
        handled.append(record.body)
        if record.body == "a2":
            raise RuntimeError("a2 fails")

    worker = Worker(
        url,
        handler,
        concurrency=1,
        wait_time_seconds=1,
        retry_backoff=Backoff(300, 300),
        retry_random=lambda: 1.0,
        sqs_client=worker_sqs,
    )
    with running(worker):
        wait_for(lambda: worker.stats.failed == 2, 60, "a2 failed and a3 held back")

    assert handled == ["a1", "a2"]
    assert [e["VisibilityTimeout"] for e in changes if e["VisibilityTimeout"] == 300] == [300]
    sqs.purge_queue(QueueUrl=url)


def test_worker_backoff_flags_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    from sqs_blueprint.cli import main

    args = ["worker", "--queue-url", "https://q", "--handler", "m:f"]
    assert main([*args, "--retry-base", "60", "--retry-max", "50"]) == 2
    assert capsys.readouterr().err.strip() == (
        "sqs-blueprint worker: retry backoff: cap 50.0 s must be at least the base (60.0 s) "
        "and at most 43200 s, the longest SQS visibility timeout"
    )


# ---------------------------------------------------------------- stopping


def test_a_stopped_fifo_worker_starts_nothing_of_the_batch_it_gave_back(
    sqs: Any, client: Callable[[str], Any]
) -> None:
    url = new_fifo_queue(sqs, VisibilityTimeout="600")
    for n in range(1, 6):
        sqs.send_message(QueueUrl=url, MessageBody=f"a{n}", MessageGroupId="A")
    seen: list[tuple[str, str]] = []
    release = threading.Event()
    stuck: list[threading.Thread] = []

    def handler_of(worker: str) -> Callable[[Record], None]:
        def handle(record: Record) -> None:
            seen.append((worker, record.body))
            if (worker, record.body) == ("first", "a1"):
                stuck.append(threading.current_thread())
                release.wait(60)

        return handle

    def worker(name: str) -> Worker:
        return Worker(
            url,
            handler_of(name),
            concurrency=1,
            wait_time_seconds=1,
            drain_timeout=0.5,
            sqs_client=own_sqs(client),
            retry_backoff=None,
        )

    with running(worker("first")):
        wait_for(lambda: seen == [("first", "a1")], 60, "the first worker running a1")
    # run() has returned: a1 was still running at the drain deadline, so the whole batch
    # went back to the queue, and a second worker takes the group from its start.
    with running(worker("second")):
        wait_for(lambda: depth(sqs, url) == (0, 0), 60, "the second worker done with the group")
    release.set()  # a1 ends on the stopped worker, whose thread then has nothing left to do
    stuck[0].join(60)

    assert not stuck[0].is_alive()
    assert seen == [("first", "a1")] + [("second", f"a{n}") for n in range(1, 6)]


def test_per_record_starts_nothing_after_its_batch_is_given_back() -> None:
    ran: list[str] = []
    given_back = {"m2"}  # from m2 on, the batch is another worker's

    def record(message_id: str) -> Record:
        attributes = {"MessageGroupId": "A"}
        return Record(
            message_id=message_id, receipt_handle=message_id, body="", attributes=attributes
        )

    run = per_record(
        lambda r: ran.append(r.message_id),
        fifo=True,
        may_start=lambda r: r.message_id not in given_back,
    )
    failed = run([record(f"m{n}") for n in range(1, 5)])

    assert ran == ["m1"]
    not_started = "not started: its batch was given back (a stop or the drain deadline)"
    assert failed == dict.fromkeys(["m2", "m3", "m4"], not_started)


def test_a_stop_cuts_a_long_poll_short(sqs: Any, client: Callable[[str], Any]) -> None:
    url = new_queue(sqs)  # empty: each receive waits out its long poll
    worker_sqs = own_sqs(client)
    waits: list[int] = []
    worker_sqs.meta.events.register(
        "provide-client-params.sqs.ReceiveMessage",
        lambda params, **_: waits.append(params["WaitTimeSeconds"]),
    )
    worker = Worker(url, print, concurrency=1, wait_time_seconds=20, sqs_client=worker_sqs)
    runner = threading.Thread(target=worker.run)
    runner.start()
    try:
        wait_for(lambda: len(waits) >= 1, 60, "the worker long-polling")
        worker.stop()
        runner.join(5)  # a generous bound on the 2 s the worker promises

        assert not runner.is_alive(), "the worker waited out its 20 s long poll"
        assert all(1 <= wait <= 20 for wait in waits)  # long polls all: none answers early
    finally:
        worker.stop()  # a second stop ends the drain at once
        runner.join(60)
