"""AWS service limits and prices the project checks, each once, with its source.

Standard library only (CDK patterns read it at synth time). A figure here is
the documented default: an account may have raised a quota, and prices differ
by region (the table is us-east-1). Check the page before changing a figure.
"""

from __future__ import annotations

from types import MappingProxyType

# ------------------------------------------------------------------------- SQS

SQS_MESSAGE_QUOTAS_URL = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/"
    "quotas-messages.html"
)
SQS_FIFO_PARTITIONS_URL = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/"
    "high-throughput-fifo.html"
)
SQS_PRICING_URL = "https://aws.amazon.com/sqs/pricing/"

# SendMessageBatch / DeleteMessageBatch / ReceiveMessage: at most 10 messages
# per call (SQS_MESSAGE_QUOTAS_URL, "Message batch").
SQS_BATCH_MAX_ENTRIES = 10
# Maximum message size, and the cap on a batch's total (SQS_MESSAGE_QUOTAS_URL);
# a queue's ``MaximumMessageSize`` may be set from SQS_MIN_MAX_MESSAGE_BYTES up to
# it (SQS_QUEUE_ATTRIBUTES_URL). The size is the UTF-8 body plus each message
# attribute's name, data type and value (SQS_MESSAGE_QUOTAS_URL).
SQS_QUEUE_ATTRIBUTES_URL = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/"
    "API_SetQueueAttributes.html"
)
SQS_MAX_MESSAGE_BYTES = 1_048_576
SQS_MIN_MAX_MESSAGE_BYTES = 1_024
# What the official Extended Clients offload above by default
# (docs/aws-facts.md#extended-client-wire-format).
EXTENDED_CLIENT_THRESHOLD_BYTES = 262_144
# Every 64 KiB chunk of a request's payload is billed as one request (SQS_PRICING_URL).
SQS_BILLING_CHUNK_BYTES = 65_536
# A message's visibility timeout: at most 12 hours (SQS_MESSAGE_QUOTAS_URL).
SQS_MAX_VISIBILITY_TIMEOUT_S = 43_200
# A queue's MessageRetentionPeriod: 60 s to 14 days (SQS_QUEUE_ATTRIBUTES_URL).
SQS_MIN_RETENTION_S, SQS_MAX_RETENTION_S = 60, 1_209_600
# A redrive policy's maxReceiveCount: 1..1,000 (SQS_QUEUE_ATTRIBUTES_URL).
SQS_MAX_RECEIVE_COUNT = 1_000
# ReceiveMessage's long poll (WaitTimeSeconds): 0..20 s (SQS_RECEIVE_URL).
SQS_RECEIVE_URL = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html"
)
SQS_MAX_WAIT_TIME_S = 20
# A queue name: 1..80 letters, digits, '-' and '_' (".fifo" included) (SQS_CREATE_QUEUE_URL).
SQS_CREATE_QUEUE_URL = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html"
)
SQS_MAX_QUEUE_NAME_LENGTH = 80
# StartMessageMoveTask's MaxNumberOfMessagesPerSecond: at most 500 (SQS_MOVE_TASK_URL).
SQS_MOVE_TASK_URL = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/"
    "API_StartMessageMoveTask.html"
)
SQS_MAX_MOVE_RATE = 500
# At most 10 message attributes per message (SQS_MESSAGE_QUOTAS_URL).
SQS_MAX_MESSAGE_ATTRIBUTES = 10
# MessageGroupId and MessageDeduplicationId: 1..128 letters, digits and ASCII
# punctuation (SQS_SEND_MESSAGE_URL).
SQS_SEND_MESSAGE_URL = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html"
)
SQS_MAX_ID_LENGTH = 128

# A FIFO queue without high throughput: 300 transactions per second per API
# action (SendMessage[Batch], ReceiveMessage, DeleteMessage[Batch]); with
# batches of 10, 3,000 messages per second (SQS_MESSAGE_QUOTAS_URL).
SQS_FIFO_CALLS_PER_S = 300
# High-throughput mode: transactions per second per API action, by region
# (SQS_MESSAGE_QUOTAS_URL, "High throughput for FIFO queues"); batched calls
# carry 10 messages each, so x10 messages per second.
SQS_FIFO_HIGH_THROUGHPUT_CALLS_PER_S: MappingProxyType[str, int] = MappingProxyType(
    {
        "us-east-1": 70_000,
        "us-west-2": 70_000,
        "eu-west-1": 70_000,
        "us-east-2": 19_000,
        "eu-central-1": 19_000,
        "ap-south-1": 9_000,
        "ap-southeast-1": 9_000,
        "ap-southeast-2": 9_000,
        "ap-northeast-1": 9_000,
        "eu-west-2": 4_500,
        "sa-east-1": 4_500,
    }
)
# "All other AWS Regions" in the same table.
SQS_FIFO_HIGH_THROUGHPUT_OTHER_REGIONS_CALLS_PER_S = 2_400
# One message group lives in one partition, and a partition serves at most 300
# transactions per second per action, 3,000 messages with batching
# (SQS_FIFO_PARTITIONS_URL, "Optimizing partition utilization").
SQS_FIFO_PARTITION_CALLS_PER_S = 300

