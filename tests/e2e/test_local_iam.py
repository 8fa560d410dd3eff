"""The local cloud enforces IAM as AWS does: a grant removed from a construct fails the
handler's call with AccessDenied, and a deny added to a queue policy refuses the producer
(with the error the SDK sees from SQS)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from sqs_blueprint.local import DeployedStack, LocalCloud
from sqs_blueprint.local.runner import LocalRunner
from sqs_blueprint.producer import Message, Producer
from tests.e2e.fixtures.iam_app import build

pytestmark = pytest.mark.e2e


def _deploy(cloud: LocalCloud, outdir: Path, *, grant: bool, deny_send: bool) -> DeployedStack:
    build(str(outdir), grant=grant, deny_send=deny_send).synth()
    [stack] = cloud.deploy(outdir, update=True)
    return stack


def _wait(condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not seen within {timeout_s} s: {what}"
        time.sleep(0.1)


def test_a_grant_removed_from_the_construct_fails_the_handlers_call_with_access_denied(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    stack = _deploy(cloud, tmp_path / "no-grant.out", grant=False, deny_send=False)
    assert cloud.access is not None and cloud.access.mode == "enforce"
    bucket = stack.outputs["SeenBucket"]
    tag = uuid.uuid4().hex[:12]
    functions = [stack.outputs["FnName"]]
    denied_put = f"s3:PutObject on arn:aws:s3:::{bucket}/{tag}/"

    def refused() -> bool:
        return any(denied_put in str(d) for d in cloud.access.report().denied)  # type: ignore[union-attr]

    with LocalRunner(cloud, log_dir=tmp_path / "logs", functions=functions):
        cloud.client("sqs").send_message(
            QueueUrl=stack.outputs["JobsUrl"], MessageBody=json.dumps({"tag": tag, "action": "ok"})
        )
        _wait(refused, f"the function's {denied_put}")
    [denial] = [d for d in cloud.access.report().denied if denied_put in str(d)]
    assert denial.result == "ImplicitlyDenied"
    assert "/iam-fixture-FnServiceRole" in denial.principal  # the function's own role
    listed = cloud.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"{tag}/")
    assert listed.get("KeyCount", 0) == 0  # the call failed: nothing written


def test_a_deny_added_to_the_queue_policy_refuses_the_producer(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    stack = _deploy(cloud, tmp_path / "open.out", grant=True, deny_send=False)
    producer = Producer(stack.outputs["JobsUrl"], sqs_client=cloud.client("sqs"))
    first = producer.send_many([Message(json.dumps({"tag": "x", "action": "ok"}))])
    assert len(first.sent) == 1 and not first.failed

    stack = _deploy(cloud, tmp_path / "deny.out", grant=True, deny_send=True)
    refused = producer.send_many([Message(json.dumps({"tag": "y", "action": "ok"}))])
    assert not refused.sent
    [failed] = refused.failed
    assert "AccessDenied" in failed.error
    # What the SDK itself sees from SQS: the query-compatible code and HTTP 403.
    with pytest.raises(ClientError) as raised:
        cloud.client("sqs").send_message(QueueUrl=stack.outputs["JobsUrl"], MessageBody="z")
    error = raised.value.response
    assert error["Error"]["Code"] == "AccessDenied"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "sqs:SendMessage" in error["Error"]["Message"]
    assert "with an explicit deny" in error["Error"]["Message"]


# What each SDK sees when IAM refuses a call: the documented code and HTTP status per
# protocol (docs/aws-facts.md#iam-evaluation).
REFUSALS = [
    ("sqs", "list_queues", {}, "AccessDenied", 403),
    ("dynamodb", "list_tables", {}, "AccessDeniedException", 400),
    ("kms", "list_keys", {}, "AccessDeniedException", 400),
    ("sns", "list_topics", {}, "AuthorizationError", 403),
    ("s3", "list_buckets", {}, "AccessDenied", 403),
]


@pytest.fixture(scope="module")
def fixture_role(cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The fixture function's role (granted only s3:PutObject on its bucket)."""
    outdir = tmp_path_factory.mktemp("iam-fixture.out")
    stack = _deploy(cloud, outdir, grant=True, deny_send=False)
    role: str = cloud.client("lambda").get_function_configuration(
        FunctionName=stack.outputs["FnName"]
    )["Role"]
    return role


@pytest.mark.parametrize(("service", "operation", "kwargs", "code", "status"), REFUSALS)
def test_a_refused_call_fails_as_each_sdk_expects(
    cloud: LocalCloud,
    fixture_role: str,
    service: str,
    operation: str,
    kwargs: dict[str, str],
    code: str,
    status: int,
) -> None:
    with pytest.raises(ClientError) as raised:
        getattr(cloud.client(service, role=fixture_role), operation)(**kwargs)
    error = raised.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)
    assert fixture_role.rsplit("/", 1)[-1] in error["Error"].get("Message", "")
