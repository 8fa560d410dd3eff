"""Let CloudWatch alarms publish to the alarm topic and use its key."""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns


def let_alarms_publish(topic: sns.ITopic) -> None:
    """Let CloudWatch alarms of this account and region publish to ``topic``.

    A topic policy (``enforce_ssl`` creates one) replaces SNS's default policy,
    and a KMS-encrypted topic also needs CloudWatch to use its key. Both are
    no-ops for imported topics and keys, whose policies live elsewhere.
    """
    service = iam.ServicePrincipal("cloudwatch.amazonaws.com")
    conditions = {
        "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
        "ArnLike": {
            "aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*"
        },
    }
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchAlarmsToPublish",
            principals=[service],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions=conditions,
        )
    )
    if topic.master_key is not None:
        topic.master_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToUseTheKey",
                principals=[service],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions=conditions,
            )
        )
