"""The runtime of one local Lambda function, in its own Python process.

Started by the local runner BY FILE PATH (``python .../_bootstrap.py``, never
``-m``) so that nothing of the project is imported before the function's own
code: ``LAMBDA_TASK_ROOT`` (the function's code directory) goes first on
``sys.path``, then the handler named by ``_HANDLER`` is imported once.

Protocol, one JSON object per line:
- on start, stdout gets ``{"ready": true}`` or ``{"ready": false, <error>}``;
- stdin gets ``{"event", "request_id", "function_arn", "deadline_ms"}`` requests;
- stdout gets ``{"result": ...}`` or ``{"errorType", "errorMessage", "stackTrace"}``.
Everything the handler prints goes to stderr (the runner's log file).
This file imports only the standard library.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import IO, Any


class Context:
    """The parts of the Lambda context object handlers and Powertools use."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.invoked_function_arn: str = request.get("function_arn", "")
        self.aws_request_id: str = request.get("request_id", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms: int = request["deadline_ms"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(exc: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc),
    }


def _send(channel: IO[str], message: dict[str, Any]) -> None:
    channel.write(json.dumps(message) + "\n")
    channel.flush()


def _collect_spans() -> None:
    """What the ADOT layer does in AWS: the environment sets the tracer provider up, here
    the local collector's (``SQS_BLUEPRINT_SPANS_FILE``), with the function's own copy
    of the library, before its handler is imported."""
    path = os.environ.get("SQS_BLUEPRINT_SPANS_FILE")
    if path and os.environ.get("SQS_BLUEPRINT_TRACING", "").strip().lower() == "on":
        importlib.import_module("sqs_blueprint.tracing").collect_to(path)


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])
    # Keep the protocol channel to ourselves: fd 1 (and print) now go to stderr.
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]

    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    try:
        _collect_spans()
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:
        traceback.print_exc()
        _send(channel, {"ready": False, **_error(exc)})
        return 1
    _send(channel, {"ready": True})

    for line in sys.stdin:
        request = json.loads(line)
        try:
            result = handler(request["event"], Context(request))
            response = {"result": result}
            encoded = json.dumps(response)
        except Exception as exc:
            traceback.print_exc()
            encoded = json.dumps(_error(exc))
        channel.write(encoded + "\n")
        channel.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
