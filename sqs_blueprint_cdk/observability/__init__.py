"""Alarms, an alarm topic and a dashboard for one pipeline.

Alarms, each publishing its ALARM and OK transitions to ``.topic``:
- DLQ depth: ApproximateNumberOfMessagesVisible, Maximum, >= 1. Never
  NumberOfMessagesSent: SQS does not count messages moved to a DLQ by a
  redrive policy as sent, so an alarm on it never fires for dead letters;
- age of the oldest message in the source queue above ``age_share`` of its
  retention: the consumer is behind and messages will soon expire;
- the consumer function's Errors > 0 and Throttles > 0;
- the table's WriteThrottleEvents > 0 (the write buffer's plan should make it
  impossible: one is a bug or a capacity change worth knowing about);
- with ``event_source_mapping``: failed invokes above ``failed_invoke_share``
  (default 5%) of the events the mapping polled, by metric math over the
  mapping's EventCount metrics (FailedInvokeEventCount / PolledEventCount,
  dimension EventSourceMappingUUID, ``limits.LAMBDA_ESM_METRICS_URL``);
- with ``tenants`` (a multi-tenant standard queue, one MessageGroupId per
  tenant): the age of the oldest message of the quiet tenants above
  ``quiet_group_age`` (default 5 minutes), tenants.py.

Missing data is "not breaching" everywhere: Lambda and DynamoDB emit these
counters only when there is something to count, and SQS stops publishing for a
queue that is empty and idle; a queue holding messages keeps publishing.

The topic the construct creates is encrypted with a customer managed KMS key
(rotated yearly): CloudWatch cannot publish to a topic encrypted with the AWS
managed ``alias/aws/sns`` key, whose policy cannot be changed to let it. The
key and topic policies let CloudWatch alarms of this account and region use
them, and the topic refuses requests without TLS.

The dashboard graphs what the alarms watch, plus in-flight messages, the
consumer's duration, the mapping's polled, invoked, failed-invoke, filtered-out
and deleted events, with ``tenants`` the fair-queue metrics (noisy groups, the
quiet groups' messages and their oldest message) and, for EC2 workers
(``auto_scaling_group``), the instances in service and the backlog per instance
that the group scales on.
"""

from sqs_blueprint_cdk.observability.checks import DEFAULT_FAILED_INVOKE_SHARE
from sqs_blueprint_cdk.observability.construct import PipelineObservability
from sqs_blueprint_cdk.observability.tenants import DEFAULT_QUIET_GROUP_AGE
from sqs_blueprint_cdk.observability.widgets import MAPPING_METRICS

__all__ = [
    "DEFAULT_FAILED_INVOKE_SHARE",
    "DEFAULT_QUIET_GROUP_AGE",
    "MAPPING_METRICS",
    "PipelineObservability",
]
