"""Local event-source mappings: poll the deployed SQS mappings and invoke the real
handlers, each function in its own runtime process, with Lambda's semantics
(docs/aws-facts.md#lambda-event-source-mapping).

- batch size and batching window: keep receiving until the batch is full or the
  window closes (no window: one receive);
- ``ScalingConfig.MaximumConcurrency`` parallel pollers, each with its own runtime
  (provisioned mode: maximum pollers x 10), at most ``max_pollers``;
- successes deleted; with ``ReportBatchItemFailures`` the reported records stay
  in the queue; an error, an invalid response or a timeout keeps the whole batch,
  invisible until its visibility timeout expires, as Lambda does;
- the move to the DLQ after ``maxReceiveCount`` is moto's own (docs/aws-facts.md#local-cloud);
- FIFO order: moto blocks a group while one of its messages is in flight and a
  batch is handed over in the order received;
- ``FilterCriteria``: records that match no pattern are deleted without an
  invocation, as Lambda does (:mod:`sqs_blueprint.filters`);
- an event never passes Lambda's 6 MB invocation payload: the batch is cut short
  and the messages that did not fit are made visible again for the next poll
  (``limits.LAMBDA_MAX_INVOKE_PAYLOAD_BYTES``);
- a disabled mapping (``Enabled: false``, ``State: Disabled``) is not polled. The
  mappings are read again every ``refresh_s``: one enabled, created (a redeploy)
  or changed by ``update_event_source_mapping`` starts (or restarts) its pollers,
  one disabled or deleted stops them after their batch in flight.
A changed function configuration (``update_function_configuration``) restarts
that function's runtime before its next batch.
"""

from __future__ import annotations

import copy
import json
import logging
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from sqs_blueprint import filters as event_filters
from sqs_blueprint import limits
from sqs_blueprint.local.events import RECEIVE_ARGS, lambda_record
from sqs_blueprint.local.runtime import FunctionConfig, InvokeTimeout, Runtime, RuntimeFailure
from sqs_blueprint.local.server import LocalCloud

log = logging.getLogger(__name__)

# docs/aws-facts.md#lambda-event-source-mapping: Lambda starts with 5 concurrent batches per queue
DEFAULT_CONCURRENCY = 5
_SQS_BATCH = limits.SQS_BATCH_MAX_ENTRIES  # ReceiveMessage / DeleteMessageBatch entries
_EMPTY_EVENT_BYTES = len(b'{"Records": []}')


@dataclass(frozen=True)
class MappingConfig:
    """One SQS event-source mapping as the runner polls it."""

    uuid: str
    queue_arn: str
    queue_url: str
    function_arn: str
    batch_size: int
    window_s: float
    report_failures: bool
    concurrency: int
    filters: tuple[dict[str, Any], ...] = ()

    @property
    def function_name(self) -> str:
        return self.function_arn.split(":")[6]


@dataclass
class FunctionStats:
    batches: int = 0
    records: int = 0
    deleted: int = 0
    failures_reported: int = 0  # records named in batchItemFailures
    errors: int = 0  # batches returned whole: exception, invalid response, failed start
    timeouts: int = 0  # batches returned whole because the function timed out
    restarts: int = 0  # runtimes replaced after a timeout, a crash or a new configuration
    last_error: str | None = None
    filtered: int = 0  # records deleted unseen: they matched none of the mapping's filters
    deferred: int = 0  # records left for the next poll: the event would pass 6 MB with them


@dataclass(frozen=True)
class RunStats:
    functions: dict[str, FunctionStats]
    drained: bool = False
    elapsed_s: float = 0.0

    def total(self, name: str) -> int:
        """The sum of one counter (e.g. ``"records"``) over every function."""
        return sum(int(getattr(s, name)) for s in self.functions.values())


