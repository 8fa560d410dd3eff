"""The demo's story lines while the runner drains, read from what the local cloud
observes: the functions' own logs (each failed record, with its receive count and
reason, as the handler logged it), the source queues' redrive policies, the dead
letter queues' depths, and the ordered table's rows."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqs_blueprint.local.demo.alarms import AlarmLines
from sqs_blueprint.local.demo.report import depth, queue_name, stored_versions
from sqs_blueprint.local.demo.stage import Pipeline
from sqs_blueprint.local.server import LocalCloud

_REASON_CHARS = 200


class FunctionLog:
    """The ``record failed`` lines a function's runtimes appended since the last read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0

    def failures(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        with self.path.open("rb") as log:
            log.seek(self._offset)
            data = log.read()
        complete = data[: data.rfind(b"\n") + 1]  # a line still being written waits
        self._offset += len(complete)
        found = []
        for line in complete.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # not one of Powertools' JSON lines (a traceback, a print)
            if isinstance(entry, dict) and entry.get("message") == "record failed":
                found.append(entry)
        return found


class Watch:
    """Call :meth:`check` often; it says what changed since the last call."""

    def __init__(
        self,
        cloud: LocalCloud,
        log_dir: Path,
        buffer: Pipeline,
        ordered: Pipeline,
        groups: dict[str, str],
        say: Callable[[str], None],
    ) -> None:
        self.sqs, self.ddb = cloud.client("sqs"), cloud.client("dynamodb")
        self.buffer, self.ordered, self.groups, self.say = buffer, ordered, groups, say
        self.pipelines = {"write buffer": buffer, "ordered": ordered}
        self.logs = {
            label: FunctionLog(log_dir / f"{p.function}.log") for label, p in self.pipelines.items()
        }
        self.receives = {
            label: max_receive_count(self.sqs, p.queue_url) for label, p in self.pipelines.items()
        }
        self.dead = dict.fromkeys(self.pipelines, 0)
        self._held: set[str] = set()  # groups whose holding was told
        self._told: set[tuple[str, str]] = set()  # (pipeline, reason) given in full
        self.alarms: AlarmLines | None = None  # alarm changes to tell with the rest

    def check(self) -> None:
        for label, log in self.logs.items():
            failures = log.failures()
            if label == "ordered":
                for entry in failures:
                    self._ordered_failure(entry)
            else:
                self._failures(label, failures)
        for label, pipeline in self.pipelines.items():
            now = depth(self.sqs, pipeline.dlq_url)
            if now > self.dead[label]:
                self.say(
                    f"   {label}: {now - self.dead[label]} moved to {queue_name(pipeline.dlq_url)} "
                    f"after {self.receives[label]} receives ({now} there)"
                )
            self.dead[label] = now
        if self.alarms is not None:
            self.alarms.flush(self.say)

    def _failures(self, label: str, failures: list[dict[str, Any]]) -> None:
        rounds = Counter(
            (int(f.get("receive_count", 0)), _short(f.get("reason"))) for f in failures
        )
        for (receive, reason), count in sorted(rounds.items()):
            records = "record" if count == 1 else "records"
            self.say(
                f"   {label}: {count} {records} failed, receive {receive} of "
                f"{self.receives[label]}{self._reason(label, reason)}"
            )

    def _reason(self, label: str, reason: str) -> str:
        """The whole reason the first time a pipeline gives it, then its name only."""
        if (label, reason) not in self._told:
            self._told.add((label, reason))
            return f": {reason}"
        head = reason.split(": ", 1)[0]
        return f" ({head})" if re.fullmatch(r"[A-Z]\w+", head) else " (the same reason)"

    def _ordered_failure(self, entry: dict[str, Any]) -> None:
        group = self.groups.get(str(entry.get("correlation_id")), "?")
        versions = stored_versions(self.ddb, self.ordered.table)
        others = sum(1 for account in versions if account != group)
        held = versions.get(group)
        reason = self._reason("ordered", _short(entry.get("reason")))
        self.say(
            f"   ordered: an update of group {group} failed, receive "
            f"{entry.get('receive_count')} of {self.receives['ordered']}{reason}"
        )
        if group not in self._held:
            self._held.add(group)
            self.say(
                f"   ordered: group {group} is held at version {held} while this update "
                f"retries; the other groups go on ({others} of them written so far)"
            )


def max_receive_count(sqs: Any, url: str) -> int:
    """The ``maxReceiveCount`` of a queue's redrive policy (0 without one)."""
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])
    policy = attrs.get("Attributes", {}).get("RedrivePolicy")
    return int(json.loads(policy)["maxReceiveCount"]) if policy else 0


def _short(reason: Any) -> str:
    text = " ".join(str(reason).split()).split("; ")[0]  # the what, without the how-to-fix
    return text if len(text) <= _REASON_CHARS else text[: _REASON_CHARS - 3] + "..."
