"""The S3 bucket that holds message bodies too large for SQS
(docs/aws-facts.md#extended-client-wire-format).

A consumer never deletes a payload object (fan-out may share one, and the
Lambda event source deletes only the message), so objects expire by a lifecycle
rule that outlives every message that may point at them: the source's
retention plus the DLQ's retention plus a day, so a redriven message still
finds its payload.

Offloaded bodies are the same data as the messages: when the queues use a
customer managed KMS key, the bucket is encrypted with that key too (unless
another key is given). Readers get ``s3:ListBucket`` with ``s3:GetObject``, so
a missing payload is a 404 (``PayloadNotFound``), not a 403.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Names, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from sqs_blueprint_cdk._validation import Problems, acknowledge
from sqs_blueprint_cdk.queue_pair import QueueWithDlq

_DAY_S = 86_400


def payload_lifetime(queues: Sequence[QueueWithDlq], extra: Duration) -> Duration:
    """Whole days covering the longest source + DLQ retention, plus ``extra``."""
    longest = max(
        q.retention_period.to_seconds() + q.dlq_retention_period.to_seconds() for q in queues
    )
    return Duration.days(-(-(longest + extra.to_seconds()) // _DAY_S))


class LargePayloadBucket(Construct):
    """``.bucket``: private, encrypted, TLS-only, objects expire after ``.expiry``."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        queues: Sequence[QueueWithDlq],
        extra_retention: Duration = Duration.days(1),
        expiry: Duration | None = None,
        encryption_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, id_)
        problems = Problems(f"LargePayloadBucket '{self.node.path}'")
        self.expiry = _checked_expiry(problems, queues, extra_retention, expiry)
        encryption_key = encryption_key or next(
            (q.encryption_key for q in queues if q.encryption_key is not None), None
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.KMS
            if encryption_key
            else s3.BucketEncryption.S3_MANAGED,
            encryption_key=encryption_key,
            bucket_key_enabled=True if encryption_key is not None else None,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpirePayloads",
                    expiration=self.expiry,
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )
        acknowledge(
            self.bucket,
            "AwsSolutions::AwsSolutions-S1",
            (
                "No server access log bucket: payload objects are transient copies of message "
                f"bodies that expire after {self.expiry.to_days():.0f} days, the bucket refuses "
                "public access and requests without TLS, and only roles granted here read or "
                "write it. Turn on CloudTrail S3 data events in the account for object-level "
                "audit."
            ),
        )

    def grant_read(self, role: iam.IRole) -> iam.Policy:
        """Consumers read payloads; they never delete them (see the module docstring).

        ``s3:ListBucket`` makes S3 answer 404 rather than 403 for a missing key.
        """
        policy = self._grant(role, "Read", "s3:GetObject", "kms:Decrypt")
        policy.add_statements(
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn])
        )
        return policy

    def grant_write(self, role: iam.IRole) -> iam.Policy:
        """Producers put payloads."""
        return self._grant(role, "Write", "s3:PutObject", "kms:GenerateDataKey")

    def _grant(self, role: iam.IRole, verb: str, action: str, key_action: str) -> iam.Policy:
        statements = [
            iam.PolicyStatement(actions=[action], resources=[self.bucket.arn_for_objects("*")])
        ]
        if self.bucket.encryption_key:
            statements.append(
                iam.PolicyStatement(
                    actions=[key_action], resources=[self.bucket.encryption_key.key_arn]
                )
            )
        policy = iam.Policy(
            self, f"{verb}{Names.unique_id(role.node.default_child or role)}", statements=statements
        )
        policy.attach_to_role(role)
        stack = Stack.of(self)
        cfn_bucket = self.bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        bucket_id = stack.resolve(stack.get_logical_id(cfn_bucket))
        acknowledge(
            policy,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/*]",
            f"Payload objects have UUID keys chosen at send time, so {action} is granted on "
            "the objects of this one bucket only.",
        )
        return policy


def _checked_expiry(
    problems: Problems,
    queues: Sequence[QueueWithDlq],
    extra_retention: Duration,
    expiry: Duration | None,
) -> Duration:
    """``expiry``, or the shortest that keeps a payload as long as its message can live."""
    problems.check(
        len(queues) > 0,
        "queues",
        "[]",
        "the bucket's expiry is derived from the queues whose messages point into it",
        "pass the QueueWithDlq pairs that carry pointers to this bucket",
    )
    problems.raise_if_any()
    minimum = payload_lifetime(queues, extra_retention)
    if expiry is not None:
        problems.check(
            expiry.to_seconds() >= minimum.to_seconds(),
            "expiry",
            f"{expiry.to_days():.0f} days",
            "must be at least source retention + DLQ retention + "
            f"{extra_retention.to_days():.0f} day(s) = {minimum.to_days():.0f} days, "
            "or a redriven message loses its payload",
            f"use expiry=Duration.days({minimum.to_days():.0f}) or more, or leave it unset",
        )
        problems.raise_if_any()
    return expiry or minimum
