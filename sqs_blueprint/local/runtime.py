"""One local Lambda runtime: a Python process running ``_bootstrap.py`` for one function."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

BOOTSTRAP = Path(__file__).with_name("_bootstrap.py")
INIT_TIMEOUT_S = 10.0  # Lambda's init phase limit


class RuntimeFailure(Exception):
    """The runtime could not start, or died, or timed out; it must be replaced."""


class InvokeTimeout(RuntimeFailure):
    """The handler ran past the function's timeout."""


@dataclass(frozen=True)
class FunctionConfig:
    """What a runtime needs to know about its function (from ``lambda.get_function``)."""

    name: str
    arn: str
    handler: str
    timeout_s: float
    memory_mb: int
    code_dir: Path
    environment: Mapping[str, str] = field(default_factory=dict)
    role: str = ""  # the execution role's ARN: the runtime calls the local cloud as that role


class Runtime:
    """A started runtime process for ``config``, reachable through :meth:`invoke`."""

    def __init__(self, config: FunctionConfig, cloud_env: Mapping[str, str], log_file: Path):
        self.config = config
        self._log = log_file.open("ab")
        self._proc = subprocess.Popen(
            [sys.executable, str(BOOTSTRAP)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=_environment(config, cloud_env),
            cwd=config.code_dir,
        )
        assert self._proc.stdout is not None
        self._lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._read_lines, args=(self._proc.stdout,), daemon=True).start()
        ready = self._next(INIT_TIMEOUT_S)
        if ready is None or not ready.get("ready"):
            self.stop()
            reason = "init timed out" if ready is None else _describe(ready)
            raise RuntimeFailure(f"{config.name}: runtime did not start: {reason}")

    def invoke(self, event: Mapping[str, Any], request_id: str) -> dict[str, Any]:
        """Run the handler on ``event``: ``{"result": ...}`` or an error object."""
        deadline_ms = int((time.time() + self.config.timeout_s) * 1000)
        request = {
            "event": event,
            "request_id": request_id,
            "function_arn": self.config.arn,
            "deadline_ms": deadline_ms,
        }
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(json.dumps(request).encode() + b"\n")
            self._proc.stdin.flush()
        except OSError as exc:
            raise RuntimeFailure(f"{self.config.name}: runtime exited: {exc}") from exc
        response = self._next(self.config.timeout_s)
        if response is None:
            self.stop()
            raise InvokeTimeout(
                f"{self.config.name}: task timed out after {self.config.timeout_s:g} s"
            )
        return response

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout):
            if stream is not None:
                stream.close()
        self._log.close()

    def _next(self, timeout_s: float) -> dict[str, Any] | None:
        """The runtime's next message; None on timeout; a failure if it exited."""
        try:
            line = self._lines.get(timeout=timeout_s)
        except queue.Empty:
            return None
        if not line:
            raise RuntimeFailure(
                f"{self.config.name}: runtime exited with status {self._proc.wait()}"
            )
        message: dict[str, Any] = json.loads(line)
        return message

    def _read_lines(self, stdout: IO[bytes]) -> None:
        try:
            for line in stdout:
                self._lines.put(line)
        except ValueError:  # closed by stop()
            pass
        self._lines.put(b"")


def _describe(error: Mapping[str, Any]) -> str:
    return f"{error.get('errorType')}: {error.get('errorMessage')}"


def _environment(config: FunctionConfig, cloud_env: Mapping[str, str]) -> dict[str, str]:
    """The function's variables, then what Lambda reserves, then the local cloud's."""
    region = cloud_env.get("AWS_DEFAULT_REGION", "us-east-1")
    return {
        "PATH": os.environ.get("PATH", ""),
        **config.environment,
        "_HANDLER": config.handler,
        "LAMBDA_TASK_ROOT": str(config.code_dir),
        "AWS_LAMBDA_FUNCTION_NAME": config.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        "AWS_REGION": region,
        **cloud_env,
        # No user config or credentials files: only the local cloud is reachable.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        # Never write __pycache__ into the assembly's asset directories.
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }
