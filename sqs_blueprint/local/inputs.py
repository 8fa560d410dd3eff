"""Producer inputs in the local cloud: what moto's CloudFormation leaves out, applied
after a stack is created, and what the local cloud does not emulate of them.

moto 5.2.5's CloudFormation creates SNS topics and EventBridge rules with their SQS
targets, but no ``AWS::SNS::Subscription`` and no bucket ``NotificationConfiguration``.
This module subscribes each queue (raw delivery, filter policy and its scope as the
template says) and sets each bucket's queue notifications through the service APIs;
moto then delivers SNS to SQS, EventBridge to SQS and S3 to SQS itself. Not emulated
(docs/aws-facts.md#local-cloud): SNS redrive to the subscription DLQ and EventBridge
retries and dead-lettering (nothing fails to deliver locally), InputPath on rule
targets (moto delivers the whole event), the topic's KMS key
and MaximumMessageSize, and the delivery metrics the input alarms watch.
"""

from __future__ import annotations

import json
from typing import Any, Protocol


class LocalCloud(Protocol):
    """What this module uses of :class:`~sqs_blueprint.local.server.LocalCloud` (a
    protocol, so that the deploy, which calls this module, imports nothing back)."""

    account_id: str
    region: str

    def client(self, service: str) -> Any: ...


_NOT_EMULATED: dict[str, str] = {
    "AWS::SNS::Subscription.RedrivePolicy": "applied by the local deploy, but moto never "
    "redrives: an undeliverable notification is dropped, not sent to the input DLQ",
    "AWS::SNS::Topic.KmsMasterKeyId": "notifications are not encrypted with the KMS key",
    "AWS::SNS::Topic.MaximumMessageSize": "the topic's size limit is not enforced",
    "AWS::Events::Rule.Targets.RetryPolicy": "EventBridge retries and the target's DLQ "
    "are not emulated (delivery to the queue does not fail locally)",
    "AWS::Events::Rule.Targets.InputPath": "moto ignores InputPath: the whole event is "
    "the message body (InputTransformer is applied)",
    "AWS::S3::Bucket.NotificationConfiguration": "applied by the local deploy through "
    "PutBucketNotificationConfiguration (moto then sends S3's test event too)",
}


# (feature, effect, logical ids): what the deploy reports as not applied.
Note = tuple[str, str, tuple[str, ...]]
# What moto's CloudFormation reports missing that :func:`apply_inputs` creates.
CREATED_HERE = "AWS::SNS::Subscription"


def apply_inputs(cloud: LocalCloud, template: dict[str, Any], ids: dict[str, str]) -> list[Note]:
    """Subscribe queues to topics and set bucket notifications that moto's CloudFormation
    skipped (``ids``: logical to physical ids of the created stack); what is not emulated."""
    resources: dict[str, Any] = template.get("Resources", {})
    resolve = _Resolver(cloud, ids).resolve
    applied: dict[str, list[str]] = {}
    for lid, resource in resources.items():
        rtype, props = resource.get("Type"), resource.get("Properties", {})
        if rtype == "AWS::SNS::Subscription" and props.get("Protocol") == "sqs":
            _subscribe(cloud, {k: resolve(v) for k, v in props.items()})
            applied.setdefault("AWS::SNS::Subscription", []).append(lid)
        elif rtype == "AWS::S3::Bucket" and "NotificationConfiguration" in props and lid in ids:
            _notify(cloud, ids[lid], resolve(props["NotificationConfiguration"]))
            applied.setdefault("AWS::S3::Bucket.NotificationConfiguration", []).append(lid)
        found = list(props)
        if rtype == "AWS::Events::Rule":
            found = [f"Targets.{p}" for target in props.get("Targets", []) for p in target]
        for prop in dict.fromkeys(found):
            if f"{rtype}.{prop}" in _NOT_EMULATED:
                applied.setdefault(f"{rtype}.{prop}", []).append(lid)
    return [
        (feature, _NOT_EMULATED[feature], tuple(lids))
        for feature, lids in applied.items()
        if feature in _NOT_EMULATED
    ]


def _subscribe(cloud: LocalCloud, props: dict[str, Any]) -> None:
    attributes = {"RawMessageDelivery": str(bool(props.get("RawMessageDelivery"))).lower()}
    if props.get("FilterPolicy"):
        attributes["FilterPolicy"] = json.dumps(props["FilterPolicy"])
        attributes["FilterPolicyScope"] = props.get("FilterPolicyScope", "MessageAttributes")
    if props.get("RedrivePolicy"):
        attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
    cloud.client("sns").subscribe(
        TopicArn=props["TopicArn"],
        Protocol="sqs",
        Endpoint=props["Endpoint"],
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )


def _notify(cloud: LocalCloud, bucket: str, configuration: dict[str, Any]) -> None:
    queues = []
    for entry in configuration.get("QueueConfigurations", []):
        queue: dict[str, Any] = {"QueueArn": entry["Queue"], "Events": [entry["Event"]]}
        rules = entry.get("Filter", {}).get("S3Key", {}).get("Rules")
        if rules:
            queue["Filter"] = {"Key": {"FilterRules": rules}}
        queues.append(queue)
    cloud.client("s3").put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": queues}
    )


class _Resolver:
    """``Ref``, ``Fn::GetAtt .Arn`` of queues and ``Fn::Join`` over the stack's ids."""

    def __init__(self, cloud: LocalCloud, ids: dict[str, str]) -> None:
        self.cloud, self.ids = cloud, ids
        self.pseudo = {
            "AWS::AccountId": cloud.account_id,
            "AWS::Region": cloud.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            name = value["Ref"]
            return self.pseudo.get(name) or self.ids[name]
        if set(value) == {"Fn::GetAtt"}:
            lid, attribute = value["Fn::GetAtt"]
            if attribute != "Arn":
                raise ValueError(f"cannot resolve {value!r} locally")
            return self._queue_arn(self.ids[lid])
        if set(value) == {"Fn::Join"}:
            separator, parts = value["Fn::Join"]
            return separator.join(str(self.resolve(p)) for p in parts)
        return {k: self.resolve(v) for k, v in value.items()}

    def _queue_arn(self, url: str) -> str:
        attrs = self.cloud.client("sqs").get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn"]
        )
        return str(attrs["Attributes"]["QueueArn"])
