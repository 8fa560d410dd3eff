"""The local runner applies a mapping's FilterCriteria as Lambda does: unmatched
records are deleted without an invocation, matched ones reach the function."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from pathlib import Path
from urllib.parse import urlparse

import pytest

from sqs_blueprint.filters import FilterPatternError
from sqs_blueprint.local import DeployedStack, LocalCloud
from sqs_blueprint.local.runner import LocalRunner, discover_mappings
from tests.e2e.grants import let_consume

pytestmark = pytest.mark.e2e

PATTERNS = [
    {"body": {"action": ["ok"], "i": [{"numeric": ["<", 3]}]}},
    {"body": {"kind": [{"prefix": "keep"}]}},
]


def _code_key(lam: object, name: str) -> str:
    location = lam.get_function(FunctionName=name)["Code"]["Location"]  # type: ignore[attr-defined]
    return urlparse(location).path.lstrip("/")


def _filtered_consumer(cloud: LocalCloud, deployed: DeployedStack, tag: str) -> tuple[str, str]:
    """A new queue and a copy of fixture function A, mapped with PATTERNS."""
    lam, sqs = cloud.client("lambda"), cloud.client("sqs")
    source = lam.get_function(FunctionName=deployed.outputs["FnAName"])["Configuration"]
    name = f"filtered-{tag}"
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("handler.py", "")  # the runner runs fixture A's directory
    lam.create_function(
        FunctionName=name,
        Runtime=source["Runtime"],
        Role=source["Role"],
        Handler=source["Handler"],
        Code={"ZipFile": archive.getvalue()},
        Timeout=source["Timeout"],
        Environment=source["Environment"],
    )
    cloud.code_dirs[_code_key(lam, name)] = cloud.code_dirs[_code_key(lam, source["FunctionName"])]
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "2"})["QueueUrl"]
    lam.create_event_source_mapping(
        EventSourceArn=let_consume(sqs, url, source["Role"]),
        FunctionName=name,
        BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        FilterCriteria={"Filters": [{"Pattern": json.dumps(p)} for p in PATTERNS]},
    )
    return name, url


def test_unmatched_records_are_deleted_unseen(
    cloud: LocalCloud, deployed: DeployedStack, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:12]
    name, url = _filtered_consumer(cloud, deployed, tag)
    sqs = cloud.client("sqs")
    bodies = [json.dumps({"tag": tag, "action": "ok", "i": i}) for i in range(6)]
    bodies += [json.dumps({"tag": tag, "action": "ok", "i": 9, "kind": "keep-me"}), "not json"]
    ids = [sqs.send_message(QueueUrl=url, MessageBody=b)["MessageId"] for b in bodies]

    with LocalRunner(cloud, functions=[name], log_dir=tmp_path) as runner:
        stats = runner.drain(30)
    assert stats.drained

    s3 = cloud.client("s3")
    listed = s3.list_objects_v2(Bucket=deployed.outputs["SeenBucket"], Prefix=f"{tag}/")
    seen = {o["Key"].split("/", 1)[1] for o in listed.get("Contents", [])}
    delivered = {key.rsplit("-", 1)[0] for key in seen if not key.startswith("context-")}
    # i < 3 match the first filter, "keep-me" the second; i = 3..5 and the
    # non-JSON body match none and are deleted without an invocation.
    assert delivered == {ids[0], ids[1], ids[2], ids[6]}
    function = stats.functions[name]
    assert (function.filtered, function.records, function.deleted) == (4, 4, 4)
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert attributes == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }


def test_a_pattern_the_local_cloud_cannot_apply_is_refused(
    cloud: LocalCloud, deployed: DeployedStack
) -> None:
    lam, sqs = cloud.client("lambda"), cloud.client("sqs")
    tag = uuid.uuid4().hex[:12]
    url = sqs.create_queue(QueueName=f"suffix-{tag}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    mapping = lam.create_event_source_mapping(
        EventSourceArn=arn["QueueArn"],
        FunctionName=deployed.outputs["FnBName"],
        FilterCriteria={"Filters": [{"Pattern": '{"body": {"f": [{"suffix": ".png"}]}}'}]},
    )
    try:
        with pytest.raises(FilterPatternError) as error:
            discover_mappings(cloud)
        assert "matcher 'suffix' is not supported" in str(error.value)
    finally:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])
        sqs.delete_queue(QueueUrl=url)


def test_provisioned_mode_runs_up_to_maximum_pollers_x_10(
    cloud: LocalCloud, deployed: DeployedStack
) -> None:
    lam, sqs = cloud.client("lambda"), cloud.client("sqs")
    url = sqs.create_queue(QueueName=f"pollers-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    mapping = lam.create_event_source_mapping(
        EventSourceArn=arn["QueueArn"],
        FunctionName=deployed.outputs["FnBName"],
        ProvisionedPollerConfig={"MinimumPollers": 2, "MaximumPollers": 3},
    )
    try:
        found = {m.uuid: m for m in discover_mappings(cloud, max_pollers=100)}
        assert found[mapping["UUID"]].concurrency == 30
        capped = {m.uuid: m for m in discover_mappings(cloud, max_pollers=10)}
        assert capped[mapping["UUID"]].concurrency == 10
    finally:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])
        sqs.delete_queue(QueueUrl=url)
