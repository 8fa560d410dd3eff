"""Reusable constructs. Import them from here: ``from sqs_blueprint_cdk import QueueWithDlq``."""

from sqs_blueprint_cdk._validation import InvalidPropsError
from sqs_blueprint_cdk.consumer import SqsLambdaConsumer
from sqs_blueprint_cdk.observability import PipelineObservability
from sqs_blueprint_cdk.payload_bucket import LargePayloadBucket
from sqs_blueprint_cdk.queue_pair import QueueWithDlq
from sqs_blueprint_cdk.request_response import RequestResponse
from sqs_blueprint_cdk.workers import Ec2QueueWorkers
from sqs_blueprint_cdk.write_buffer import DynamoWriteBuffer, provisioned_table, table_settings

__all__ = [
    "DynamoWriteBuffer",
    "Ec2QueueWorkers",
    "InvalidPropsError",
    "LargePayloadBucket",
    "PipelineObservability",
    "QueueWithDlq",
    "RequestResponse",
    "SqsLambdaConsumer",
    "provisioned_table",
    "table_settings",
]
