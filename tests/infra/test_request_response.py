"""Template assertions for the request/response pattern and stack, and their bad input."""

from __future__ import annotations

import fnmatch
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from aws_cdk import App, Duration, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks
from moto import mock_aws

from sqs_blueprint import rpc
from sqs_blueprint.records import Record
from sqs_blueprint.rpc import MAX_PREFIX_LENGTH
from sqs_blueprint_cdk import InvalidPropsError, RequestResponse
from stacks.config import AlarmsConfig, RequestResponseConfig, load_stage
from stacks.request_response_stack import RequestResponseStack
from tests.infra.conftest import cdk_context

DEV_PREFIX = "sqs-blueprint-dev-request-response-reply-"


def template(synthesized: Any) -> Template:
    result: Template = synthesized.templates["RequestResponse"]
    return result


def resources(t: Template, type_: str) -> dict[str, dict[str, Any]]:
    return {k: dict(v) for k, v in t.find_resources(type_).items()}


def only(t: Template, type_: str) -> tuple[str, dict[str, Any]]:
    ((logical_id, resource),) = resources(t, type_).items()
    return logical_id, resource["Properties"]


def prefix_arn(prefix: str) -> dict[str, Any]:
    """``arn:${Partition}:sqs:${Region}:${Account}:<prefix>*`` as the template holds it."""
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":sqs:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                f":{prefix}*",
            ],
        ]
    }


def actions_of(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return sorted(action) if isinstance(action, list) else [action]


def source_queue(t: Template) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (k, r["Properties"])
        for k, r in resources(t, "AWS::SQS::Queue").items()
        if "RedrivePolicy" in r["Properties"]
    ]
    return found


