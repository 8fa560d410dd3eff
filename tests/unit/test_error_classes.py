"""Which AWS errors are worth a retry: every code the classifiers name, and some they don't.

DynamoDB (docs/aws-facts.md#dynamodb): throttling is backpressure, a 5xx or a dropped
connection a fault that may pass; anything else is the request's own fault. S3 reads of
offloaded payloads (docs/aws-facts.md#extended-client-wire-format): a missing object, a
refusal, or a fault that may pass (SlowDown, 5xx, a timeout, the network).
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

from sqs_blueprint.batch_write import error_code, error_reason, transient
from sqs_blueprint.items import ItemError, to_item
from sqs_blueprint.payload import (
    PayloadNotFound,
    PayloadStore,
    PayloadUnavailable,
    S3Pointer,
)
from sqs_blueprint.upsert import Upserter
from tests.unit.tables import create_table

URL = "https://example.invalid"


def aws_error(code: str | None, status: int | None, message: str = "says AWS") -> ClientError:
    response: dict[str, Any] = {}
    if code is not None:
        response["Error"] = {"Code": code, "Message": message}
    if status is not None:
        response["ResponseMetadata"] = {"HTTPStatusCode": status}
    return ClientError(response, "AnOperation")


# ---------------------------------------------------------------- DynamoDB

DYNAMODB = [
    # (code, HTTP status, why it is retried or "")
    ("ProvisionedThroughputExceededException", 400, "throttled"),
    ("ThrottlingException", 400, "throttled"),
    ("RequestLimitExceeded", 400, "throttled"),
    ("ThrottlingException", None, "throttled"),
    ("InternalServerError", 500, "service error"),
    ("InternalServerError", None, "service error"),  # the code alone says it
    ("ServiceUnavailable", 503, "service error"),
    ("ServiceUnavailable", 400, "service error"),
    ("SomethingNew", 500, "service error"),  # any 5xx
    ("SomethingNew", 599, "service error"),
    ("SomethingNew", 499, ""),
    ("ValidationException", 400, ""),
    ("ConditionalCheckFailedException", 400, ""),
    ("ResourceNotFoundException", 400, ""),
    ("AccessDeniedException", 400, ""),
    ("ItemCollectionSizeLimitExceededException", 400, ""),
    ("TransactionConflictException", 400, ""),
    ("RequestTimeout", 400, ""),  # an S3 code: DynamoDB's retries are by the codes above
    ("throttlingexception", 400, ""),  # codes are case-sensitive
    (None, None, ""),
    (None, 500, "service error"),
]


@pytest.mark.parametrize(("code", "status", "why"), DYNAMODB)
def test_dynamodb_client_errors(code: str | None, status: int | None, why: str) -> None:
    assert transient(aws_error(code, status)) == why
    assert error_code(aws_error(code, status)) == (code or "")


@pytest.mark.parametrize(
    ("error", "why"),
    [
        (EndpointConnectionError(endpoint_url=URL), "network error"),
        (ConnectTimeoutError(endpoint_url=URL), "network error"),
        (ReadTimeoutError(endpoint_url=URL), "network error"),
        (ConnectionClosedError(endpoint_url=URL), "network error"),
        (ParamValidationError(report="Invalid type for parameter Item"), ""),
        (NoCredentialsError(), ""),
        (BotoCoreError(), ""),
        (ValueError("not AWS"), ""),
        (ItemError("not AWS"), ""),
    ],
)
def test_errors_that_are_not_aws_answers(error: Exception, why: str) -> None:
    assert transient(error) == why
    assert error_code(error) == ""


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (aws_error("ValidationException", 400, "bad item"), "ValidationException: bad item"),
        (aws_error(None, 500), "Error: "),
        (ItemError("body is not valid JSON"), "body is not valid JSON"),
        (ValueError("odd"), "ValueError: odd"),
        (EndpointConnectionError(endpoint_url=URL), f"EndpointConnectionError: "
         f'Could not connect to the endpoint URL: "{URL}"'),
    ],
)  # fmt: skip
def test_error_reasons(error: Exception, reason: str) -> None:
    assert error_reason(error) == reason


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _fail_once(client: Any, operation: str, error: Exception) -> None:
    pending = [error]

    def hook(**_: Any) -> None:
        if pending:
            raise pending.pop()

    client.meta.events.register(f"before-call.dynamodb.{operation}", hook)


@pytest.fixture
def ddb(aws: None) -> Any:
    client = boto3.client("dynamodb", config=Config(retries={"total_max_attempts": 1}))
    create_table(client, "t")
    return client


WRITES = [
    (aws_error("ThrottlingException", 400), True, ""),
    (aws_error("RequestLimitExceeded", 400), True, ""),
    (aws_error("ProvisionedThroughputExceededException", 400), True, ""),
    (aws_error("InternalServerError", 500), True, ""),
    (ReadTimeoutError(endpoint_url=URL), True, ""),
    (aws_error("ValidationException", 400, "bad"), False, "ValidationException: bad"),
    (aws_error("AccessDeniedException", 400, "no"), False, "AccessDeniedException: no"),
    (ParamValidationError(report="bad"), False,
     "ParamValidationError: Parameter validation failed:\nbad"),
]  # fmt: skip


@pytest.mark.parametrize(("error", "retried", "reason"), WRITES)
def test_put_many_retries_only_transient_errors(
    ddb: Any, error: Exception, retried: bool, reason: str
) -> None:
    _fail_once(ddb, "BatchWriteItem", error)
    t = Clock()
    up = Upserter("t", dynamodb_client=ddb, clock=t.clock, sleep=t.sleep, jitter=lambda: 1.0)
    result = up.put_many([to_item({"id": 1})])
    if retried:
        assert (result.written, result.failed, t.slept) == (1, {}, [0.05])
    else:
        assert (result.written, result.failed, t.slept) == (0, {0: reason}, [])
    assert len(ddb.scan(TableName="t")["Items"]) == result.written


@pytest.mark.parametrize(("error", "retried", "reason"), WRITES)
def test_put_versioned_retries_only_transient_errors(
    ddb: Any, error: Exception, retried: bool, reason: str
) -> None:
    _fail_once(ddb, "PutItem", error)
    t = Clock()
    up = Upserter("t", dynamodb_client=ddb, clock=t.clock, sleep=t.sleep, jitter=lambda: 1.0)
    result = up.put_versioned([to_item({"id": 1, "v": 1}, ["id"])], "v")
    if retried:
        assert (result.written, result.failed, t.slept) == (1, {}, [0.05])
    else:
        assert (result.written, result.failed, t.slept) == (0, {0: reason}, [])


# ---------------------------------------------------------------- S3 payload reads

S3 = [
    # (code, HTTP status, the error raised, transient)
    ("NoSuchKey", 404, PayloadNotFound, None),
    ("NoSuchBucket", 404, PayloadNotFound, None),
    ("NotFound", 404, PayloadNotFound, None),
    ("404", 404, PayloadNotFound, None),
    ("AccessDenied", 403, PayloadUnavailable, False),
    ("403", 403, PayloadUnavailable, False),
    ("Forbidden", 403, PayloadUnavailable, False),
    ("AllAccessDisabled", 403, PayloadUnavailable, False),
    ("SlowDown", 503, PayloadUnavailable, True),
    ("SlowDown", None, PayloadUnavailable, True),  # the code alone says it
    ("InternalError", 500, PayloadUnavailable, True),
    ("InternalError", None, PayloadUnavailable, True),
    ("ServiceUnavailable", 503, PayloadUnavailable, True),
    ("ServiceUnavailable", None, PayloadUnavailable, True),
    ("RequestTimeout", 400, PayloadUnavailable, True),  # S3 answers it with HTTP 400
    ("503", None, PayloadUnavailable, True),
    ("500", None, PayloadUnavailable, True),
    ("SomethingNew", 500, PayloadUnavailable, True),  # any 5xx
    ("SomethingNew", 502, PayloadUnavailable, True),
    ("SomethingNew", 499, PayloadUnavailable, False),
    ("InvalidObjectState", 403, PayloadUnavailable, False),
    ("InvalidRequest", 400, PayloadUnavailable, False),
    ("slowdown", 400, PayloadUnavailable, False),  # codes are case-sensitive
]


@pytest.fixture
def s3(aws: None) -> Any:
    client = boto3.client("s3", config=Config(retries={"total_max_attempts": 1}))
    client.create_bucket(Bucket="payloads")
    client.put_object(Bucket="payloads", Key="k", Body=b"body")
    return client


def _fail_get(s3: Any, error: Exception) -> None:
    def hook(**_: Any) -> None:
        raise error

    s3.meta.events.register("before-call.s3.GetObject", hook)


@pytest.mark.parametrize(("code", "status", "kind", "retry"), S3)
def test_s3_read_errors(
    s3: Any, code: str, status: int | None, kind: type[Exception], retry: bool | None
) -> None:
    _fail_get(s3, aws_error(code, status, "says S3"))
    with pytest.raises(kind) as raised:
        PayloadStore("payloads", s3_client=s3).fetch(S3Pointer("payloads", "k"))
    text = str(raised.value)
    assert text.startswith("payload s3://payloads/k ")
    if kind is PayloadNotFound:
        assert text == (
            "payload s3://payloads/k does not exist "
            "(deleted, or expired by the bucket's lifecycle rule)"
        )
        return
    assert isinstance(raised.value, PayloadUnavailable)
    assert raised.value.transient is retry
    assert f"could not be read: {code}: says S3" in text
    assert text.endswith("the message returns to the queue and is retried") is retry
    assert ("grant s3:GetObject" in text) is (code in {"AccessDenied", "403", "Forbidden",
                                                        "AllAccessDisabled"})  # fmt: skip


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (EndpointConnectionError(endpoint_url=URL), True),
        (ConnectTimeoutError(endpoint_url=URL), True),
        (ReadTimeoutError(endpoint_url=URL), True),
        (ConnectionClosedError(endpoint_url=URL), True),
        (ParamValidationError(report="Invalid bucket name"), False),
    ],
)
def test_s3_errors_that_are_not_aws_answers(s3: Any, error: Exception, retry: bool) -> None:
    _fail_get(s3, error)
    with pytest.raises(PayloadUnavailable) as raised:
        PayloadStore("payloads", s3_client=s3).fetch(S3Pointer("payloads", "k"))
    assert raised.value.transient is retry
    text = str(raised.value)
    assert text.endswith("the message returns to the queue and is retried") is retry
    verb = "could not be read" if retry else "cannot be read"
    assert text.startswith(f"payload s3://payloads/k {verb}: ")
    assert "\n" not in text  # one line, even for botocore's multi-line reports
