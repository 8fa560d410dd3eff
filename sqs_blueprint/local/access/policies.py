"""The policies a deployed template puts in force, resolved to ARNs.

- identity policies, per role: the role's inline ``Policies``, each
  ``AWS::IAM::Policy`` and ``AWS::IAM::ManagedPolicy`` that names the role, and
  the customer managed policies in its ``ManagedPolicyArns``. An AWS managed
  policy's document is not available offline: it is listed in ``unknown`` and
  grants nothing locally;
- resource policies, per resource ARN: ``AWS::SQS::QueuePolicy``,
  ``AWS::S3::BucketPolicy``, ``AWS::SNS::TopicPolicy`` and each
  ``AWS::KMS::Key``'s ``KeyPolicy`` (a key without one gets the default key
  policy, which lets the account's IAM policies grant access:
  https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html);
- the KMS key that encrypts a queue, a topic or a bucket (``KmsMasterKeyId``,
  ``BucketEncryption`` with ``aws:kms``), whose use the service makes on the
  caller's behalf.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqs_blueprint.local.access.intrinsics import Scope, resolve

Policy = dict[str, Any]
ADMINISTRATOR = "local-administrator"  # the role of every caller that is not a deployed role
ADMINISTRATOR_POLICY: Policy = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
# The resource types whose properties hold policies, keys or encryption settings.
_READ_TYPES = {
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::KMS::Key",
    "AWS::SQS::Queue",
    "AWS::SNS::Topic",
    "AWS::S3::Bucket",
}
_RESOURCE_POLICY_TYPES = {
    "AWS::SQS::QueuePolicy": "Queues",
    "AWS::S3::BucketPolicy": "Bucket",
    "AWS::SNS::TopicPolicy": "Topics",
}


def default_key_policy(account: str) -> Policy:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }


@dataclass
class PolicySet:
    """Every policy the deployed stacks put in force in one account and region."""

    account: str
    region: str
    identity: dict[str, dict[str, Policy]] = field(default_factory=dict)  # role name -> policies
    resource: dict[str, Policy] = field(default_factory=dict)  # resource ARN -> policy
    encrypted_by: dict[str, str] = field(default_factory=dict)  # resource ARN -> key ARN
    unknown: dict[str, list[str]] = field(default_factory=dict)  # role -> managed ARNs
    _keys: dict[str, str] = field(default_factory=dict)  # key id -> key ARN

    def role_arn(self, role: str) -> str:
        return f"arn:aws:iam::{self.account}:role/{role}"

    def identity_policies(self, role: str) -> dict[str, Policy]:
        if role == ADMINISTRATOR:
            return {"AdministratorAccess": ADMINISTRATOR_POLICY}
        return self.identity.get(role, {})

    def key_arn(self, key: str) -> str:
        """A key's ARN from its id, ARN or alias (an alias stays an alias ARN)."""
        if key.startswith("arn:"):
            return key
        if key.startswith("alias/"):
            return f"arn:aws:kms:{self.region}:{self.account}:{key}"
        return self._keys.get(key, f"arn:aws:kms:{self.region}:{self.account}:key/{key}")

    def add_stack(
        self, template: Mapping[str, Any], resources: Mapping[str, str], types: Mapping[str, str]
    ) -> None:
        """Add the policies of one deployed stack (its template, logical -> physical ids)."""
        scope = Scope(
            self.account,
            self.region,
            resources,
            types,
            mappings=template.get("Mappings", {}),
        )
        declared: Mapping[str, Any] = template.get("Resources", {})
        managed: dict[str, Policy] = {}
        for logical_id, declaration in declared.items():
            rtype = declaration.get("Type", "")
            if logical_id not in resources and rtype not in _RESOURCE_POLICY_TYPES:
                continue  # not created (a false condition, or moto could not)
            if rtype not in _READ_TYPES and rtype not in _RESOURCE_POLICY_TYPES:
                continue
            props = resolve(copy.deepcopy(declaration.get("Properties", {})), scope)
            if rtype == "AWS::IAM::ManagedPolicy":
                managed[resources[logical_id]] = props["PolicyDocument"]
            self._add(logical_id, rtype, props, scope, resources)
        for logical_id, declaration in declared.items():
            if declaration.get("Type") == "AWS::IAM::Role" and logical_id in resources:
                props = resolve(declaration.get("Properties", {}), scope)
                self._attach_managed(resources[logical_id], props, managed)

    def _add(
        self,
        logical_id: str,
        rtype: str,
        props: dict[str, Any],
        scope: Scope,
        resources: Mapping[str, str],
    ) -> None:
        physical = resources.get(logical_id, "")  # moto creates no topic policy: applied here
        if rtype == "AWS::IAM::Role":
            policies = self.identity.setdefault(physical, {})
            for inline in props.get("Policies", []):
                policies[inline["PolicyName"]] = inline["PolicyDocument"]
        elif rtype in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            name = props.get("PolicyName") or physical
            for role in props.get("Roles", []):
                self.identity.setdefault(role, {})[name] = props["PolicyDocument"]
        elif rtype in _RESOURCE_POLICY_TYPES:
            targets = props.get(_RESOURCE_POLICY_TYPES[rtype])
            for target in targets if isinstance(targets, list) else [targets]:
                arn = _target_arn(rtype, str(target), scope)
                self.resource[arn] = props["PolicyDocument"]
        elif rtype == "AWS::KMS::Key":
            arn = scope.get_att(logical_id, "Arn")
            self._keys[arn.rsplit("/", 1)[-1]] = arn
            self.resource[arn] = props.get("KeyPolicy") or default_key_policy(self.account)
        self._add_encryption(logical_id, rtype, props, scope)

    def _add_encryption(
        self, logical_id: str, rtype: str, props: dict[str, Any], scope: Scope
    ) -> None:
        key: str | None = None
        if rtype in ("AWS::SQS::Queue", "AWS::SNS::Topic"):
            key = props.get("KmsMasterKeyId")
        elif rtype == "AWS::S3::Bucket":
            rules = props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
            for rule in rules:
                default = rule.get("ServerSideEncryptionByDefault", {})
                if default.get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse"):
                    key = default.get("KMSMasterKeyID") or "alias/aws/s3"
        if key and not key.startswith("alias/aws/"):  # an AWS managed key: no policy here
            self.encrypted_by[scope.get_att(logical_id, "Arn")] = self.key_arn(key)

    def _attach_managed(self, role: str, props: dict[str, Any], managed: dict[str, Policy]) -> None:
        for arn in props.get("ManagedPolicyArns", []):
            if arn in managed:
                self.identity.setdefault(role, {})[arn.rsplit("/", 1)[-1]] = managed[arn]
            else:
                self.unknown.setdefault(role, []).append(arn)


def _target_arn(rtype: str, target: str, scope: Scope) -> str:
    """The ARN a resource policy applies to, from its ``Queues``/``Bucket``/``Topics`` entry."""
    if rtype == "AWS::SQS::QueuePolicy":  # a queue URL
        return scope.arn("AWS::SQS::Queue", target) or target
    if rtype == "AWS::S3::BucketPolicy":  # a bucket name
        return f"arn:aws:s3:::{target}"
    return target  # a topic ARN


def statements(policy: Policy) -> list[dict[str, Any]]:
    found = policy.get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


def merged(policies: list[Policy]) -> Policy:
    """One document with every statement of ``policies``."""
    out: list[dict[str, Any]] = []
    for policy in policies:
        out += statements(policy)
    return {"Version": "2012-10-17", "Statement": out}
