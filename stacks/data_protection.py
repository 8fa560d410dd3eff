"""What a stage keeps when a stack is deleted, applied to every stack of the app.

``protect_data`` (cdk.json, per stage; on unless a stage turns it off):

- on: DynamoDB tables get ``DeletionProtectionEnabled`` (their RETAIN policy
  stays), and KMS keys are retained when their stack is deleted; a key deleted
  by hand waits the longest pending window, 30 days, during which it can be
  restored. Queues (dead-letter queues included: their letters wait up to 14
  days for a redrive) and log groups (kept for their retention) are retained
  too, on deletion and on replacement. A retained queue keeps its name, so
  deploying the stack again meets it: README, "What deleting a stack leaves",
  says how to adopt it;
- off (``dev``, ``local``): tables keep their RETAIN policy, without deletion
  protection, queues and log groups go with their stack,
  and KMS keys are scheduled for deletion with their stack after the shortest
  pending window, 7 days, so keys of destroyed dev stacks do not pile up (each
  costs 1 USD a month until deleted).

https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithTables.Basics.html#WorkingWithTables.Basics.DeletionProtection
https://docs.aws.amazon.com/kms/latest/developerguide/deleting-keys.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html
"""

from __future__ import annotations

import jsii
from aws_cdk import IAspect, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import IConstruct

PROTECTED_KEY_WINDOW_DAYS = 30
UNPROTECTED_KEY_WINDOW_DAYS = 7


@jsii.implements(IAspect)
class DataProtection:
    """Sets table deletion protection, KMS key removal, and keeps queues and log groups,
    for one stage."""

    def __init__(self, protect_data: bool) -> None:
        self.protect_data = protect_data

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, dynamodb.CfnTable) and self.protect_data:
            node.deletion_protection_enabled = True
        elif isinstance(node, sqs.CfnQueue | logs.CfnLogGroup) and self.protect_data:
            node.apply_removal_policy(RemovalPolicy.RETAIN)
        elif isinstance(node, kms.CfnKey):
            protect = self.protect_data
            node.apply_removal_policy(RemovalPolicy.RETAIN if protect else RemovalPolicy.DESTROY)
            node.pending_window_in_days = (
                PROTECTED_KEY_WINDOW_DAYS if protect else UNPROTECTED_KEY_WINDOW_DAYS
            )
