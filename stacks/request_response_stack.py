"""The request/response service: a request queue, a responder, reply-queue permissions,
and the pipeline's alarms and dashboard (the request queue, its DLQ, the responder)."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from constructs import Construct

from sqs_blueprint.rpc import MAX_PREFIX_LENGTH
from sqs_blueprint_cdk import RequestResponse
from sqs_blueprint_cdk._validation import Problems
from stacks.config import RequestResponseConfig
from stacks.outputs import export_queue_pair, observe


class RequestResponseStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: RequestResponseConfig,
        tracing: str = "off",
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        prefix = config.response_queue_prefix
        if prefix is None:
            prefix = f"{self.stack_name}-reply-"
            problems = Problems(f"RequestResponseStack '{self.node.path}'")
            problems.check(
                len(prefix) <= MAX_PREFIX_LENGTH,
                "response_queue_prefix (derived from the stack name)",
                prefix,
                f"is {len(prefix)} characters; at most {MAX_PREFIX_LENGTH} leave room for the "
                "id RpcClient appends",
                "set sqs-blueprint.stages.<stage>.request_response.response_queue_prefix "
                "in cdk.json",
            )
            problems.raise_if_any()
        self.service = RequestResponse(
            self,
            "Rpc",
            response_queue_prefix=prefix,
            function_timeout=Duration.seconds(config.function_timeout_s),
            batch_size=config.batch_size,
            max_concurrency=config.max_concurrency,
            **config.queue.props(),
            tracing=tracing,
        )
        export_queue_pair(self, "Request", self.service.requests)
        CfnOutput(self, "ResponseQueuePrefix", value=self.service.response_queue_prefix)
        CfnOutput(self, "FunctionName", value=self.service.responder.function.function_name)
        CfnOutput(self, "ClientPolicyArn", value=self.service.client_policy.managed_policy_arn)
        self.observability = observe(
            self,
            self.service.requests,
            config.alarms,
            Duration.seconds(config.acceptable_latency_s),
            consumer_function=self.service.responder.function,
            event_source_mapping=self.service.responder.event_source_mapping,
            tenants=config.queue.tenants,
        )