def role_statements(t: Template, role_id: str) -> list[dict[str, Any]]:
    """Every statement of every policy attached to ``role_id``."""
    return [
        s
        for p in resources(t, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def responder_role(t: Template) -> str:
    _, fn = only(t, "AWS::Lambda::Function")
    role_id: str = fn["Role"]["Fn::GetAtt"][0]
    return role_id


# ------------------------------------------------------------ the synthesized app


def test_mapping_reports_batch_item_failures_from_the_request_queue(synthesized: Any) -> None:
    t = template(synthesized)
    _, mapping = only(t, "AWS::Lambda::EventSourceMapping")
    queue_id, _ = source_queue(t)
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert mapping["BatchSize"] == RequestResponseConfig().batch_size
    assert mapping["ScalingConfig"] == {
        "MaximumConcurrency": RequestResponseConfig().max_concurrency
    }
    fn_id, _ = only(t, "AWS::Lambda::Function")
    # The mapping invokes the alias "live" on this deploy's version (delivery.py).
    alias_id, alias = only(t, "AWS::Lambda::Alias")
    assert alias["FunctionName"] == {"Ref": fn_id} and alias["Name"] == "live"
    name = {"Fn::Select": [6, {"Fn::Split": [":", {"Ref": alias_id}]}]}
    assert mapping["FunctionName"] == {"Fn::Join": ["", [name, ":live"]]}


def test_visibility_is_six_times_the_timeout(synthesized: Any) -> None:
    t = template(synthesized)
    _, fn = only(t, "AWS::Lambda::Function")
    _, queue = source_queue(t)
    assert fn["Timeout"] == RequestResponseConfig().function_timeout_s == 10
    assert queue["VisibilityTimeout"] == 6 * fn["Timeout"]


def test_request_queue_has_its_dlq_and_neither_is_named_with_the_prefix(
    synthesized: Any,
) -> None:
    t = template(synthesized)
    _, queue = source_queue(t)
    (dlq_id,) = [
        k
        for k, r in resources(t, "AWS::SQS::Queue").items()
        if "RedrivePolicy" not in r["Properties"]
    ]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": 5,
    }
    for props in (r["Properties"] for r in resources(t, "AWS::SQS::Queue").values()):
        assert props["SqsManagedSseEnabled"] is True
        assert not props["QueueName"].startswith(DEV_PREFIX)


def test_responder_runs_the_responder_handler_with_the_prefix(synthesized: Any) -> None:
    t = template(synthesized)
    _, fn = only(t, "AWS::Lambda::Function")
    assert fn["Environment"]["Variables"]["RESPONSE_QUEUE_PREFIX"] == DEV_PREFIX
    assert fn["Handler"] == "handler.lambda_handler"
    asset = synthesized.outdir / f"asset.{fn['Code']['S3Key'].removesuffix('.zip')}"
    assert "ResponderSettings.from_env()" in (asset / "handler.py").read_text()
    assert (asset / "sqs_blueprint" / "rpc" / "responder.py").is_file()
    assert not (asset / "sqs_blueprint" / "local").exists()


def test_responder_may_send_only_to_queues_named_with_the_prefix(synthesized: Any) -> None:
    t = template(synthesized)
    statements = role_statements(t, responder_role(t))
    sends = [s for s in statements if "sqs:SendMessage" in actions_of(s)]
    assert sends == [
        {"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": prefix_arn(DEV_PREFIX)}
    ]
    # Everything else the role holds: consume the request queue, write its logs.
    queue_id, _ = source_queue(t)
    others = {tuple(actions_of(s)): s["Resource"] for s in statements if s not in sends}
    assert others == {
        (
            "sqs:ChangeMessageVisibility",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:GetQueueUrl",
            "sqs:ReceiveMessage",
        ): {"Fn::GetAtt": [queue_id, "Arn"]},
        ("logs:CreateLogStream", "logs:PutLogEvents"): {
            "Fn::GetAtt": [only(t, "AWS::Logs::LogGroup")[0], "Arn"]
        },
        # Active tracing: X-Ray's actions have no resource-level permissions.
        ("xray:PutTelemetryRecords", "xray:PutTraceSegments"): "*",
    }


def test_no_sqs_star_and_no_bare_wildcard_anywhere(synthesized: Any) -> None:
    t = template(synthesized)
    documents = [
        p["Properties"]["PolicyDocument"]
        for type_ in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
        for p in resources(t, type_).values()
    ]
    for statement in (s for d in documents for s in d["Statement"] if s["Effect"] == "Allow"):
        assert all(a != "*" and not a.endswith(":*") for a in actions_of(statement))
        xray = all(a.startswith("xray:") for a in actions_of(statement))  # no resource level
        assert statement["Resource"] != "*" or xray


def test_mapping_waits_for_the_reply_permission(synthesized: Any) -> None:
    t = template(synthesized)
    (reply_policy_id,) = [
        k
        for k, p in resources(t, "AWS::IAM::Policy").items()
        if p["Properties"]["PolicyDocument"]["Statement"][0]["Action"] == "sqs:SendMessage"
    ]
    (mapping,) = resources(t, "AWS::Lambda::EventSourceMapping").values()
    assert reply_policy_id in mapping["DependsOn"]


def test_client_policy_is_exactly_what_rpc_client_needs(synthesized: Any) -> None:
    t = template(synthesized)
    _, policy = only(t, "AWS::IAM::ManagedPolicy")
    queue_id, _ = source_queue(t)
    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Action": "sqs:SendMessage",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [queue_id, "Arn"]},
        },
        {
            "Action": [
                "sqs:ChangeMessageVisibility",
                "sqs:CreateQueue",
                "sqs:DeleteMessage",
                "sqs:DeleteQueue",
                "sqs:ReceiveMessage",
            ],
            "Effect": "Allow",
            "Resource": prefix_arn(DEV_PREFIX),
        },
    ]


