"""The local cloud's SQS at depth: messages per second with 1,000, 10,000 and 100,000
messages already in the queue, standard and FIFO, against unpatched moto.

Each row runs in a process of its own (the local cloud's fixes patch moto for the whole
process): the local cloud's embedded server (its SQS fast path included) or a plain
moto server, one queue filled to the depth through moto's backend
(setup, not timed), then, timed over HTTP with one boto3 client:

- ``send``: ``MESSAGES`` messages of about 100 bytes in SendMessageBatch calls of 10
  (``RIVAL_MESSAGES`` on unpatched moto);
- ``receive+delete``: ReceiveMessage (10, WaitTimeSeconds=0) then DeleteMessageBatch of
  what came back, until as many messages are deleted.

FIFO messages go round robin over ``FIFO_GROUPS`` groups (content-based deduplication),
so a receive finds groups that are not in flight. The rival is unpatched moto 5.2, at
the depths where it finishes in reasonable time: every send and receive walks its
queue, so filling it costs O(depth^2) (10,000 messages: more than an hour).

Each phase also says where its wall time went: the server's WSGI application (summed
over its threads), the client thread's CPU (boto3), and the rest (HTTP connections and
server threads, waits for the GIL the two share in this process).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

MESSAGES = 2_000
RIVAL_MESSAGES = 200  # unpatched moto: each of its calls walks the queue
DEPTHS = (1_000, 10_000, 100_000)
RIVAL_DEPTHS = (1_000,)
FIFO_GROUPS = 100
ROW_TIMEOUT_S = 900
TARGET_PER_S = 2_000


@dataclass
class Row:
    server: str
    kind: str
    depth: int
    send_per_s: float
    receive_delete_per_s: float
    delivered: int
    send_shares: str = ""  # server application / client CPU / the rest, of the wall time
    receive_shares: str = ""


def _queue(sqs: Any, kind: str) -> str:
    fifo = kind == "fifo"
    attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true"} if fifo else {}
    name = "bench.fifo" if fifo else "bench"
    url: str = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url


def _fill(name: str, kind: str, depth: int) -> None:
    """Put ``depth`` messages in the queue through moto's backend (not timed)."""
    from moto.sqs.models import sqs_backends

    from sqs_blueprint.local.server import ACCOUNT_ID, DEFAULT_REGION

    backend = sqs_backends[ACCOUNT_ID][DEFAULT_REGION]
    for i in range(depth):
        group = f"g-{i % FIFO_GROUPS}" if kind == "fifo" else None
        backend.send_message(name, f"fill-{i:07d}-" + "x" * 80, group_id=group)


def _entries(kind: str, start: int) -> list[dict[str, Any]]:
    entries = []
    for i in range(start, start + 10):
        entry: dict[str, Any] = {"Id": str(i - start), "MessageBody": f"m-{i:07d}-" + "y" * 80}
        if kind == "fifo":
            entry["MessageGroupId"] = f"g-{i % FIFO_GROUPS}"
        entries.append(entry)
    return entries


