"""Runtime library of sqs-blueprint: boto3 and the standard library only."""

__version__ = "0.1.0"
