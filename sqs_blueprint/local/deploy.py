"""Deploy a synthesized cloud assembly into the local cloud, the way ``cdk deploy`` does.

1. publish each stack's file assets to the bucket and key its asset manifest
   names (directories zipped), creating the bootstrap bucket if needed;
2. drop what only a bootstrapped AWS account can answer: the
   ``BootstrapVersion`` parameter and the ``CheckBootstrapVersion`` rule;
3. create the stack through moto's CloudFormation and wait for it, or, when it
   exists and ``update`` is asked for, update it in place (``update_stack``);
4. report outputs, physical ids, and what moto did not apply (docs/aws-facts.md#local-cloud).

moto's ``update_stack`` never replaces a resource: a changed queue is updated in
place and keeps its messages, but only its ``VisibilityTimeout`` and
``ReceiveMessageWaitTimeSeconds`` change; any other changed queue property is
reported as not applied (restarting the local cloud recreates the queue, empty).
A resource removed from the template is deleted, as CloudFormation does.
"""

from __future__ import annotations

import copy
import io
import json
import time
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from sqs_blueprint.errors import SqsBlueprintError
from sqs_blueprint.local.access.control import APPLIED as ACCESS_APPLIED
from sqs_blueprint.local.alarm_defs import ALARM_TYPE, not_evaluated
from sqs_blueprint.local.aliases import ALIAS, inline_aliases
from sqs_blueprint.local.aliases import EFFECT as ALIAS_EFFECT
from sqs_blueprint.local.assembly import Assembly, FileAsset, StackArtifact
from sqs_blueprint.local.inputs import CREATED_HERE as INPUTS_CREATED_HERE
from sqs_blueprint.local.inputs import apply_inputs

if TYPE_CHECKING:
    from sqs_blueprint.local.server import LocalCloud

_CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
_WAIT_S = 120.0

# What moto accepts but does not apply (docs/aws-facts.md#local-cloud), by resource type and, when
# only one property is ignored, that property.
_NOT_APPLIED: dict[tuple[str, str | None], str] = {
    ("AWS::SQS::QueuePolicy", None): "queue policies are stored, not enforced",
    ("AWS::SQS::Queue", "RedriveAllowPolicy"): "any queue may use the DLQ (not enforced)",
    ("AWS::SQS::Queue", "KmsMasterKeyId"): "messages are not encrypted with the KMS key",
    ("AWS::S3::BucketPolicy", None): "bucket policies are stored, not enforced",
    ("AWS::S3::Bucket", "LifecycleConfiguration"): "lifecycle rules never expire objects",
    ("AWS::S3::Bucket", "PublicAccessBlockConfiguration"): "public access block not applied",
    ("AWS::DynamoDB::Table", "TimeToLiveSpecification"): "TTL never deletes items",
    ("AWS::DynamoDB::Table", "ProvisionedThroughput"): "capacity is not enforced (no throttling)",
    ("AWS::IAM::Role", None): "IAM permissions are not enforced",
    ("AWS::IAM::Policy", None): "IAM permissions are not enforced",
    ("AWS::Lambda::Function", "Layers"): "layers are not loaded; runtimes use local packages",
    ("AWS::Lambda::Function", "ReservedConcurrentExecutions"): "reserved concurrency ignored",
    ("AWS::Lambda::EventSourceMapping", "ProvisionedPollerConfig"): "pollers not kept warm",
}
# Types the local cloud applies itself, not moto's CloudFormation: alarms are evaluated
# by the alarm watch (alarm_watch.py), which reports the ones it cannot evaluate.
_LOCAL_TYPES = {ALARM_TYPE}
# Resource types whose absence after creation is expected, not worth reporting.
_QUIET_TYPES = {"AWS::CDK::Metadata"}
# The queue properties moto's CloudFormation applies to an existing queue.
_QUEUE_UPDATABLE = {"VisibilityTimeout", "ReceiveMessageWaitTimeSeconds"}
# S3 object metadata naming the local directory a published code zip was made from.
SOURCE_METADATA = "local-source"


class DeployError(SqsBlueprintError):
    """A stack could not be created in the local cloud."""


@dataclass(frozen=True)
class Skipped:
    """A feature of the template that the local cloud does not apply."""

    feature: str  # "AWS::S3::Bucket.LifecycleConfiguration" or a resource type
    effect: str
    logical_ids: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.feature}: {self.effect} ({', '.join(self.logical_ids)})"