class LocalRunner:
    """Runs every enabled SQS event-source mapping of ``cloud`` until stopped.

    ``with LocalRunner(cloud) as runner: ... runner.drain(30)``.
    Runtime logs (handler output, tracebacks) go to ``log_dir/<function>.log``.
    ``functions`` limits the runner to the mappings of those function names.
    The mappings are read again every ``refresh_s`` seconds (see the module's notes).
    """

    def __init__(
        self,
        cloud: LocalCloud,
        *,
        max_pollers: int = 10,
        idle_s: float = 0.2,
        log_dir: str | Path | None = None,
        functions: Collection[str] | None = None,
        refresh_s: float = 1.0,
    ) -> None:
        self.cloud = cloud
        self.functions = frozenset(functions) if functions is not None else None
        self.max_pollers = max_pollers
        self.idle_s = idle_s
        self.refresh_s = refresh_s
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="sqs-blueprint-local-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.mappings: list[MappingConfig] = []
        self._stats: dict[str, FunctionStats] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._pollers: dict[str, list[_Poller]] = {}  # by mapping UUID
        self._retired: list[_Poller] = []  # finishing their last batch
        self._sync_lock = threading.Lock()
        self._watcher: threading.Thread | None = None
        # moto's ReceiveMessage is not atomic: two receives at once can hand both
        # pollers the same message (it is then processed twice, and one delete may
        # fail with an invalid receipt handle). SQS never does; one receive at a
        # time per queue restores that.
        self._receive_locks: dict[str, threading.Lock] = {}

    def receive_lock(self, queue_url: str) -> threading.Lock:
        with self._lock:
            return self._receive_locks.setdefault(queue_url, threading.Lock())

    def start(self) -> LocalRunner:
        """Discover the mappings, start their pollers, and keep following them."""
        self.cloud.detach_moto_triggers()  # warns once when the server is not embedded
        self.sync()
        self._watcher = threading.Thread(target=self._watch, name="mapping-watcher", daemon=True)
        self._watcher.start()
        return self

    def sync(self) -> None:
        """Poll exactly the enabled mappings: start the new ones, stop the disabled or
        deleted ones, restart the changed ones."""
        with self._sync_lock:
            if self.cloud.embedded:
                self.cloud.detach_moto_triggers()
            wanted = {
                m.uuid: m
                for m in discover_mappings(self.cloud, self.max_pollers)
                if self.functions is None or m.function_name in self.functions
            }
            running = {m.uuid: m for m in self.mappings}
            for uuid_, mapping in running.items():
                if wanted.get(uuid_) != mapping:
                    log.info("stopping the pollers of mapping %s", uuid_)
                    for poller in self._pollers.pop(uuid_, []):
                        poller.retire()
                        self._retired.append(poller)
            for uuid_, mapping in wanted.items():
                if running.get(uuid_) != mapping:
                    self._start_pollers(mapping)
            self.mappings = list(wanted.values())

    def _start_pollers(self, mapping: MappingConfig) -> None:
        with self._lock:
            self._stats.setdefault(mapping.function_name, FunctionStats())
        pollers = [_Poller(self, mapping) for _ in range(mapping.concurrency)]
        self._pollers[mapping.uuid] = pollers
        for poller in pollers:
            poller.start()
        log.debug("polling mapping %s with %d poller(s)", mapping.uuid, len(pollers))

    def _watch(self) -> None:
        while not self._stopping.wait(self.refresh_s):
            try:
                self.sync()
            except Exception:  # the cloud may be busy or redeploying; try again
                log.debug("could not read the event-source mappings", exc_info=True)

    def stop(self) -> None:
        """Stop polling and kill every runtime; batches in flight reappear later."""
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join()
        with self._sync_lock:
            pollers = [p for group in self._pollers.values() for p in group] + self._retired
            self._pollers.clear()
            self._retired.clear()
        for poller in pollers:
            poller.retire()
            poller.kill_runtime()
        for poller in pollers:
            poller.join()

    def stats(self, *, drained: bool = False, elapsed_s: float = 0.0) -> RunStats:
        with self._lock:
            return RunStats(copy.deepcopy(self._stats), drained, elapsed_s)

    def drain(self, timeout_s: float = 60.0, until: Callable[[], bool] | None = None) -> RunStats:
        """Wait until ``until()`` is true (default: every mapped queue is empty,
        in flight included) or ``timeout_s`` passes; ``drained`` says which."""
        check = until or self.queues_empty
        started = time.monotonic()
        while True:
            done = check()
            elapsed = time.monotonic() - started
            if done or elapsed >= timeout_s:
                return self.stats(drained=done, elapsed_s=elapsed)
            time.sleep(0.2)

    def queues_empty(self) -> bool:
        sqs = self.cloud.client("sqs")
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        for mapping in self.mappings:
            attrs = sqs.get_queue_attributes(QueueUrl=mapping.queue_url, AttributeNames=names)
            if any(int(v) for v in attrs["Attributes"].values()):
                return False
        return True

    def update_environment(
        self, function_name: str, changes: Mapping[str, str | None]
    ) -> dict[str, str]:
        """Set (or, with None, remove) environment variables of a function; its
        runtimes restart with them before their next batch. Returns the new set."""
        return set_environment(self.cloud.client("lambda"), function_name, changes)

    def _record(self, function_name: str, update: Callable[[FunctionStats], None]) -> None:
        with self._lock:
            update(self._stats[function_name])

    def __enter__(self) -> LocalRunner:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def discover_mappings(cloud: LocalCloud, max_pollers: int = 10) -> list[MappingConfig]:
    """Every enabled mapping of an SQS queue to a function in ``cloud``."""
    lam, sqs = cloud.client("lambda"), cloud.client("sqs")
    found = []
    for page in lam.get_paginator("list_event_source_mappings").paginate():
        for esm in page["EventSourceMappings"]:
            arn = esm.get("EventSourceArn", "")
            if not arn.startswith("arn:aws:sqs:") or esm.get("State") != "Enabled":
                log.debug("not polling mapping %s (%s, %s)", esm["UUID"], arn, esm.get("State"))
                continue
            _, _, _, _, account, queue_name = arn.split(":")
            try:
                url = sqs.get_queue_url(QueueName=queue_name, QueueOwnerAWSAccountId=account)
            except ClientError as exc:  # its queue was deleted (a redeploy replaced it)
                log.debug("not polling mapping %s: %s", esm["UUID"], exc)
                continue
            scaling = esm.get("ScalingConfig") or {}
            wanted = scaling.get("MaximumConcurrency") or _provisioned_concurrency(esm)
            concurrency = min(int(wanted or DEFAULT_CONCURRENCY), max_pollers)
            if wanted and int(wanted) > max_pollers:
                log.info("mapping %s: %s pollers instead of %s", esm["UUID"], max_pollers, wanted)
            found.append(
                MappingConfig(
                    uuid=esm["UUID"],
                    queue_arn=arn,
                    queue_url=url["QueueUrl"],
                    function_arn=esm["FunctionArn"],
                    batch_size=int(esm.get("BatchSize") or _SQS_BATCH),
                    window_s=float(esm.get("MaximumBatchingWindowInSeconds") or 0),
                    report_failures="ReportBatchItemFailures"
                    in (esm.get("FunctionResponseTypes") or []),
                    concurrency=concurrency,
                    filters=event_filters.parse_criteria(esm.get("FilterCriteria")),
                )
            )
    return found


