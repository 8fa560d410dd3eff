"""Request/response over SQS: a request queue, a responder Lambda, reply queues.

Clients send requests to ``.requests`` with the message attributes ``ReplyTo``
(their response queue's URL) and ``CorrelationId``; the responder
(the shipped ``handlers/responder``) answers each one on its ``ReplyTo`` queue
(:mod:`sqs_blueprint.rpc` holds the client, the server and the wire format).

Response queues are not part of this construct: each client creates its own
at run time, named ``<response_queue_prefix><32-character id>``, with a short
retention (``RpcClient`` asks for 300 s by default) and SQS-managed encryption,
and deletes it when it leaves. The prefix is the security boundary:

- the responder may send only to queues named with the prefix in its own
  account and region (IAM), and ``Responder`` refuses any other ``ReplyTo`` at
  run time as well, so a forged ``ReplyTo`` cannot make it write elsewhere;
- clients (:meth:`RequestResponse.grant_client`) may create, read and delete
  only queues named with the prefix, and each client creates its queue with a
  queue policy that denies receiving to every role but its creator's, so one
  client cannot read another's responses. That isolation covers reading only,
  and per role (every session of a role shares it): IAM grants CreateQueue and
  DeleteQueue on the whole prefix, so one client can delete another's response
  queue and make its calls time out. Clients that must not disrupt each other
  need separate services (prefixes);
- the request queue and its DLQ must not be named with the prefix, or a client
  could delete them and the responder could answer into them. Give the prefix
  to nothing else in the account and region.

The request queue follows the consumer rules of :class:`SqsLambdaConsumer`
(visibility 6 x function timeout, partial batch responses); a request that
fails repeatedly ends in the request DLQ and its caller gets a timeout.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from aws_cdk import Duration, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

from sqs_blueprint.limits import SQS_MAX_MESSAGE_BYTES
from sqs_blueprint.rpc import (
    CLIENT_ID_LENGTH,
    MAX_PREFIX_LENGTH,
    MAX_QUEUE_NAME,
    RESPONSE_QUEUE_PREFIX,
    ResponderSettings,
)
from sqs_blueprint.rpc.protocol import NAME_CHARS
from sqs_blueprint_cdk._validation import Problems, acknowledge, nag_text
from sqs_blueprint_cdk.consumer import SqsLambdaConsumer
from sqs_blueprint_cdk.queue_pair import QueueWithDlq

# SQS queue names: 1..80 letters, digits, '-' and '_', the rule sqs_blueprint.rpc
# keeps at run time; RpcClient appends a uuid4 hex of 32 characters.
QUEUE_NAME_MAX = MAX_QUEUE_NAME
RESPONSE_QUEUE_ID_LENGTH = CLIENT_ID_LENGTH

# What RpcClient calls on its own response queue (create_queue, with a queue policy
# that denies every principal but itself and the responder; receive_message,
# delete_message_batch, delete_queue); DeleteMessageBatch is authorized as
# DeleteMessage. CreateQueue is authorized as sqs:CreateQueue alone, whatever
# attributes (Policy included) it sets, so sqs:SetQueueAttributes is not granted:
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-api-permissions-reference.html
# sts:GetCallerIdentity (the client's own ARN, for that policy) needs no permission.
# tests/infra/test_request_response.py runs RpcClient on moto and fails when it
# calls anything not listed here, or when something listed goes unused.
CLIENT_RESPONSE_QUEUE_ACTIONS = (
    "sqs:ChangeMessageVisibility",  # a client sharing a response queue gives others' back
    "sqs:CreateQueue",
    "sqs:DeleteMessage",
    "sqs:DeleteQueue",
    "sqs:ReceiveMessage",
)
# What Responder calls: send_message to the ReplyTo URL (no GetQueueUrl: it has the URL).
RESPONDER_ACTIONS = ("sqs:SendMessage",)


class RequestResponse(Construct):
    """``.requests`` (a :class:`QueueWithDlq`) consumed by ``.responder`` (a
    :class:`SqsLambdaConsumer` running ``handlers/<handler>``), answering on queues
    named ``.response_queue_prefix``; ``.response_queues_arn`` is their ARN pattern.

    Clients get their permissions from :meth:`grant_client` (a principal in this
    app) or by attaching ``.client_policy`` (a managed policy) to their role.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        response_queue_prefix: str,
        function_timeout: Duration = Duration.seconds(10),
        max_concurrency: int = 10,
        batch_size: int = 10,
        memory_size: int = 256,
        max_receive_count: int = 5,
        retention_period: Duration = Duration.days(1),
        dlq_retention_period: Duration = Duration.days(14),
        customer_managed_key: bool = False,
        max_message_bytes: int = SQS_MAX_MESSAGE_BYTES,
        handler: str | Path = "responder",
        environment: Mapping[str, str] | None = None,
        architecture: lambda_.Architecture = lambda_.Architecture.ARM_64,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        tracing: str = "off",
    ) -> None:
        super().__init__(scope, id_)
        problems = Problems(f"RequestResponse '{self.node.path}'")
        _validate_prefix(problems, response_queue_prefix)
        problems.check(
            RESPONSE_QUEUE_PREFIX not in (environment or {}),
            "environment",
            dict(environment or {}),
            f"{RESPONSE_QUEUE_PREFIX} is set from response_queue_prefix, which IAM is scoped to",
            f"drop {RESPONSE_QUEUE_PREFIX} from environment and set response_queue_prefix",
        )
        problems.raise_if_any()
        self.response_queue_prefix = response_queue_prefix

        self.requests = QueueWithDlq(
            self,
            "Requests",
            max_receive_count=max_receive_count,
            retention_period=retention_period,
            dlq_retention_period=dlq_retention_period,
            customer_managed_key=customer_managed_key,
            max_message_bytes=max_message_bytes,
        )
        _check_clashes(problems, self.requests, response_queue_prefix)
        problems.raise_if_any()

        self.responder = SqsLambdaConsumer(
            self,
            "Responder",
            queue=self.requests,
            handler=handler,
            function_timeout=function_timeout,
            batch_size=batch_size,
            max_concurrency=max_concurrency,
            memory_size=memory_size,
            environment={
                **(environment or {}),
                **ResponderSettings(response_queue_prefix=response_queue_prefix).to_env(),
            },
            architecture=architecture,
            log_retention=log_retention,
            tracing=tracing,
            description="Answers requests on the response queue each one names",
        )
        self._add_policies(response_queue_prefix)

    def _add_policies(self, response_queue_prefix: str) -> None:
        """``.reply_policy`` (the responder answers on response queues only) and
        ``.client_policy`` (for clients outside this app)."""
        self.response_queues_arn = Stack.of(self).format_arn(
            service="sqs", resource=f"{response_queue_prefix}*"
        )
        self.reply_policy = iam.Policy(
            self,
            "ReplyPolicy",
            statements=[
                iam.PolicyStatement(
                    actions=list(RESPONDER_ACTIONS), resources=[self.response_queues_arn]
                )
            ],
        )
        self.reply_policy.attach_to_role(self.responder.role)
        # No request is taken before the responder may answer it.
        self.responder.event_source_mapping.node.add_dependency(self.reply_policy)
        self._acknowledge_prefix_wildcard(
            self.reply_policy,
            "The responder answers on queues that clients create at run time with names "
            f"'{response_queue_prefix}<id>', so sqs:SendMessage is granted on that prefix in "
            "this account and region only; Responder also refuses any ReplyTo outside it.",
        )
        # For clients outside this app: attach it to their roles (see grant_client).
        self.client_policy = iam.ManagedPolicy(
            self,
            "ClientPolicy",
            description=f"Lets an RpcClient call {self.node.path}",
            statements=self.client_statements(),
        )
        self._acknowledge_prefix_wildcard(self.client_policy, _CLIENT_REASON.format(self=self))

    def client_statements(self) -> list[iam.PolicyStatement]:
        """Exactly what :class:`~sqs_blueprint.rpc.RpcClient` needs: send to the request
        queue; create, receive from, delete messages of and delete its response queue."""
        statements = [
            iam.PolicyStatement(
                actions=["sqs:SendMessage"], resources=[self.requests.queue.queue_arn]
            ),
            iam.PolicyStatement(
                actions=list(CLIENT_RESPONSE_QUEUE_ACTIONS),
                resources=[self.response_queues_arn],
            ),
        ]
        key = self.requests.encryption_key
        if key is not None:
            statements.append(
                iam.PolicyStatement(
                    # A producer of an SSE-KMS queue needs both (SQS developer guide).
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[key.key_arn],
                )
            )
        return statements

    def grant_client(self, principal: iam.IGrantable) -> iam.Grant:
        """Let ``principal`` run an :class:`~sqs_blueprint.rpc.RpcClient` against this
        service (see :meth:`client_statements`); the prefix wildcard is acknowledged
        for cdk-nag on the policy that receives it."""
        grant: iam.Grant | None = None
        for statement in self.client_statements():
            added = iam.Grant.add_to_principal(
                grantee=principal,
                actions=statement.actions,
                resource_arns=statement.resources,
            )
            grant = added if grant is None else grant.combine(added)
        assert grant is not None
        # The statements land in a policy under the principal's construct (a role's
        # DefaultPolicy); the acknowledgment there covers this one wildcard only.
        holder = principal.grant_principal
        target = holder if isinstance(holder, Construct) else principal
        if isinstance(target, Construct):
            self._acknowledge_prefix_wildcard(target, _CLIENT_REASON.format(self=self))
        return grant

    def _acknowledge_prefix_wildcard(self, construct: IConstruct, reason: str) -> None:
        resource = nag_text(self, self.response_queues_arn)
        acknowledge(construct, f"AwsSolutions::AwsSolutions-IAM5[Resource::{resource}]", reason)