def test_outputs(synthesized: Any) -> None:
    t = template(synthesized)
    outputs = synthesized.raw["RequestResponse"]["Outputs"]
    queue_id, _ = source_queue(t)
    assert outputs["RequestQueueUrl"]["Value"] == {"Ref": queue_id}
    assert outputs["RequestQueueArn"]["Value"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert outputs["RequestDeadLetterQueueUrl"]["Value"]["Ref"].startswith(
        "RpcRequestsDeadLetterQueue"
    )
    assert outputs["ResponseQueuePrefix"]["Value"] == DEV_PREFIX
    assert outputs["FunctionName"]["Value"] == {"Ref": only(t, "AWS::Lambda::Function")[0]}
    assert outputs["ClientPolicyArn"]["Value"] == {"Ref": only(t, "AWS::IAM::ManagedPolicy")[0]}


def test_stack_name(synthesized: Any) -> None:
    assert synthesized.stacks["RequestResponse"].stack_name == "sqs-blueprint-dev-request-response"


# ------------------------------------------- the runtime calls fit the IAM exactly


def _queue_names_allowed(t: Template, resource: Any) -> str:
    """A statement's resource as a queue-name glob (the template's two shapes)."""
    if "Fn::GetAtt" in resource:
        name: str = t.to_json()["Resources"][resource["Fn::GetAtt"][0]]["Properties"]["QueueName"]
        return name
    last: str = resource["Fn::Join"][1][-1]
    return last.rsplit(":", 1)[1]


def _allows(t: Template, statements: list[dict[str, Any]], action: str, queue: str) -> bool:
    return any(
        action in actions_of(s)
        and fnmatch.fnmatchcase(queue, _queue_names_allowed(t, s["Resource"]))
        for s in statements
    )


_IAM_ACTION = {"DeleteMessageBatch": "DeleteMessage", "SendMessageBatch": "SendMessage"}


def _recording_client(calls: list[tuple[str, str]]) -> Any:
    client = boto3.client("sqs", region_name="us-east-1")

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        queue = params.get("QueueName") or params["QueueUrl"].rsplit("/", 1)[1]
        calls.append((f"sqs:{_IAM_ACTION.get(model.name, model.name)}", queue))

    client.meta.events.register("provide-client-params.sqs.*", record)
    return client


@pytest.fixture
def moto_sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield


@pytest.mark.usefixtures("moto_sqs")
def test_rpc_calls_use_exactly_the_granted_permissions(synthesized: Any) -> None:
    """Run RpcClient and Responder on moto; every call they make is granted, and every
    client grant is used (the queue names come from the synthesized template)."""
    t = template(synthesized)
    _, queue = source_queue(t)
    admin = boto3.client("sqs", region_name="us-east-1")
    request_url = admin.create_queue(QueueName=queue["QueueName"])["QueueUrl"]
    client_calls: list[tuple[str, str]] = []
    responder_calls: list[tuple[str, str]] = []
    responder = rpc.reference_responder(
        response_queue_prefix=DEV_PREFIX, sqs_client=_recording_client(responder_calls)
    )
    client = rpc.RpcClient(
        request_queue_url=request_url,
        response_queue_prefix=DEV_PREFIX,
        sqs_client=_recording_client(client_calls),
        wait_time_seconds=1,
    )

    def serve() -> None:
        for _ in range(50):
            got = admin.receive_message(
                QueueUrl=request_url, MessageAttributeNames=["All"], WaitTimeSeconds=0
            ).get("Messages", [])
            if got:
                responder.handle(Record.from_sqs(got[0], queue_url=request_url))
                return
            threading.Event().wait(0.1)

    with client:
        server = threading.Thread(target=serve)
        server.start()
        answer = client.call({"type": "checksum", "data": "x", "algorithm": "md5"}, timeout=10)
        server.join()
    assert answer["algorithm"] == "md5"

    managed = only(t, "AWS::IAM::ManagedPolicy")[1]["PolicyDocument"]["Statement"]
    for action, name in client_calls:
        assert _allows(t, managed, action, name), (action, name)
    # A client alone on its queue uses every grant but one: it gives back responses meant
    # for another client only when several share a queue (tests/unit/test_rpc.py).
    assert {a for a, _ in client_calls} | {"sqs:ChangeMessageVisibility"} == {
        a for s in managed for a in actions_of(s)
    }
    granted = role_statements(t, responder_role(t))
    assert responder_calls and all(_allows(t, granted, a, n) for a, n in responder_calls)
    assert {a for a, _ in responder_calls} == {"sqs:SendMessage"}


# ----------------------------------------------------------------- grant_client


def nag_app() -> tuple[App, Stack]:
    app = App(context={"aws:cdk:bundling-stacks": []})
    return app, Stack(app, "Test")


def client_statements_of(stack: Stack, role: iam.Role) -> list[dict[str, Any]]:
    t = Template.from_stack(stack)
    return role_statements(t, stack.resolve(role.node.default_child.logical_id))  # type: ignore[union-attr]


def test_grant_client_gives_a_role_the_client_statements(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    service = RequestResponse(stack, "Rpc", response_queue_prefix="svc-reply-")
    role = iam.Role(stack, "Client", assumed_by=iam.AccountRootPrincipal())
    service.grant_client(role)
    statements = client_statements_of(stack, role)
    queue_id = stack.resolve(service.requests.queue.queue_arn)
    assert statements == [
        {"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": queue_id},
        {
            "Action": [
                "sqs:ChangeMessageVisibility",
                "sqs:CreateQueue",
                "sqs:DeleteMessage",
                "sqs:DeleteQueue",
                "sqs:ReceiveMessage",
            ],
            "Effect": "Allow",
            "Resource": prefix_arn("svc-reply-"),
        },
    ]


def test_grant_client_adds_the_key_of_an_encrypted_request_queue(
    new_stack: Callable[[], Stack],
) -> None:
    stack = new_stack()
    service = RequestResponse(
        stack,
        "Rpc",
        response_queue_prefix="svc-reply-",
        customer_managed_key=True,
    )
    role = iam.Role(stack, "Client", assumed_by=iam.AccountRootPrincipal())
    service.grant_client(role)
    (kms,) = [s for s in client_statements_of(stack, role) if s["Action"][0].startswith("kms:")]
    assert kms["Action"] == ["kms:GenerateDataKey", "kms:Decrypt"]
    assert kms["Resource"]["Fn::GetAtt"][0].startswith("RpcRequestsKey")


def test_cdk_nag_still_fails_on_a_wildcard_that_grant_client_did_not_make() -> None:
    """grant_client's acknowledgement covers its own prefix only: another wildcard on
    the same role is still a finding, so synth fails."""
    app, stack = nag_app()
    service = RequestResponse(stack, "Rpc", response_queue_prefix="svc-reply-")
    role = iam.Role(stack, "Client", assumed_by=iam.AccountRootPrincipal())
    service.grant_client(role)
    # A wildcard the grant did not make is still a finding on the same role.
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["sqs:SendMessage"],
            resources=[stack.format_arn(service="sqs", resource="svc-*")],
        )
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(Exception) as error:
        app.synth()
    text = str(error.value)
    assert (
        "Acknowledge with 'AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sqs:"
        in text
    )
    assert ":svc-*]" in text
    assert ":svc-reply-*]" not in text


def test_cdk_nag_passes_with_grant_client() -> None:
    app, stack = nag_app()
    service = RequestResponse(stack, "Rpc", response_queue_prefix="svc-reply-")
    service.grant_client(iam.Role(stack, "Client", assumed_by=iam.AccountRootPrincipal()))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()


# -------------------------------------------------------------------- bad input


def build(stack: Stack, **props: Any) -> RequestResponse:
    settings: dict[str, Any] = {
        "response_queue_prefix": "svc-reply-",
        **props,
    }
    return RequestResponse(stack, "Rpc", **settings)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"response_queue_prefix": ""},
            "response_queue_prefix='': must not be empty: the responder's IAM and ReplyTo check "
            "are scoped to it",
        ),
        (
            {"response_queue_prefix": "svc.reply-"},
            "response_queue_prefix='svc.reply-': SQS queue names hold only letters, digits, '-' "
            "and '_'",
        ),
        (
            {"response_queue_prefix": "svc-reply-*"},
            "response_queue_prefix='svc-reply-*': SQS queue names hold only letters",
        ),
        (
            {"response_queue_prefix": "r" * 49},
            f"response_queue_prefix='{'r' * 49}': is 49 characters; at most 48 leave room for the "
            "32-character id RpcClient appends (80 in all)",
        ),
        (
            {"response_queue_prefix": "Test-Rpc"},
            "response_queue_prefix='Test-Rpc': the request queue names ['Test-Rpc-Requests-",
        ),
        (
            {"environment": {"RESPONSE_QUEUE_PREFIX": "other-"}},
            "environment={'RESPONSE_QUEUE_PREFIX': 'other-'}: RESPONSE_QUEUE_PREFIX is set from "
            "response_queue_prefix",
        ),
    ],
    ids=["empty", "dot", "star", "too-long", "names-the-request-queue", "env-override"],
)
def test_bad_input(new_stack: Callable[[], Stack], props: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidPropsError) as error:
        build(new_stack(), **props)
    text = str(error.value)
    assert text.startswith("RequestResponse 'Test/Rpc': 1 invalid setting:\n  - ")
    assert message in text


