"""S3 object-created notifications into a pipeline.

The bucket is created here, private, encrypted and TLS-only, with its notification
configuration in its own CloudFormation properties (no custom resource, no Lambda).
Its name is fixed at synth (a digest of the stack and construct path, the account and
the region), so the queue's policy can name it (``aws:SourceArn``, with
``aws:SourceAccount``) and the bucket can wait for that policy: S3 checks that it may
send to the queue when the configuration is set. S3 delivers only to standard queues.
A notification carries the bucket and key, not the object: the consumer reads the
object (:mod:`sqs_blueprint.s3_events`), so ``grant_read`` gives it ``s3:GetObject``.
"""

from __future__ import annotations

import hashlib

from aws_cdk import Aws, Fn, Names, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from sqs_blueprint_cdk._validation import Problems, acknowledge
from sqs_blueprint_cdk.queue_pair import QueueWithDlq


class BucketInput(Construct):
    """``.bucket`` (``.bucket_name`` known at synth), ``.alarms`` and ``.widgets``
    (empty: S3 publishes no delivery metrics for notifications)."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        queue: QueueWithDlq,
        prefix: str | None = None,
        suffix: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        problems = Problems(f"BucketInput '{self.node.path}'")
        problems.check(
            not queue.fifo,
            "queue",
            queue.node.path,
            "S3 event notifications go to standard queues only, this one is FIFO",
            "feed a standard pipeline, or add a topic or rule input for the FIFO one",
        )
        for setting, value in (("prefix", prefix), ("suffix", suffix)):
            problems.check(
                value is None or 0 < len(value) <= 1024,
                setting,
                value,
                "an object key filter is 1..1,024 characters",
                f"leave {setting} out to match every key",
            )
        problems.raise_if_any()

        stack = Stack.of(self)
        digest = hashlib.sha256(f"{stack.stack_name}/{self.node.path}".encode()).hexdigest()
        self.bucket_name = Fn.join("-", [f"sqsbp-in-{digest[:10]}", Aws.ACCOUNT_ID, Aws.REGION])
        bucket_arn = stack.format_arn(
            service="s3", region="", account="", resource=self.bucket_name
        )
        statement = iam.PolicyStatement(
            principals=[iam.ServicePrincipal("s3.amazonaws.com")],
            actions=["sqs:SendMessage"],
            resources=[queue.queue.queue_arn],
            conditions={
                "ArnEquals": {"aws:SourceArn": bucket_arn},
                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            },
        )
        added = queue.queue.add_to_resource_policy(statement)
        if queue.encryption_key is not None:
            queue.encryption_key.grant(
                iam.ServicePrincipal(
                    "s3.amazonaws.com", conditions={"ArnEquals": {"aws:SourceArn": bucket_arn}}
                ),
                "kms:GenerateDataKey*",
                "kms:Decrypt",
            )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=self.bucket_name,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        )
        cfn_bucket = self.bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        rules = [
            {"Name": name, "Value": value}
            for name, value in (("prefix", prefix), ("suffix", suffix))
            if value
        ]
        configuration: dict[str, object] = {
            "Event": "s3:ObjectCreated:*",
            "Queue": queue.queue.queue_arn,
        }
        if rules:
            configuration["Filter"] = {"S3Key": {"Rules": rules}}
        cfn_bucket.add_property_override(
            "NotificationConfiguration.QueueConfigurations", [configuration]
        )
        if added.policy_dependable is not None:  # S3 checks the policy when it is set
            cfn_bucket.node.add_dependency(added.policy_dependable)
        acknowledge(
            self.bucket,
            "AwsSolutions-S1",
            "No server access log bucket: objects are inputs a pipeline reads once; the "
            "bucket refuses public access and requests without TLS. Turn on CloudTrail S3 "
            "data events in the account for object-level audit.",
        )
        self.alarms: dict[str, object] = {}
        self.widgets: list[object] = []

    def grant_read(self, role: iam.IRole) -> iam.Policy:
        """``s3:GetObject`` on this bucket's objects, which the consumer is told about
        (and ``s3:ListBucket``, so a deleted object is a 404, not a 403)."""
        policy = iam.Policy(
            self,
            f"Read{Names.unique_id(role.node.default_child or role)}",
            statements=[
                iam.PolicyStatement(
                    actions=["s3:GetObject"], resources=[self.bucket.arn_for_objects("*")]
                ),
                iam.PolicyStatement(actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn]),
            ],
        )
        policy.attach_to_role(role)
        stack = Stack.of(self)
        cfn_bucket = self.bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        bucket_id = stack.resolve(stack.get_logical_id(cfn_bucket))
        acknowledge(
            policy,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/*]",
            "The consumer reads whichever object a notification of this one bucket names, so "
            "s3:GetObject is granted on the objects of this bucket only.",
        )
        return policy
