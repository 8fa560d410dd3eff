"""What a stage keeps when a stack is deleted, applied to every stack of the app.

``protect_data`` (cdk.json, per stage; on unless a stage turns it off):

- on: DynamoDB tables get ``DeletionProtectionEnabled`` (their RETAIN policy
  stays), and KMS keys are retained when their stack is deleted; a key deleted
  by hand waits the longest pending window, 30 days, during which it can be
  restored;
- off (``dev``, ``local``): tables keep their RETAIN policy, without deletion
  protection,
  and KMS keys are scheduled for deletion with their stack after the shortest
  pending window, 7 days, so keys of destroyed dev stacks do not pile up (each
  costs 1 USD a month until deleted).

https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithTables.Basics.html#WorkingWithTables.Basics.DeletionProtection
https://docs.aws.amazon.com/kms/latest/developerguide/deleting-keys.html
"""

from __future__ import annotations

import jsii
from aws_cdk import IAspect, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import IConstruct

PROTECTED_KEY_WINDOW_DAYS = 30
UNPROTECTED_KEY_WINDOW_DAYS = 7


@jsii.implements(IAspect)
class DataProtection:
    """Sets table deletion protection and KMS key removal for one stage."""

    def __init__(self, protect_data: bool) -> None:
        self.protect_data = protect_data

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, dynamodb.CfnTable) and self.protect_data:
            node.deletion_protection_enabled = True
        elif isinstance(node, kms.CfnKey):
            protect = self.protect_data
            node.apply_removal_policy(RemovalPolicy.RETAIN if protect else RemovalPolicy.DESTROY)
            node.pending_window_in_days = (
                PROTECTED_KEY_WINDOW_DAYS if protect else UNPROTECTED_KEY_WINDOW_DAYS
            )