def test_every_problem_is_reported_at_once(new_stack: Callable[[], Stack]) -> None:
    with pytest.raises(InvalidPropsError) as error:
        build(
            new_stack(),
            response_queue_prefix="bad prefix " * 5,
            environment={"RESPONSE_QUEUE_PREFIX": "x"},
        )
    assert "RequestResponse 'Test/Rpc': 3 invalid settings:" in str(error.value)


def test_consumer_rules_still_apply(new_stack: Callable[[], Stack]) -> None:
    with pytest.raises(InvalidPropsError, match=re.escape("max_concurrency=1: must be 2..1000")):
        build(new_stack(), max_concurrency=1)
    with pytest.raises(
        InvalidPropsError, match=re.escape("function_timeout='901 s': must be 1..900 s")
    ):
        build(new_stack(), function_timeout=Duration.seconds(901))


def test_prefix_rule_matches_the_runtime_check(new_stack: Callable[[], Stack]) -> None:
    longest = "p" * MAX_PREFIX_LENGTH
    build(new_stack(), response_queue_prefix=longest)
    rpc.Responder(response_queue_prefix=longest)
    with pytest.raises(ValueError, match=re.escape("response_queue_prefix must be 1..48")):
        rpc.Responder(response_queue_prefix=longest + "p")


