"""``sqs-blueprint rpc call``: one request to a request/response service, its JSON answer.

Without ``--queue-url`` and ``--prefix``, both come from the outputs of the
shipped request/response stack of ``--stage``: the responder answers only
``ReplyTo`` queues whose names start with its stack's prefix, so a prefix
guessed by hand times out.
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from sqs_blueprint.cli._parsing import Subparsers, int_in, seconds
from sqs_blueprint.errors import SqsBlueprintError, UsageError
from sqs_blueprint.limits import SQS_MAX_QUEUE_NAME_LENGTH, SQS_MAX_WAIT_TIME_S

# The stage `make` and `cdk` use when none is given (DEFAULT_STAGE in stacks/config/),
# and the stack name app.py gives the request/response pipeline of a stage.
DEFAULT_STAGE = "dev"
STACK_NAME = "sqs-blueprint-{stage}-request-response"
QUEUE_OUTPUT = "RequestQueueUrl"
PREFIX_OUTPUT = "ResponseQueuePrefix"
_ID_LENGTH = 32  # RpcClient appends a 32-character id to the prefix


def add(sub: Subparsers) -> None:
    rpc = sub.add_parser("rpc", help="request/response over SQS")
    rpc_sub = rpc.add_subparsers(dest="rpc_command", required=True, metavar="COMMAND")
    p = rpc_sub.add_parser(
        "call",
        help="send one request and print its JSON response",
        description="Send one request and print its JSON response. The request queue and the "
        f"response queue prefix are read from the {QUEUE_OUTPUT} and {PREFIX_OUTPUT} outputs "
        f"of the stack {STACK_NAME.format(stage='STAGE')} unless --queue-url and --prefix "
        "are given.",
    )
    p.add_argument(
        "--stage",
        default=DEFAULT_STAGE,
        help=f"whose stack {STACK_NAME.format(stage='STAGE')} to read the queue and prefix from",
    )
    p.add_argument("--queue-url", help=f"request queue URL (default: the stack's {QUEUE_OUTPUT})")
    p.add_argument(
        "--prefix",
        type=_response_prefix,
        help=f"response queue name prefix (default: the stack's {PREFIX_OUTPUT})",
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


def stack_outputs(stack_name: str, *, cfn_client: Any = None) -> dict[str, str]:
    """A deployed stack's outputs by key; one clear line if there is no such stack."""
    from botocore.exceptions import ClientError

    from sqs_blueprint._clients import LazyClient

    cfn = LazyClient("cloudformation", cfn_client)()
    try:
        stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        info = error.response.get("Error", {})
        if info.get("Code") == "ValidationError" and "does not exist" in info.get("Message", ""):
            raise SqsBlueprintError(
                f"stack {stack_name} does not exist in this account and region (deploy it, "
                "choose its stage with --stage, or give --queue-url and --prefix)"
            ) from error
        raise
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def request_queue_and_prefix(
    stage: str, queue_url: str | None, prefix: str | None
) -> tuple[str, str]:
    """The given queue URL and prefix; what is not given, from the stage's stack outputs."""
    if queue_url and prefix:
        return queue_url, prefix
    name = STACK_NAME.format(stage=stage)
    outputs = stack_outputs(name)

    def output(key: str, flag: str) -> str:
        if key not in outputs:
            raise SqsBlueprintError(
                f"stack {name} has no output {key} (is it the request/response stack, "
                f"deployed completely?); give {flag}"
            )
        return outputs[key]

    url = queue_url or output(QUEUE_OUTPUT, "--queue-url")
    return url, prefix or output(PREFIX_OUTPUT, "--prefix")


def _run_call(args: argparse.Namespace) -> int:
    from sqs_blueprint.rpc import RpcClient, RpcTimeout

    try:
        payload = json.loads(args.json_payload)
    except ValueError as exc:
        raise UsageError(f"--json-payload is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise UsageError(f"--json-payload must be a JSON object, got {args.json_payload!r}")
    given_prefix = args.prefix is not None
    # Written back so that a missing queue's error line names the URL that was used.
    args.queue_url, prefix = request_queue_and_prefix(args.stage, args.queue_url, args.prefix)
    client = RpcClient(
        request_queue_url=args.queue_url, response_queue_prefix=prefix, wait_time_seconds=args.wait
    )
    try:
        with client:
            answer = client.call({**payload, "type": args.type}, timeout=args.timeout)
    except RpcTimeout as exc:
        if not given_prefix:
            raise
        raise SqsBlueprintError(
            f"{exc}; the responder answers only reply queues named with its stack's "
            f"{PREFIX_OUTPUT}: leave out --prefix to read it from the stack"
        ) from exc
    print(json.dumps(answer))
    return 0
