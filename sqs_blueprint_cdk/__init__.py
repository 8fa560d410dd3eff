"""Reusable constructs. Import them from here: ``from stacks.patterns import QueueWithDlq``."""

from stacks.patterns._validation import InvalidPropsError
from stacks.patterns.consumer import SqsLambdaConsumer
from stacks.patterns.observability import PipelineObservability
from stacks.patterns.payload_bucket import LargePayloadBucket
from stacks.patterns.queue_pair import QueueWithDlq
from stacks.patterns.request_response import RequestResponse
from stacks.patterns.workers import Ec2QueueWorkers
from stacks.patterns.write_buffer import DynamoWriteBuffer, provisioned_table, table_settings

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
