"""The IAM policy simulator as one long-lived process, with a decision cache.

The simulator is ``@cloud-copilot/iam-simulate`` (pinned in package.json), run by
the pinned Node.js in ``node_modules/.bin`` with ``simulate.cjs``: one JSON
request a line in, one answer a line out. A decision depends only on the
principal, the action, the resource, the request's context and the policies in
force, so each is asked once and cached until the policies change
(:meth:`Evaluator.clear`); a cache hit costs a dictionary lookup.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqs_blueprint.errors import SqsBlueprintError

SIDECAR = Path(__file__).with_name("simulate.cjs")
_PROJECT_NODE_MODULES = Path(__file__).resolve().parents[3] / "node_modules"
NODE_MODULES_ENV = "SQS_BLUEPRINT_NODE_MODULES"  # where @cloud-copilot/iam-simulate is
MAX_CACHED = 100_000  # decisions kept (S3 objects each have their own)


class EvaluatorError(SqsBlueprintError):
    """The IAM policy simulator cannot start or stopped answering."""


@dataclass(frozen=True)
class Request:
    """One authorization question, hashable so that its answer can be cached."""

    principal: str  # an ARN, or a service principal such as sns.amazonaws.com
    action: str  # "sqs:SendMessage"
    resource: str  # the resource's ARN, or "*"
    context: tuple[tuple[str, str], ...] = ()  # condition keys and values, sorted


@dataclass(frozen=True)
class Decision:
    """``result``: Allowed, ExplicitlyDenied, ImplicitlyDenied or Error (``detail`` says why).
    ``grants``: the identity statements that allowed it, as (policy, statement, action
    patterns, resource patterns)."""

    result: str
    detail: str = ""
    grants: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...] = ()

    @property
    def allowed(self) -> bool:
        return self.result == "Allowed"


def _node_modules() -> Path:
    configured = os.environ.get(NODE_MODULES_ENV)
    return Path(configured) if configured else _PROJECT_NODE_MODULES


def _node(modules: Path) -> str:
    pinned = modules / ".bin" / "node"
    if pinned.exists():
        return str(pinned)
    found = shutil.which("node")
    if found is None:
        raise EvaluatorError(
            f"no Node.js to run the IAM policy simulator: {pinned} is missing and no node is on "
            "PATH; run `make setup` (npm ci), or set the local cloud's IAM mode to off"
        )
    return found


class Evaluator:
    """Answers authorization questions with the simulator; ``policies(request)`` gives
    the identity policies (by name) and the resource policy that apply."""

    def __init__(self) -> None:
        modules = _node_modules()
        if not (modules / "@cloud-copilot" / "iam-simulate").is_dir():
            raise EvaluatorError(
                f"the IAM policy simulator is not installed in {modules}: run `make setup` "
                f"(npm ci), or point {NODE_MODULES_ENV} at a node_modules that has "
                "@cloud-copilot/iam-simulate"
            )
        self._proc = subprocess.Popen(
            [_node(modules), str(SIDECAR)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "NODE_PATH": str(modules)},
        )
        self._lock = threading.Lock()
        self._cache: dict[tuple[Request, int], Decision] = {}
        self.generation = 0  # moves on when the policies change
        self.asked = 0  # questions the simulator answered (cache misses)

    def clear(self) -> None:
        """Forget every decision: the policies changed."""
        with self._lock:
            self._cache.clear()
            self.generation += 1

    def cached(self, request: Request) -> Decision | None:
        return self._cache.get((request, self.generation))

    def decide(
        self,
        request: Request,
        account: str,
        identity: Mapping[str, Any],
        resource_policy: Mapping[str, Any] | None,
    ) -> Decision:
        """The simulator's decision on ``request`` under these policies (cached)."""
        key = (request, self.generation)
        found = self._cache.get(key)
        if found is not None:
            return found
        question = {
            "principal": request.principal,
            "action": request.action,
            "resource": request.resource,
            "account": account,
            "context": dict(request.context),
            "identity": identity,
            "resourcePolicy": resource_policy,
        }
        with self._lock:
            answer = self._ask(question)
            self.asked += 1
            decision = Decision(
                answer["result"],
                answer.get("errors") or "",
                tuple((p, s, tuple(a), tuple(r)) for p, s, a, r in answer.get("allowed", [])),
            )
            if key[1] == self.generation:
                if len(self._cache) >= MAX_CACHED:  # many distinct objects: start again
                    self._cache.clear()
                self._cache[key] = decision
        return decision

    def _ask(self, question: Mapping[str, Any]) -> dict[str, Any]:
        stdin, stdout = self._proc.stdin, self._proc.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(json.dumps(question).encode() + b"\n")
            stdin.flush()
            line = stdout.readline()
        except (OSError, ValueError) as exc:
            raise EvaluatorError(f"the IAM policy simulator stopped: {exc}") from exc
        if not line:
            raise EvaluatorError(f"the IAM policy simulator exited with status {self._proc.poll()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout):
            if stream is not None:
                stream.close()
