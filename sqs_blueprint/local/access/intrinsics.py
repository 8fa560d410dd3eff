"""Resolve the intrinsic functions of a deployed template's policy documents.

moto's CloudFormation resolves a template's intrinsics when it creates the
resources, but it keeps no queue, bucket or topic policy and replaces a key's
policy with its default, so the access check reads the policies from the
template and resolves them here, with the physical ids moto gave each resource
and the ARN formats AWS documents for each type
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html).
A reference this module cannot resolve becomes ``unresolved:<what>``: a value no
request matches, so a policy that needs it grants nothing rather than too much.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


@dataclass(frozen=True)
class Scope:
    """What a template's references resolve against."""

    account: str
    region: str
    resources: Mapping[str, str]  # logical id -> physical id
    types: Mapping[str, str]  # logical id -> resource type
    exports: Mapping[str, str] = field(default_factory=dict)
    mappings: Mapping[str, Any] = field(default_factory=dict)

    def pseudo(self, name: str) -> str | None:
        return {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }.get(name, f"unresolved:{name}")

    def ref(self, logical_id: str) -> str | None:
        if logical_id.startswith("AWS::"):
            return self.pseudo(logical_id)
        physical = self.resources.get(logical_id)
        if physical is None:
            return f"unresolved:{logical_id}"
        if self.types.get(logical_id) == "AWS::KMS::Key":
            return physical.rsplit("/", 1)[-1]  # Ref of a key: its id
        return physical

    def get_att(self, logical_id: str, attribute: str) -> str:
        physical = self.resources.get(logical_id)
        if physical is None:
            return f"unresolved:{logical_id}.{attribute}"
        arn = self.arn(self.types.get(logical_id, ""), physical)
        if attribute == "Arn" and arn is not None:
            return arn
        if attribute == "QueueName":
            return physical.rsplit("/", 1)[-1]
        if attribute in ("QueueUrl", "TopicArn"):
            return physical
        if attribute == "KeyId":
            return physical.rsplit("/", 1)[-1]
        return f"unresolved:{logical_id}.{attribute}"

    def arn(self, resource_type: str, physical: str) -> str | None:
        """The ARN of a resource of ``resource_type`` whose physical id is ``physical``."""
        a, r = self.account, self.region
        if resource_type == "AWS::SQS::Queue":
            return f"arn:aws:sqs:{r}:{a}:{physical.rsplit('/', 1)[-1]}"
        if resource_type == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{physical}"
        if resource_type == "AWS::DynamoDB::Table":
            return f"arn:aws:dynamodb:{r}:{a}:table/{physical}"
        if resource_type == "AWS::KMS::Key":
            return (
                physical if physical.startswith("arn:") else f"arn:aws:kms:{r}:{a}:key/{physical}"
            )
        if resource_type == "AWS::SNS::Topic":
            return physical
        if resource_type == "AWS::IAM::Role":
            return f"arn:aws:iam::{a}:role/{physical}"
        if resource_type == "AWS::Lambda::Function":
            return f"arn:aws:lambda:{r}:{a}:function:{physical}"
        if resource_type == "AWS::Logs::LogGroup":
            return f"arn:aws:logs:{r}:{a}:log-group:{physical}:*"
        return physical if physical.startswith("arn:") else None


def resolve(value: Any, scope: Scope) -> Any:
    """``value`` with every intrinsic function it contains replaced by its value."""
    if isinstance(value, list):
        return [v for v in (resolve(item, scope) for item in value) if v is not None]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((name, arg),) = value.items()
        if name == "Ref":
            return scope.ref(arg)
        if name.startswith("Fn::"):
            try:
                return _function(name, arg, scope)
            except (IndexError, KeyError, TypeError, ValueError, AttributeError):
                return f"unresolved:{name}"  # a value of a type this module does not know
    return {k: v for k, v in ((k, resolve(v, scope)) for k, v in value.items()) if v is not None}


def _function(name: str, arg: Any, scope: Scope) -> Any:
    if name == "Fn::GetAtt":
        logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
        return scope.get_att(logical_id, attribute)
    if name == "Fn::Join":
        separator, parts = arg
        return separator.join(str(p) for p in resolve(parts, scope))
    if name == "Fn::Sub":
        return _sub(arg, scope)
    if name == "Fn::Select":
        index, items = resolve(arg, scope)
        return items[int(index)]
    if name == "Fn::Split":
        separator, text = resolve(arg, scope)
        return str(text).split(separator)
    if name == "Fn::ImportValue":
        export = resolve(arg, scope)
        return scope.exports.get(export, f"unresolved:import:{export}")
    if name == "Fn::FindInMap":
        table, key, item = resolve(arg, scope)
        return scope.mappings.get(table, {}).get(key, {}).get(item, f"unresolved:{table}")
    return f"unresolved:{name}"


def _sub(arg: Any, scope: Scope) -> str:
    text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], resolve(arg[1], scope))

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in variables:
            return str(variables[name])
        if "." in name:
            logical_id, attribute = name.split(".", 1)
            return scope.get_att(logical_id, attribute)
        return str(scope.ref(name))

    return _SUB_VARIABLE.sub(replace, text)