def _provisioned_concurrency(esm: Mapping[str, Any]) -> int | None:
    """Provisioned mode: up to 10 invocations a poller, maximum pollers 200 by default
    (``limits.LAMBDA_SQS_SCALING_URL``); None in the standard mode."""
    pollers = esm.get("ProvisionedPollerConfig")
    if not pollers:
        return None
    highest = pollers.get("MaximumPollers") or limits.LAMBDA_DEFAULT_MAX_POLLERS
    return int(highest) * limits.LAMBDA_POLLER_INVOKES


def function_config(cloud: LocalCloud, lam: Any, function: str) -> FunctionConfig:
    """A function's configuration, its code mapped back to the published asset directory."""
    described = lam.get_function(FunctionName=function)
    conf = described["Configuration"]
    key = urlparse(described["Code"].get("Location", "")).path.lstrip("/")
    code_dir = cloud.code_dir(key)
    if code_dir is None:
        raise RuntimeFailure(
            f"{conf['FunctionName']}: its code (object {key!r}) was not published by this "
            "local cloud; deploy the assembly with LocalCloud.deploy first"
        )
    return FunctionConfig(
        name=conf["FunctionName"],
        arn=conf["FunctionArn"],
        handler=conf["Handler"],
        timeout_s=float(conf.get("Timeout", 3)),
        memory_mb=int(conf.get("MemorySize", 128)),
        code_dir=code_dir,
        environment=dict(conf.get("Environment", {}).get("Variables", {})),
    )


def set_environment(
    lam: Any, function_name: str, changes: Mapping[str, str | None]
) -> dict[str, str]:
    """Set (or, with None, remove) environment variables of a deployed function."""
    current = lam.get_function_configuration(FunctionName=function_name)
    variables: dict[str, str] = dict(current.get("Environment", {}).get("Variables", {}))
    for key, value in changes.items():
        if value is None:
            variables.pop(key, None)
        else:
            variables[key] = value
    lam.update_function_configuration(
        FunctionName=function_name, Environment={"Variables": variables}
    )
    return variables