# ------------------------------------------------- Lambda and its SQS mapping

LAMBDA_SQS_CONFIGURE_URL = (
    "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html"
)
LAMBDA_SQS_SCALING_URL = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html"
LAMBDA_SCALING_CONFIG_URL = (
    "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/"
    "aws-properties-lambda-eventsourcemapping-scalingconfig.html"
)
LAMBDA_QUOTAS_URL = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"

# The source queue's visibility timeout: at least six times the function
# timeout, plus the batching window (LAMBDA_SQS_CONFIGURE_URL).
LAMBDA_VISIBILITY_FACTOR = 6
LAMBDA_MAX_BATCHING_WINDOW_S = 300  # LAMBDA_SQS_CONFIGURE_URL
LAMBDA_MAX_BATCH_SIZE = 10_000  # standard queues (LAMBDA_SQS_CONFIGURE_URL)
LAMBDA_MAX_BATCH_WITHOUT_WINDOW = 10  # more needs a window of at least 1 s
LAMBDA_FIFO_MAX_BATCH_SIZE = 10  # FIFO queues (LAMBDA_SQS_CONFIGURE_URL)
# ScalingConfig.MaximumConcurrency range (LAMBDA_SCALING_CONFIG_URL). For a FIFO
# queue, concurrent invocations are also capped at the number of message group
# ids (LAMBDA_SQS_SCALING_URL).
LAMBDA_MIN_CONCURRENCY, LAMBDA_MAX_CONCURRENCY = 2, 1_000
LAMBDA_MAX_TIMEOUT_S = 900  # LAMBDA_QUOTAS_URL

# Scaling of a standard-mode SQS mapping: 5 concurrent invokes at first, up to
# 300 more a minute, at most 1,250 (LAMBDA_SQS_SCALING_URL).
LAMBDA_STANDARD_START_CONCURRENCY = 5
LAMBDA_STANDARD_RAMP_PER_MINUTE = 300
LAMBDA_STANDARD_MAX_INVOKES = 1_250
# Provisioned mode (ProvisionedPollerConfig), mutually exclusive with
# MaximumConcurrency: MinimumPollers 2..200 (default 2), MaximumPollers 2..2,000
# (default 200); each poller carries up to 1 MB/s, 10 concurrent invokes or 10
# ReceiveMessage calls a second; Lambda adds up to 1,000 concurrent invokes a
# minute between the two bounds (LAMBDA_SQS_SCALING_URL, LAMBDA_POLLER_CONFIG_URL).
LAMBDA_POLLER_CONFIG_URL = (
    "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/"
    "aws-properties-lambda-eventsourcemapping-provisionedpollerconfig.html"
)
LAMBDA_MIN_POLLERS_RANGE = (2, 200)
# The Lambda API now takes MaximumPollers up to 10,000 for SQS (LAMBDA_POLLER_API_URL),
# but the pinned aws-cdk-lib's EventSourceMapping (2.275.0) refuses more than 2,000 at
# synth: the range stays 2..2,000 until the pin moves (docs/aws-facts.md).
LAMBDA_POLLER_API_URL = (
    "https://docs.aws.amazon.com/lambda/latest/api/API_ProvisionedPollerConfig.html"
)
LAMBDA_API_MAX_POLLERS = 10_000
LAMBDA_MAX_POLLERS_RANGE = (2, 2_000)
LAMBDA_DEFAULT_MIN_POLLERS, LAMBDA_DEFAULT_MAX_POLLERS = 2, 200
LAMBDA_POLLER_INVOKES = 10
LAMBDA_POLLER_MB_PER_S = 1.0
LAMBDA_PROVISIONED_RAMP_PER_MINUTE = 1_000

