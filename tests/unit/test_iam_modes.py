"""The IAM check's modes at the server: enforce answers a denied call with the service's
AccessDenied and never reaches the service; audit lets it through and reports it."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from sqs_blueprint.errors import UsageError
from sqs_blueprint.local.access import AccessControl, mode_from

ACCOUNT = "123456789012"
QUEUE_URL = f"http://127.0.0.1:5000/{ACCOUNT}/work"
TEMPLATE = {
    "Resources": {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
        "Grant": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "PolicyName": "Grant",
                "Roles": [{"Ref": "Role"}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "sqs:ReceiveMessage",
                            "Resource": {"Fn::GetAtt": ["Queue", "Arn"]},
                        }
                    ],
                },
            },
        },
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
    }
}
RESOURCES = {"Role": "consumer-role", "Grant": "Grant", "Queue": QUEUE_URL}
TYPES = {"Role": "AWS::IAM::Role", "Grant": "AWS::IAM::Policy", "Queue": "AWS::SQS::Queue"}


def _environ(operation: str, access_key: str) -> dict[str, Any]:
    body = json.dumps({"QueueUrl": QUEUE_URL, "MessageBody": "x"}).encode()
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "HTTP_X_AMZ_TARGET": f"AmazonSQS.{operation}",
        "HTTP_AUTHORIZATION": (
            f"AWS4-HMAC-SHA256 Credential={access_key}/20261204/us-east-1/sqs/aws4_request, "
            "SignedHeaders=host, Signature=0"
        ),
    }


class _Service:
    """Stands for moto: records that a request reached it."""

    def __init__(self) -> None:
        self.served: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.served.append(environ["HTTP_X_AMZ_TARGET"])
        start_response("200 OK", [])
        return [b"{}"]


def _call(
    control: AccessControl, service: _Service, operation: str, key: str
) -> tuple[str, dict[str, str], bytes]:
    answered: list[Any] = []
    body = b"".join(
        control.wsgi(service)(
            _environ(operation, key), lambda s, h, *_: answered.append((s, dict(h)))
        )
    )
    status, headers = answered[0]
    return status, headers, body


@pytest.fixture(params=["enforce", "audit"])
def control(request: pytest.FixtureRequest) -> Iterator[AccessControl]:
    started = AccessControl(ACCOUNT, "us-east-1", request.param)
    started.add_stack("stack", TEMPLATE, RESOURCES, TYPES)
    yield started
    started.close()


def test_a_granted_call_reaches_the_service_in_both_modes(control: AccessControl) -> None:
    service = _Service()
    status, _, _ = _call(control, service, "ReceiveMessage", "consumer-role")
    assert (status, service.served) == ("200 OK", ["AmazonSQS.ReceiveMessage"])
    report = control.report()
    assert (report.calls_checked, report.denied_calls) == (1, 0)
    assert report.unused_grants == 0  # its only grant was used


def test_a_denied_call_is_refused_in_enforce_and_reported_in_audit(control: AccessControl) -> None:
    service = _Service()
    status, headers, body = _call(control, service, "SendMessage", "consumer-role")
    if control.mode == "enforce":
        assert status == "403 Forbidden" and service.served == []
        assert headers["x-amzn-query-error"] == "AccessDenied;Sender"
        assert "sqs:SendMessage" in json.loads(body)["message"]
    else:
        assert status == "200 OK" and service.served == ["AmazonSQS.SendMessage"]
    [(denial, count)] = control.report().denied.items()
    assert count == 1
    assert denial.principal == f"arn:aws:sts::{ACCOUNT}:assumed-role/consumer-role/local"
    assert (denial.action, denial.resource) == (
        "sqs:SendMessage",
        f"arn:aws:sqs:us-east-1:{ACCOUNT}:work",
    )
    assert control.report().unused_grants == 1  # ReceiveMessage, never called


def test_any_other_key_is_the_account_administrator(control: AccessControl) -> None:
    service = _Service()
    status, _, _ = _call(control, service, "SendMessage", "testing")
    assert status == "200 OK" and control.report().denied_calls == 0


def test_an_unknown_mode_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="IAM mode 'strict' is not one of enforce, audit, off"):
        mode_from("strict")