class InvalidResponse(Exception):
    pass


def failed_ids(result: Any, batch_ids: list[str], report_failures: bool) -> set[str]:
    """The records to leave in the queue, from a handler's successful return value.

    docs/aws-facts.md#lambda-event-source-mapping: without ReportBatchItemFailures any return is a
    success; with it,
    a null/empty response or failure list is a success, and a malformed one or
    an unknown itemIdentifier fails the whole batch (:class:`InvalidResponse`).
    """
    if not report_failures or not result:
        return set()
    if not isinstance(result, dict):
        raise InvalidResponse(f"response is not an object: {result!r:.200}")
    failures = result.get("batchItemFailures") or []
    if not isinstance(failures, list):
        raise InvalidResponse(f"batchItemFailures is not a list: {failures!r:.200}")
    out = set()
    for item in failures:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not ident or ident not in batch_ids:
            raise InvalidResponse(f"invalid batch item failure: {item!r:.200}")
        out.add(ident)
    return out


class _Poller(threading.Thread):
    """One concurrent batch of a mapping: receive, invoke, delete, again."""

    def __init__(self, runner: LocalRunner, mapping: MappingConfig) -> None:
        super().__init__(name=f"poller-{mapping.function_name}", daemon=True)
        self.runner = runner
        self.mapping = mapping
        self.runtime: Runtime | None = None
        self._stopping = runner._stopping  # the runner stops: drop what is in flight
        self._retired = threading.Event()  # this poller stops after its batch

    def retire(self) -> None:
        self._retired.set()

    def run(self) -> None:
        cloud = self.runner.cloud
        sqs, lam = cloud.client("sqs"), cloud.client("lambda")
        idle = self.runner.idle_s
        while not self._retired.is_set():
            try:
                self._warm(lam)
                messages = self._collect(sqs)
                if messages:
                    self._handle(sqs, lam, messages)
                    idle = self.runner.idle_s
                else:  # back off while the queue stays empty, up to 1 s
                    self._retired.wait(idle)
                    idle = min(2 * idle, max(1.0, self.runner.idle_s))
            except Exception:
                if self._retired.is_set():
                    break
                log.exception("poller of %s failed; retrying", self.mapping.function_name)
                self._retired.wait(1.0)
        self.kill_runtime()

    def _warm(self, lam: Any) -> None:
        """Start (or replace) the runtime before receiving, so that its start is not spent
        inside the batch's visibility timeout: a batch that outlived it would be received
        again and processed twice. (Lambda counts its init there too, but AWS's timeout is
        six times the function's; the demo shortens it locally.) A start that fails is
        left to the next batch, which fails as Lambda's does."""
        stats = FunctionStats()
        try:
            self._runtime(lam, stats)
        except RuntimeFailure:
            self.kill_runtime()
        if stats.restarts:
            self.runner._record(self.mapping.function_name, lambda s: _add(s, stats))

    def kill_runtime(self) -> None:
        runtime, self.runtime = self.runtime, None
        if runtime is not None:
            runtime.stop()

    def _collect(self, sqs: Any) -> list[dict[str, Any]]:
        """Receive until the batch is full or the batching window closes."""
        m = self.mapping
        messages: list[dict[str, Any]] = []
        closes = time.monotonic() + m.window_s
        lock = self.runner.receive_lock(m.queue_url)
        while len(messages) < m.batch_size and not self._retired.is_set():
            with lock:
                got = sqs.receive_message(
                    QueueUrl=m.queue_url,
                    MaxNumberOfMessages=min(_SQS_BATCH, m.batch_size - len(messages)),
                    WaitTimeSeconds=0,  # moto spins on long polls of blocked FIFO groups
                    **RECEIVE_ARGS,
                ).get("Messages", [])
            messages += got
            left = closes - time.monotonic()
            if not messages or left <= 0:
                break
            if not got:
                self._retired.wait(min(self.runner.idle_s, left))
        return messages

    def _handle(self, sqs: Any, lam: Any, messages: list[dict[str, Any]]) -> None:
        messages = self._drop_filtered(sqs, messages)
        if not messages:
            return
        m = self.mapping
        records = self._fit_payload(sqs, messages)
        messages = messages[: len(records)]
        ids = [msg["MessageId"] for msg in messages]
        event = {"Records": records}
        stats = FunctionStats(batches=1, records=len(messages))
        try:
            runtime = self._runtime(lam, stats)
            response = runtime.invoke(event, request_id=str(uuid.uuid4()))
            if "errorType" in response:
                raise InvalidResponse(f"{response['errorType']}: {response.get('errorMessage')}")
            failed = failed_ids(response.get("result"), ids, m.report_failures)
            stats.failures_reported = len(failed)
        except InvokeTimeout as exc:
            self.runtime = None
            stats.timeouts, stats.last_error, failed = 1, str(exc), set(ids)
        except (RuntimeFailure, InvalidResponse) as exc:
            if isinstance(exc, RuntimeFailure):
                self.kill_runtime()
            stats.errors, stats.last_error, failed = 1, str(exc), set(ids)
        if self._stopping.is_set():
            return
        if stats.last_error:
            log.debug("%s: batch of %d returned: %s", m.function_name, len(ids), stats.last_error)
        done = [msg for msg in messages if msg["MessageId"] not in failed]
        stats.deleted = _delete(sqs, m.queue_url, done)
        self.runner._record(m.function_name, lambda s: _add(s, stats))

    def _fit_payload(self, sqs: Any, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records of the longest head of ``messages`` whose event stays within
        Lambda's invocation payload (UTF-8 JSON); the messages after it are made
        visible again at once, left for the next poll as Lambda does."""
        m = self.mapping
        records: list[dict[str, Any]] = []
        size = _EMPTY_EVENT_BYTES
        for msg in messages:
            record = lambda_record(msg, m.queue_arn, self.runner.cloud.region)
            added = len(json.dumps(record, ensure_ascii=False).encode()) + (2 if records else 0)
            if records and size + added > limits.LAMBDA_MAX_INVOKE_PAYLOAD_BYTES:
                break
            records.append(record)
            size += added
        rest = messages[len(records) :]
        if rest:
            _release(sqs, m.queue_url, rest)
            log.debug("%s: %d record(s) left for the next poll (6 MB)", m.function_name, len(rest))
            self.runner._record(
                m.function_name, lambda s: setattr(s, "deferred", s.deferred + len(rest))
            )
        return records

    def _drop_filtered(self, sqs: Any, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Delete the records no filter matches (Lambda does, unseen); keep the rest."""
        m = self.mapping
        if not m.filters:
            return messages
        region = self.runner.cloud.region
        kept: list[dict[str, Any]] = []
        dropped: list[dict[str, Any]] = []
        for msg in messages:
            record = lambda_record(msg, m.queue_arn, region)
            (kept if event_filters.matches_any(m.filters, record) else dropped).append(msg)
        if dropped:
            deleted = _delete(sqs, m.queue_url, dropped)
            self.runner._record(
                m.function_name, lambda s: setattr(s, "filtered", s.filtered + deleted)
            )
        return kept

    def _runtime(self, lam: Any, stats: FunctionStats) -> Runtime:
        """This poller's runtime, replaced when the function's configuration changed."""
        config = function_config(self.runner.cloud, lam, self.mapping.function_arn)
        if self.runtime is not None and self.runtime.config != config:
            self.kill_runtime()
            stats.restarts = 1
        if self.runtime is None:
            log_file = self.runner.log_dir / f"{config.name}.log"
            self.runtime = Runtime(config, self.runner.cloud.environment(), log_file)
        return self.runtime


def _delete(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> int:
    deleted = 0
    for start in range(0, len(messages), _SQS_BATCH):
        chunk = messages[start : start + _SQS_BATCH]
        response = sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
            ],
        )
        deleted += len(response.get("Successful", []))
        for failure in response.get("Failed", []):
            message = chunk[int(failure["Id"])]
            log.warning(
                "message %s was processed but not deleted (%s: %s): it was received again "
                "after its visibility timeout expired, or moved to the DLQ, while the batch "
                "ran; it will be delivered again, so its record may be processed twice",
                message["MessageId"],
                failure.get("Code"),
                failure.get("Message"),
            )
    return deleted


def _release(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> None:
    """Make received messages visible again now (visibility timeout 0)."""
    for start in range(0, len(messages), _SQS_BATCH):
        chunk = messages[start : start + _SQS_BATCH]
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(chunk)
            ],
        )


def _add(total: FunctionStats, batch: FunctionStats) -> None:
    for name in ("batches", "records", "deleted", "failures_reported", "errors", "timeouts"):
        setattr(total, name, getattr(total, name) + getattr(batch, name))
    total.restarts += batch.restarts + batch.timeouts
    total.last_error = batch.last_error or total.last_error