# One invocation's payload: 6 MB (6,291,456 bytes) for a synchronous invoke, which an
# SQS mapping's is; the mapping invokes with a smaller batch once the payload would
# pass it, whatever the batch size (LAMBDA_QUOTAS_URL; LAMBDA_ESM_BATCHING_URL,
# "Batching behavior": "The payload size reaches 6 MB. You cannot modify this limit.").
LAMBDA_ESM_BATCHING_URL = (
    "https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html"
)
LAMBDA_MAX_INVOKE_PAYLOAD_BYTES = 6_291_456

# Event filtering: up to 5 filters per mapping by default, 10 with a quota
# increase (LAMBDA_FILTERING_URL); an SQS mapping filters on the ``body`` key
# only (LAMBDA_SQS_FILTERING_URL); a record no filter matches is deleted.
LAMBDA_FILTERING_URL = "https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html"
LAMBDA_SQS_FILTERING_URL = "https://docs.aws.amazon.com/lambda/latest/dg/with-sqs-filtering.html"
LAMBDA_DEFAULT_MAX_FILTERS = 5
LAMBDA_RAISED_MAX_FILTERS = 10

# Mapping metrics (MetricsConfig ["EventCount"]): AWS/Lambda, dimension
# EventSourceMappingUUID (LAMBDA_ESM_METRICS_URL).
LAMBDA_ESM_METRICS_URL = (
    "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html"
    "#event-source-mapping-metrics"
)

# ------------------------------------------------------------------- DynamoDB

DYNAMODB_QUOTAS_URL = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html"
)
DYNAMODB_MAX_ITEM_KB = 400  # DYNAMODB_QUOTAS_URL
DYNAMODB_MAX_NESTING_DEPTH = 32  # nested attribute depth (DYNAMODB_QUOTAS_URL)
# Numbers: up to 38 significant digits, magnitudes 1E-130 to
# 9.9999999999999999999999999999999999999E+125 (DYNAMODB_DATA_TYPES_URL).
DYNAMODB_DATA_TYPES_URL = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/"
    "HowItWorks.NamingRulesDataTypes.html"
)
DYNAMODB_MAX_NUMBER_DIGITS = 38
DYNAMODB_MIN_NUMBER_MAGNITUDE = "1E-130"
DYNAMODB_MAX_NUMBER_MAGNITUDE = "9.9999999999999999999999999999999999999E+125"
# One partition serves at most 1,000 WCU a second, whatever the table's total
# (DYNAMODB_WARM_THROUGHPUT_URL, "Warm throughput and uneven access patterns").
DYNAMODB_WARM_THROUGHPUT_URL = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/"
    "warm-throughput-scenarios.html"
)
DYNAMODB_PARTITION_MAX_WCU_PER_S = 1_000
# BatchWriteItem: at most 25 put or delete requests and 16 MB (DYNAMODB_BATCH_WRITE_URL).
DYNAMODB_BATCH_WRITE_URL = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html"
)
DYNAMODB_BATCH_WRITE_MAX_ITEMS = 25
DYNAMODB_BATCH_WRITE_MAX_BYTES = 16 * 1024 * 1024

# --------------------------------------------------------------------- prices

# USD, us-east-1, from the pricing pages: SQS_PRICING_URL,
# https://aws.amazon.com/lambda/pricing/ (also "Provisioned Mode for Event Source
# Mapping": an SQS mapping's event poller is one Event Poller Unit, billed per
# EPU-hour, per second with a one-minute minimum), https://aws.amazon.com/dynamodb/pricing/
# (provisioned and on-demand) and https://aws.amazon.com/s3/pricing/.
PRICES_USD: MappingProxyType[str, float] = MappingProxyType(
    {
        "sqs_standard_per_request": 0.40 / 1e6,
        "sqs_fifo_per_request": 0.50 / 1e6,
        "lambda_per_request": 0.20 / 1e6,
        "lambda_arm64_per_gb_s": 0.0000133334,
        "lambda_sqs_epu_hour": 0.00925,
        "dynamodb_wcu_hour": 0.00065,
        "dynamodb_on_demand_per_wru": 0.625 / 1e6,
        "s3_put": 0.005 / 1_000,
        "s3_get": 0.0004 / 1_000,
        "s3_gb_month": 0.023,
    }
)


def fifo_calls_per_s(*, high_throughput: bool, region: str) -> int:
    """Transactions per second per API action a FIFO queue takes in ``region``."""
    if not high_throughput:
        return SQS_FIFO_CALLS_PER_S
    return SQS_FIFO_HIGH_THROUGHPUT_CALLS_PER_S.get(
        region, SQS_FIFO_HIGH_THROUGHPUT_OTHER_REGIONS_CALLS_PER_S
    )
