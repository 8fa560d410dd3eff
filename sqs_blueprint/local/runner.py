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
- tracing: with ``opentelemetry-sdk`` installed, the runtimes trace
  (``SQS_BLUEPRINT_TRACING=on``) and every span, of the runtimes, of this process
  and of the server (moves to a DLQ), goes to ``log_dir/spans.jsonl``
  (:mod:`.spans`), which ``sqs-blueprint trace`` reads;
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

The pieces: :mod:`.mappings` (what is polled), :mod:`.poller` (receive, invoke,
delete; every receive goes through ``poller.receive_messages``), :mod:`.invoke`
(function configuration, response rules, counters).
"""

from __future__ import annotations

import copy
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from sqs_blueprint import tracing
from sqs_blueprint.local.invoke import (
    FunctionStats,
    InvalidResponse,
    failed_ids,
    function_config,
    set_environment,
)
from sqs_blueprint.local.mappings import MappingConfig, discover_mappings
from sqs_blueprint.local.poller import Poller
from sqs_blueprint.local.server import LocalCloud
from sqs_blueprint.local.spans import SPANS_FILE_SETTING, collect_spans

__all__ = [
    "FunctionStats",
    "InvalidResponse",
    "LocalRunner",
    "MappingConfig",
    "RunStats",
    "discover_mappings",
    "failed_ids",
    "function_config",
    "set_environment",
]

log = logging.getLogger(__name__)


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
        self.stopping = threading.Event()
        self._pollers: dict[str, list[Poller]] = {}  # by mapping UUID
        self._retired: list[Poller] = []  # finishing their last batch
        self._clients: dict[str, Any] = {}  # the runner's own, made once (see client)
        self._sync_lock = threading.Lock()
        self._watcher: threading.Thread | None = None
        # One receive at a time per queue (see Poller._collect).
        self._receive_locks: dict[str, threading.Lock] = {}
        # Spans of the runtimes, of this process and of the server (sqs_blueprint.tracing).
        self.spans_file = collect_spans(self.log_dir)

    def runtime_environment(self, role: str | None = None) -> dict[str, str]:
        """What a runtime adds to its function's variables: the cloud's (as ``role``, an
        IAM role's ARN, if given), and tracing on with the collector's file when spans
        are collected."""
        env = self.cloud.environment(role)
        if self.spans_file is not None:
            env |= {tracing.SETTING: "on", SPANS_FILE_SETTING: str(self.spans_file)}
        return env

    def client(self, service: str) -> Any:
        """The runner's own client of ``service`` (as the administrator), made once: a
        client costs about as much as a hundred requests, and the mappings are read
        again every ``refresh_s``."""
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self.cloud.internal_client(service)
            return self._clients[service]

    def receive_lock(self, queue_url: str) -> threading.Lock:
        """The lock every receive from ``queue_url`` holds."""
        with self._lock:
            return self._receive_locks.setdefault(queue_url, threading.Lock())

    def start(self) -> LocalRunner:
        """Discover the mappings, start their pollers, and keep following them."""
        self.cloud.warn_if_moto_triggers_run()
        self.sync()
        self._watcher = threading.Thread(target=self._watch, name="mapping-watcher", daemon=True)
        self._watcher.start()
        return self

    def sync(self) -> None:
        """Poll exactly the enabled mappings: start the new ones, stop the disabled or
        deleted ones, restart the changed ones."""
        with self._sync_lock:
            wanted = {
                m.uuid: m
                for m in discover_mappings(
                    self.cloud, self.max_pollers, (self.client("lambda"), self.client("sqs"))
                )
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
        pollers = [Poller(self, mapping) for _ in range(mapping.concurrency)]
        self._pollers[mapping.uuid] = pollers
        for poller in pollers:
            poller.start()
        log.debug("polling mapping %s with %d poller(s)", mapping.uuid, len(pollers))

    def _watch(self) -> None:
        while not self.stopping.wait(self.refresh_s):
            try:
                self.sync()
            except Exception:  # the cloud may be busy or redeploying; try again
                log.debug("could not read the event-source mappings", exc_info=True)

    def stop(self) -> None:
        """Stop polling and kill every runtime; batches in flight reappear later."""
        self.stopping.set()
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
        if self.spans_file is not None and tracing.collector() == self.spans_file:
            tracing.configure(None)  # this process traces as its environment says again

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
        sqs = self.client("sqs")
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
        return set_environment(self.client("lambda"), function_name, changes)

    def record(self, function_name: str, update: Callable[[FunctionStats], None]) -> None:
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