@dataclass(frozen=True)
class DeployedStack:
    name: str  # the CloudFormation stack name
    artifact_id: str  # the construct id in the app, e.g. "WriteBuffer"
    outputs: dict[str, str]
    resources: dict[str, str]  # logical id -> physical id
    resource_types: dict[str, str]  # logical id -> resource type
    skipped: tuple[Skipped, ...] = field(default=())
    action: str = "created"  # "created", "updated" or "unchanged"
    changes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # Add/Modify/Remove

    def physical_ids(self, resource_type: str) -> list[str]:
        """Physical ids of every resource of ``resource_type``, e.g. ``AWS::SQS::Queue``."""
        return [self.resources[lid] for lid, t in self.resource_types.items() if t == resource_type]


def deploy_assembly(
    cloud: LocalCloud, assembly: Assembly, *, update: bool = False
) -> list[DeployedStack]:
    """Publish assets and create every stack of ``assembly``, dependencies first;
    with ``update``, a stack that exists already is updated in place instead."""
    existing = _stack_names(cloud) if update else set()
    deployed = []
    for stack in assembly.stacks:
        publish_assets(cloud, stack)
        if stack.stack_name in existing:
            done = _with_inputs(cloud, stack, _update(cloud, stack))
        else:
            done = _with_inputs(cloud, stack, _create(cloud, stack))
        deployed.append(_with_access(cloud, stack, done))
    names = {d.name for d in deployed}
    cloud.deployed[:] = [d for d in cloud.deployed if d.name not in names] + deployed
    return deployed


def _with_inputs(cloud: LocalCloud, stack: StackArtifact, done: DeployedStack) -> DeployedStack:
    """``done`` after the producer inputs moto's CloudFormation skips are applied."""
    notes = apply_inputs(cloud, stack.template, done.resources)
    if not notes:
        return done
    kept = tuple(s for s in done.skipped if s.feature != INPUTS_CREATED_HERE)
    return replace(done, skipped=kept + tuple(Skipped(*note) for note in notes))


def _with_access(cloud: LocalCloud, stack: StackArtifact, done: DeployedStack) -> DeployedStack:
    """``done`` with its policies put in force by the local cloud's IAM check, if it has one."""
    if cloud.access is None or cloud.access.mode == "off":
        return done
    cloud.access.add_stack(done.name, stack.template, done.resources, done.resource_types)
    return replace(done, skipped=tuple(s for s in done.skipped if s.feature not in ACCESS_APPLIED))


def _stack_names(cloud: LocalCloud) -> set[str]:
    cfn = cloud.client("cloudformation")
    return {
        s["StackName"]
        for page in cfn.get_paginator("describe_stacks").paginate()
        for s in page["Stacks"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    }


def publish_assets(cloud: LocalCloud, stack: StackArtifact) -> None:
    """Upload each file asset of ``stack`` where its asset manifest says."""
    s3 = cloud.client("s3")
    buckets: set[str] = set()
    for asset in stack.assets:
        body = _package(asset)
        for bucket_template, key_template in asset.destinations:
            bucket = _resolve(cloud, bucket_template)
            key = _resolve(cloud, key_template)
            if bucket not in buckets:
                _ensure_bucket(cloud, s3, bucket)
                buckets.add(bucket)
            code_dir = asset.packaging == "zip" and asset.is_directory
            # The source directory travels with the object, so that a runner in
            # another process (``local up`` after ``local deploy``) finds the code.
            metadata = {SOURCE_METADATA: str(asset.source)} if code_dir else {}
            s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata=metadata)
            if code_dir:
                cloud.code_dirs[key] = asset.source


