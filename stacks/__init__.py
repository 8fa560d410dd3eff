"""CDK stacks and reusable patterns of sqs-blueprint."""