def test_a_stage_whose_stack_name_makes_too_long_a_prefix_is_told_to_set_one() -> None:
    app = App(context={"aws:cdk:bundling-stacks": []})
    with pytest.raises(InvalidPropsError) as error:
        RequestResponseStack(
            app,
            "RequestResponse",
            config=RequestResponseConfig(),
            stack_name="sqs-blueprint-integration-request-response",
        )
    assert (
        "response_queue_prefix (derived from the stack name)="
        "'sqs-blueprint-integration-request-response-reply-': is 49 characters; at most 48"
    ) in str(error.value)
    assert "set sqs-blueprint.stages.<stage>.request_response.response_queue_prefix" in str(
        error.value
    )
    stack = RequestResponseStack(
        App(context={"aws:cdk:bundling-stacks": []}),
        "RequestResponse",
        config=RequestResponseConfig(response_queue_prefix="it-reply-"),
        stack_name="sqs-blueprint-integration-request-response",
    )
    assert stack.service.response_queue_prefix == "it-reply-"


def test_config_reads_the_request_response_block() -> None:
    block = cdk_context()["sqs-blueprint"]
    config = load_stage(
        {
            **block,
            "stages": {
                "dev": {
                    "alarms_to": "none",
                    "request_response": {
                        "response_queue_prefix": "svc-reply-",
                        "function_timeout_s": 20,
                        "max_concurrency": 5,
                    },
                }
            },
        },
        "dev",
    )
    assert config.request_response == RequestResponseConfig(
        response_queue_prefix="svc-reply-",
        function_timeout_s=20,
        max_concurrency=5,
        alarms=AlarmsConfig(to="none"),
    )


def test_a_prefix_the_request_queues_names_start_with_is_refused(
    new_stack: Callable[[], Stack],
) -> None:
    names = [
        q.node.default_child.queue_name  # type: ignore[union-attr]
        for q in (build(new_stack()).requests.queue, build(new_stack()).requests.dead_letter_queue)
    ]
    prefix = names[0][:8]
    with pytest.raises(InvalidPropsError) as error:
        build(new_stack(), response_queue_prefix=prefix)
    assert (
        f"response_queue_prefix={prefix!r}: the request queue names {names} start with it, "
        "so clients could delete them and the responder could answer into them"
    ) in str(error.value)
    assert "choose a prefix that names response queues only" in str(error.value)