def prepare_template(template: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``template`` that moto can create: without the bootstrap version
    check it cannot answer, and with KMS key tags in the shape moto 5.2 reads."""
    out = copy.deepcopy(template)
    for section, name in (("Parameters", "BootstrapVersion"), ("Rules", "CheckBootstrapVersion")):
        entries = out.get(section, {})
        entries.pop(name, None)
        if section in out and not entries:
            del out[section]
    _drop_custom_resources(out)
    inline_aliases(out)
    for resource in out.get("Resources", {}).values():
        if resource.get("Type") == "AWS::KMS::Key":
            # moto's KMS CloudFormation handler expects TagKey/TagValue (KeyError on Key).
            props = resource.get("Properties", {})
            props["Tags"] = [
                {"TagKey": t["Key"], "TagValue": t["Value"]} for t in props.get("Tags", [])
            ]
    return out


def is_custom_resource(resource_type: str) -> bool:
    return resource_type.startswith("Custom::") or (
        resource_type == "AWS::CloudFormation::CustomResource"
    )


def _drop_custom_resources(template: dict[str, Any]) -> None:
    """Remove custom resources: their providers are Lambda functions moto would run in
    Docker and wait for forever. One whose value another resource reads is an error."""
    resources: dict[str, Any] = template.get("Resources", {})
    custom = {lid for lid, r in resources.items() if is_custom_resource(r.get("Type", ""))}
    for lid in custom:
        del resources[lid]
    for resource in resources.values():
        depends = resource.get("DependsOn")
        if isinstance(depends, list):
            resource["DependsOn"] = [d for d in depends if d not in custom]
        elif depends in custom:
            del resource["DependsOn"]
    text = json.dumps(template)
    for lid in custom:  # {"Ref": id} or {"Fn::GetAtt": [id, ...]}
        if f'{{"Ref": "{lid}"}}' in text or f'"Fn::GetAtt": ["{lid}", ' in text:
            raise DeployError(f"custom resource {lid} cannot run locally and its value is used")


def not_applied(template: dict[str, Any], created: set[str] | None = None) -> tuple[Skipped, ...]:
    """What of ``template`` the local cloud does not apply, from its resource types and
    properties; with ``created`` (logical ids), also the resources moto did not create."""
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for logical_id, resource in template.get("Resources", {}).items():
        rtype = resource.get("Type", "")
        props = resource.get("Properties", {})
        if is_custom_resource(rtype):
            found[(rtype, "custom resource not run locally")].append(logical_id)
            continue
        if rtype == ALIAS:
            found[(rtype, ALIAS_EFFECT)].append(logical_id)
            continue
        if rtype in _LOCAL_TYPES:
            continue
        if created is not None and logical_id not in created:
            if rtype not in _QUIET_TYPES and "Condition" not in resource:
                found[(rtype, "not created by moto's CloudFormation")].append(logical_id)
            continue
        if (rtype, None) in _NOT_APPLIED:
            found[(rtype, _NOT_APPLIED[(rtype, None)])].append(logical_id)
        for prop in props:
            if (rtype, prop) in _NOT_APPLIED:
                found[(f"{rtype}.{prop}", _NOT_APPLIED[(rtype, prop)])].append(logical_id)
    for logical_id, reason in not_evaluated(template).items():
        found[(ALARM_TYPE, f"not evaluated locally: {reason}")].append(logical_id)
    return tuple(Skipped(feature, effect, tuple(ids)) for (feature, effect), ids in found.items())


def _create(cloud: LocalCloud, stack: StackArtifact) -> DeployedStack:
    cfn = cloud.client("cloudformation")
    try:
        cfn.create_stack(
            StackName=stack.stack_name,
            TemplateBody=json.dumps(prepare_template(stack.template)),
            Capabilities=_CAPABILITIES,
        )
    except (ClientError, BotoCoreError) as exc:  # a moto crash arrives as an HTML page
        raise DeployError(f"stack {stack.stack_name} ({stack.artifact_id}): {exc}") from exc
    return _deployed(cfn, stack, _wait(cfn, stack.stack_name))


def _update(cloud: LocalCloud, stack: StackArtifact) -> DeployedStack:
    """Update an existing stack in place; report the queue changes moto cannot apply."""
    cfn = cloud.client("cloudformation")
    new = prepare_template(stack.template)
    old = cfn.get_template(StackName=stack.stack_name)["TemplateBody"]
    old = json.loads(old) if isinstance(old, str) else old
    changes = template_changes(old, new)
    if not any(changes.values()):
        described = cfn.describe_stacks(StackName=stack.stack_name)["Stacks"][0]
        return _deployed(cfn, stack, described, action="unchanged")
    try:
        cfn.update_stack(
            StackName=stack.stack_name, TemplateBody=json.dumps(new), Capabilities=_CAPABILITIES
        )
    except (ClientError, BotoCoreError) as exc:
        raise DeployError(f"stack {stack.stack_name} ({stack.artifact_id}): {exc}") from exc
    described = _wait(cfn, stack.stack_name)
    kept = queue_changes_not_applied(old, new)
    return _deployed(cfn, stack, described, action="updated", changes=changes, kept=kept)


def template_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """Logical ids added, modified and removed from ``old`` to ``new``."""
    before, after = old.get("Resources", {}), new.get("Resources", {})
    return {
        "Add": tuple(sorted(set(after) - set(before))),
        "Modify": tuple(sorted(k for k in after if k in before and after[k] != before[k])),
        "Remove": tuple(sorted(set(before) - set(after))),
    }


def queue_changes_not_applied(old: dict[str, Any], new: dict[str, Any]) -> tuple[Skipped, ...]:
    """The changed properties of queues that moto's update leaves as they were."""
    found: dict[str, list[str]] = defaultdict(list)
    before = old.get("Resources", {})
    for logical_id, resource in new.get("Resources", {}).items():
        previous = before.get(logical_id)
        if resource.get("Type") != "AWS::SQS::Queue" or previous is None:
            continue
        was, now = previous.get("Properties", {}), resource.get("Properties", {})
        for prop in sorted((set(was) | set(now)) - _QUEUE_UPDATABLE):
            if was.get(prop) != now.get(prop):
                found[prop].append(logical_id)
    effect = (
        "changed, but not applied: the local cloud updates a queue in place and keeps "
        "its messages; stop and start `local up` to recreate it (empty) with the change"
    )
    return tuple(
        Skipped(f"AWS::SQS::Queue.{prop}", effect, tuple(ids)) for prop, ids in found.items()
    )


def _deployed(
    cfn: Any,
    stack: StackArtifact,
    described: dict[str, Any],
    *,
    action: str = "created",
    changes: dict[str, tuple[str, ...]] | None = None,
    kept: tuple[Skipped, ...] = (),
) -> DeployedStack:
    # moto lists a resource it could not create as a row without ids.
    rows = [
        r
        for r in cfn.describe_stack_resources(StackName=stack.stack_name)["StackResources"]
        if r.get("LogicalResourceId")
    ]
    resources = {r["LogicalResourceId"]: r.get("PhysicalResourceId", "") for r in rows}
    return DeployedStack(
        name=stack.stack_name,
        artifact_id=stack.artifact_id,
        outputs={o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
        resources=resources,
        resource_types={r["LogicalResourceId"]: r["ResourceType"] for r in rows},
        skipped=not_applied(stack.template, set(resources)) + kept,
        action=action,
        changes=changes or {},
    )


def _wait(cfn: Any, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + _WAIT_S
    while True:
        described: dict[str, Any] = cfn.describe_stacks(StackName=name)["Stacks"][0]
        status = described["StackStatus"]
        if status in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            return described
        if not status.endswith("_IN_PROGRESS"):
            reasons = [
                f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}"
                for e in cfn.describe_stack_events(StackName=name)["StackEvents"]
                if e.get("ResourceStatus", "").endswith("FAILED")
            ]
            raise DeployError(f"stack {name} ended in {status}: {'; '.join(reasons) or '?'}")
        if time.monotonic() > deadline:
            raise DeployError(f"stack {name} still {status} after {_WAIT_S:.0f} s")
        time.sleep(0.2)


def _package(asset: FileAsset) -> bytes:
    if not asset.source.exists():
        raise DeployError(f"asset {asset.asset_id}: {asset.source} is missing; run `make synth`")
    if not asset.is_directory:
        return asset.source.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(asset.source.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(asset.source).as_posix())
    return buffer.getvalue()


def _resolve(cloud: LocalCloud, text: str) -> str:
    return (
        text.replace("${AWS::AccountId}", cloud.account_id)
        .replace("${AWS::Region}", cloud.region)
        .replace("${AWS::Partition}", "aws")
    )


def _ensure_bucket(cloud: LocalCloud, s3: Any, bucket: str) -> None:
    kwargs: dict[str, Any] = {}
    if cloud.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": cloud.region}
    try:
        s3.create_bucket(Bucket=bucket, **kwargs)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise
