"""``sqs-blueprint rpc call``: one request to a request/response service, its JSON answer."""

from __future__ import annotations

import argparse
import json
import re

from sqs_blueprint.cli._parsing import Subparsers, int_in, seconds
from sqs_blueprint.errors import UsageError
from sqs_blueprint.limits import SQS_MAX_QUEUE_NAME_LENGTH, SQS_MAX_WAIT_TIME_S

_ID_LENGTH = 32  # RpcClient appends a 32-character id to the prefix


def add(sub: Subparsers) -> None:
    rpc = sub.add_parser("rpc", help="request/response over SQS")
    rpc_sub = rpc.add_subparsers(dest="rpc_command", required=True, metavar="COMMAND")
    p = rpc_sub.add_parser("call", help="send one request and print its JSON response")
    p.add_argument("--queue-url", required=True, help="request queue URL")
    p.add_argument(
        "--prefix", required=True, type=_response_prefix, help="response queue name prefix"
    )
    p.add_argument("--type", required=True, help="request type")
    p.add_argument("--json-payload", default="{}", help="JSON object of request fields")
    p.add_argument("--timeout", type=seconds(positive=True), default=30.0, help="seconds")
    p.add_argument(
        "--wait",
        type=int_in(1, SQS_MAX_WAIT_TIME_S, " s"),
        default=SQS_MAX_WAIT_TIME_S,
        help="long-poll seconds",
    )
    p.set_defaults(func=_run_call)


def _response_prefix(text: str) -> str:
    """An argparse type: a response queue name prefix RpcClient accepts."""
    longest = SQS_MAX_QUEUE_NAME_LENGTH - _ID_LENGTH
    if not re.fullmatch(rf"[A-Za-z0-9_-]{{1,{longest}}}", text):
        raise argparse.ArgumentTypeError(
            f"must be 1..{longest} letters, digits, '-' or '_' (a {_ID_LENGTH}-character id "
            f"is appended to make the queue name), got {text!r}"
        )
    return text


def _run_call(args: argparse.Namespace) -> int:
    from sqs_blueprint.rpc import RpcClient

    try:
        payload = json.loads(args.json_payload)
    except ValueError as exc:
        raise UsageError(f"--json-payload is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise UsageError(f"--json-payload must be a JSON object, got {args.json_payload!r}")
    client = RpcClient(
        request_queue_url=args.queue_url,
        response_queue_prefix=args.prefix,
        wait_time_seconds=args.wait,
    )
    with client:
        answer = client.call({**payload, "type": args.type}, timeout=args.timeout)
    print(json.dumps(answer))
    return 0