def measure(server: str, kind: str, depth: int) -> Row:
    """One row, in this process: ``server`` is "local cloud" or "moto"."""
    import boto3
    from moto.server import ThreadedMotoServer

    from sqs_blueprint.local.server import CREDENTIALS, DEFAULT_REGION, LocalCloud

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    if server == "local cloud":  # the embedded server as the local cloud runs it
        moto = LocalCloud.start()._server
    else:
        moto = ThreadedMotoServer(port=0, verbose=False)
        moto.start()
    host, port = moto.get_host_and_port()
    timer = _ServerTime()
    moto._server.app = timer.wsgi(moto._server.app)
    try:
        sqs = boto3.client(
            "sqs",
            endpoint_url=f"http://{host}:{port}",
            region_name=DEFAULT_REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        url = _queue(sqs, kind)
        _fill(url.rsplit("/", 1)[1], kind, depth)
        messages = MESSAGES if server == "local cloud" else RIVAL_MESSAGES
        send = _Phase(timer)
        for start in range(0, messages, 10):
            assert not sqs.send_message_batch(QueueUrl=url, Entries=_entries(kind, start)).get(
                "Failed"
            )
        send.end()
        receive, delivered = _Phase(timer), 0
        while delivered < messages:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            batch = [
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                for n, m in enumerate(got.get("Messages", []))
            ]
            if batch:
                assert not sqs.delete_message_batch(QueueUrl=url, Entries=batch).get("Failed")
            delivered += len(batch)
        receive.end()
    finally:
        moto.stop()
    return Row(
        server,
        kind,
        depth,
        messages / send.wall_s,
        messages / receive.wall_s,
        delivered,
        send.shares(),
        receive.shares(),
    )


class _ServerTime:
    """Seconds the server's application spent answering (its threads, summed)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def wsgi(self, app: Any) -> Any:
        def timed(environ: dict[str, Any], start_response: Any) -> Any:
            started = time.perf_counter()
            try:
                return list(app(environ, start_response))
            finally:
                self.seconds += time.perf_counter() - started

        return timed


class _Phase:
    """One timed phase: its wall time, the server application's time within it, and
    the client thread's CPU time (boto3: building, signing, parsing)."""

    def __init__(self, timer: _ServerTime) -> None:
        self.timer = timer
        self.server_s, self.client_s = timer.seconds, time.thread_time()
        self.wall_s = time.perf_counter()

    def end(self) -> None:
        self.wall_s = time.perf_counter() - self.wall_s
        self.server_s = self.timer.seconds - self.server_s
        self.client_s = time.thread_time() - self.client_s

    def shares(self) -> str:
        """Where the wall time went: the server application, the client's CPU, and the
        rest (HTTP: connection, werkzeug's request handling, waits for the GIL)."""
        server, client = self.server_s / self.wall_s, self.client_s / self.wall_s
        return f"{server:.0%} / {client:.0%} / {max(0.0, 1 - server - client):.0%}"


def _run_row(server: str, kind: str, depth: int) -> Row | None:
    command = [sys.executable, "-m", "bench.bench_local_sqs", server, kind, str(depth)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=ROW_TIMEOUT_S, check=True
        )
    except (subprocess.TimeoutExpired, subprocess.CalledProcessError) as error:
        print(f"  {server} {kind} {depth:,}: did not finish ({error})", file=sys.stderr)
        return None
    return Row(**json.loads(done.stdout.splitlines()[-1]))


def _cell(row: Row | None, field: str) -> str:
    return "not run" if row is None else f"{getattr(row, field):,.0f}"


def main() -> None:
    print(
        f"Local SQS at depth: {MESSAGES:,} messages each way ({RIVAL_MESSAGES} on unpatched "
        "moto), batches of 10 (moto server)"
    )
    print(f"load before: {os.getloadavg()[0]:.2f} (1-minute average, 2 cores)")
    print(
        "| queue | depth | send msg/s | moto send msg/s | receive+delete msg/s "
        "| moto receive+delete msg/s | send: server / client / rest "
        "| receive+delete: server / client / rest |"
    )
    print("|---|---:|---:|---:|---:|---:|---|---|")
    for kind in ("standard", "fifo"):
        for depth in DEPTHS:
            ours = _run_row("local cloud", kind, depth)
            rival = _run_row("moto", kind, depth) if depth in RIVAL_DEPTHS else None
            cells = [_cell(ours, "send_per_s"), _cell(rival, "send_per_s")]
            cells += [_cell(ours, "receive_delete_per_s"), _cell(rival, "receive_delete_per_s")]
            cells += ["" if ours is None else ours.send_shares]
            cells += ["" if ours is None else ours.receive_shares]
            print(f"| {kind} | {depth:,} | " + " | ".join(cells) + " |", flush=True)
    print(f"load after: {os.getloadavg()[0]:.2f}; target: {TARGET_PER_S:,} msg/s each way")


if __name__ == "__main__":
    if len(sys.argv) == 4:
        print(json.dumps(asdict(measure(sys.argv[1], sys.argv[2], int(sys.argv[3])))))
    else:
        main()
