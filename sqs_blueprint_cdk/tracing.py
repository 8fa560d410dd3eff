"""How the functions and workers export their spans to X-Ray: ``off``, ``adot`` or ``otlp``.

The handlers and the worker use the OpenTelemetry API and the AWS X-Ray
propagator only (``sqs_blueprint.tracing``), switched by ``SQS_BLUEPRINT_TRACING``
(``on``/``off``). The tracer provider and its exporter come from here, per stage
(docs/configuration.md; sources in docs/aws-facts.md#tracing-in-aws):

- ``off``: no layer, ``SQS_BLUEPRINT_TRACING=off``, tracing mode ``Disabled``
  (Lambda records no segment) and no X-Ray permission. Nothing is paid.
- ``adot``: the AWS Distro for OpenTelemetry (ADOT) Python layer
  (``AWSOpenTelemetryDistroPython``: the SDK, ``opentelemetry-api`` and
  ``opentelemetry-propagator-aws-xray``, so the asset carries no extra package),
  started by ``AWS_LAMBDA_EXEC_WRAPPER=/opt/otel-instrument``. In Lambda it
  sends the spans over UDP to the function's X-Ray daemon, which active tracing
  (``Tracing.ACTIVE``) runs; the role gets ``xray:PutTraceSegments`` and
  ``xray:PutTelemetryRecords`` (on ``*``: X-Ray has no resource-level permissions).
- ``otlp``: the same layer, exporting straight to X-Ray's OTLP endpoint
  ``https://xray.<region>.amazonaws.com/v1/traces`` (SigV4, authorized as
  ``xray:PutTraceSegments``). The account must have CloudWatch Transaction
  Search enabled; active tracing stays on for Lambda's own segments.

Both export modes set ``OTEL_PROPAGATORS`` with ``xray`` first. The workers
get the same switch and IAM (:func:`worker_environment`, :func:`grant_worker`).

The layer is published by AWS per region; ``LAYER_VERSION`` is pinned here.
Check it before a change: ``aws lambda get-layer-version-by-arn --arn <ARN>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aws_cdk import CfnMapping, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from sqs_blueprint_cdk._validation import Problems, acknowledge

OFF, ADOT, OTLP = "off", "adot", "otlp"
MODES = (OFF, ADOT, OTLP)
# The handlers' switch (sqs_blueprint.tracing.SETTING).
SETTING = "SQS_BLUEPRINT_TRACING"
SOURCE = (
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/"
    "CloudWatch-Application-Signals-Enable-LambdaMain.html"
)
LAYER_NAME = "AWSOpenTelemetryDistroPython"
LAYER_VERSION = 25
PUBLISHER = "615299751070"
# The commercial regions where PUBLISHER publishes the layer.
REGIONS = (
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
)
EXEC_WRAPPER = "/opt/otel-instrument"
PROPAGATORS = "xray,tracecontext,baggage"
# What Lambda's active tracing grants, and what a worker exporting through a daemon needs.
DAEMON_ACTIONS = ("xray:PutTelemetryRecords", "xray:PutTraceSegments")
# The OTLP traces endpoint is authorized as xray:PutTraceSegments alone.
OTLP_ACTIONS = ("xray:PutTraceSegments",)
_MAPPING_ID = "AdotLayers"


@dataclass(frozen=True)
class FunctionTracing:
    """What a Lambda function needs for one mode: its tracing mode, layers and environment."""

    mode: str
    tracing: lambda_.Tracing
    layers: tuple[lambda_.ILayerVersion, ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)

    @property
    def on(self) -> bool:
        return self.mode != OFF


def check(problems: Problems, mode: str, setting: str = "tracing") -> None:
    """Record a problem unless ``mode`` is one of ``MODES``."""
    problems.check(
        mode in MODES,
        setting,
        mode,
        f"must be one of {list(MODES)}",
        "choose off (no spans), adot (the ADOT layer, through Lambda's X-Ray daemon) or "
        "otlp (the ADOT layer, to X-Ray's OTLP endpoint; needs Transaction Search)",
    )


def otlp_endpoint(region: str) -> str:
    """X-Ray's OTLP traces endpoint in ``region``."""
    return f"https://xray.{region}.amazonaws.com/v1/traces"


def layer_arn(region: str) -> str:
    """The ADOT Python layer's ARN in ``region`` (one of ``REGIONS``)."""
    return f"arn:aws:lambda:{region}:{PUBLISHER}:layer:{LAYER_NAME}:{LAYER_VERSION}"


def for_function(scope: Construct, mode: str) -> FunctionTracing:
    """The tracing mode, layers and environment of a function in ``scope`` (mode checked)."""
    if mode == OFF:
        return FunctionTracing(OFF, lambda_.Tracing.DISABLED, (), {SETTING: "off"})
    env = {
        SETTING: "on",
        "AWS_LAMBDA_EXEC_WRAPPER": EXEC_WRAPPER,
        "OTEL_PROPAGATORS": PROPAGATORS,
    }
    if mode == OTLP:
        env |= {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": otlp_endpoint(Stack.of(scope).region),
        }
    return FunctionTracing(mode, lambda_.Tracing.ACTIVE, (layer(scope),), env)


def layer(scope: Construct) -> lambda_.ILayerVersion:
    """The ADOT layer for the stack of ``scope``: by ARN at synth in a concrete region
    (synth fails elsewhere), from a CloudFormation mapping of ``REGIONS`` in a
    region-agnostic stack (CloudFormation refuses the template in any other region)."""
    stack = Stack.of(scope)
    if Token.is_unresolved(stack.region):
        arn = _mapping(stack).find_in_map(stack.region, "arn")
    else:
        problems = Problems(f"ADOT layer of '{scope.node.path}'")
        problems.check(
            stack.region in REGIONS,
            "region",
            stack.region,
            f"the ADOT Python layer ({PUBLISHER}) is published here only in {list(REGIONS)}",
            "set the stage's tracing to off, or deploy to one of these regions",
        )
        problems.raise_if_any()
        arn = layer_arn(stack.region)
    return lambda_.LayerVersion.from_layer_version_arn(scope, "AdotLayer", arn)


def _mapping(stack: Stack) -> CfnMapping:
    found = stack.node.try_find_child(_MAPPING_ID)
    if isinstance(found, CfnMapping):
        return found
    return CfnMapping(
        stack, _MAPPING_ID, mapping={region: {"arn": layer_arn(region)} for region in REGIONS}
    )


def worker_environment(mode: str, region: str) -> dict[str, str]:
    """The worker's switch and OpenTelemetry settings for ``mode``."""
    if mode == OFF:
        return {SETTING: "off"}
    env = {SETTING: "on", "OTEL_PROPAGATORS": PROPAGATORS}
    if mode == OTLP:
        env |= {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": otlp_endpoint(region),
        }
    return env


def grant_worker(scope: Construct, role: iam.IRole, mode: str) -> iam.Policy | None:
    """Let the workers' ``role`` send spans in ``mode`` (nothing when off)."""
    if mode == OFF:
        return None
    actions = OTLP_ACTIONS if mode == OTLP else DAEMON_ACTIONS
    policy = iam.Policy(
        scope,
        "TracingPolicy",
        statements=[iam.PolicyStatement(actions=list(actions), resources=["*"])],
    )
    policy.attach_to_role(role)
    acknowledge(
        policy,
        "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
        f"Tracing ({mode}): {', '.join(actions)} have no resource-level permissions.",
    )
    return policy
