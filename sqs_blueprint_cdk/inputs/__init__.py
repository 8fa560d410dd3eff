"""Producers that are AWS services: SNS fan-out, EventBridge rules and S3 notifications
delivering into a pipeline's queue, each with a queue policy scoped to that one source."""

from sqs_blueprint_cdk.inputs.bucket import BucketInput
from sqs_blueprint_cdk.inputs.rule import RuleInput
from sqs_blueprint_cdk.inputs.topic import TopicInput

__all__ = ["BucketInput", "RuleInput", "TopicInput"]
