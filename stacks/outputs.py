"""Stack outputs shared by every pipeline."""

from __future__ import annotations

from aws_cdk import CfnOutput
from constructs import Construct

from stacks.patterns import QueueWithDlq


def export_queue_pair(scope: Construct, prefix: str, pair: QueueWithDlq) -> None:
    """Output the URL and ARN of a queue pair, named ``<prefix>QueueUrl`` and so on."""
    for name, value in (
        ("QueueUrl", pair.queue.queue_url),
        ("QueueArn", pair.queue.queue_arn),
        ("DeadLetterQueueUrl", pair.dead_letter_queue.queue_url),
        ("DeadLetterQueueArn", pair.dead_letter_queue.queue_arn),
    ):
        CfnOutput(scope, f"{prefix}{name}", value=value)