_CLIENT_REASON = (
    "RpcClient creates, reads and deletes its own response queue, named "
    "'{self.response_queue_prefix}<id>' at run time, so these actions are granted on that "
    "prefix in this account and region only. The boundary is the prefix, not the client: "
    "a holder of this policy may also delete another client's response queue (that "
    "client's calls then time out); reading stays with each queue's creator role, whose "
    "sessions all share it. Clients that must not disrupt each other get separate "
    "request/response services, each with its own prefix."
)


def _validate_prefix(problems: Problems, prefix: str) -> None:
    if Token.is_unresolved(prefix):
        problems.check(
            False,
            "response_queue_prefix",
            prefix,
            "must be known at synth (IAM is scoped to it and it is checked here)",
            "pass a plain string",
        )
        return
    problems.check(
        bool(prefix),
        "response_queue_prefix",
        prefix,
        "must not be empty: the responder's IAM and ReplyTo check are scoped to it",
        "use a dedicated prefix such as 'myservice-reply-'",
    )
    problems.check(
        not prefix or NAME_CHARS.fullmatch(prefix) is not None,
        "response_queue_prefix",
        prefix,
        "SQS queue names hold only letters, digits, '-' and '_'",
        "drop the other characters",
    )
    problems.check(
        len(prefix) <= MAX_PREFIX_LENGTH,
        "response_queue_prefix",
        prefix,
        f"is {len(prefix)} characters; at most {MAX_PREFIX_LENGTH} leave room for the "
        f"{RESPONSE_QUEUE_ID_LENGTH}-character id RpcClient appends ({QUEUE_NAME_MAX} in all)",
        "shorten the prefix",
    )


def _check_clashes(problems: Problems, requests: QueueWithDlq, response_queue_prefix: str) -> None:
    """Refuse a prefix that the request queue's or its DLQ's name starts with."""
    names = [
        getattr(queue.node.default_child, "queue_name", None)
        for queue in (requests.queue, requests.dead_letter_queue)
    ]
    clashes = [
        n
        for n in names
        if isinstance(n, str) and not Token.is_unresolved(n) and n.startswith(response_queue_prefix)
    ]
    problems.check(
        not clashes,
        "response_queue_prefix",
        response_queue_prefix,
        f"the request queue names {clashes} start with it, so clients could delete them "
        "and the responder could answer into them",
        "choose a prefix that names response queues only",
    )
