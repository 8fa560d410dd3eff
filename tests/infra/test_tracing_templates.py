"""Tracing per stage in the synthesized templates: the ADOT layer, the switch the
handlers read, active tracing and the X-Ray permissions; off costs nothing; a bad
value fails at synth in one line."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Duration, Environment, Stack
from aws_cdk.assertions import Template

from app import build_app
from sqs_blueprint_cdk import QueueWithDlq, SqsLambdaConsumer
from sqs_blueprint_cdk._validation import InvalidPropsError
from stacks.config import CONTEXT_KEY, ConfigError, load_stage
from tests.infra.conftest import PROD_TARGET, Synthesized, cdk_context

ADOT_EU_WEST_1 = "arn:aws:lambda:eu-west-1:615299751070:layer:AWSOpenTelemetryDistroPython:25"
PIPELINES = ("WriteBuffer", "Ordered", "RequestResponse")


def _consumers(template: Template) -> dict[str, Any]:
    """The functions the constructs create (not CDK's own custom-resource handlers)."""
    return {
        k: f
        for k, f in template.find_resources("AWS::Lambda::Function").items()
        if f["Properties"].get("Handler") == "handler.lambda_handler"
    }


def _role_actions(template: Template, role_id: str) -> dict[str, Any]:
    """Each X-Ray action granted to ``role_id``, with its resource."""
    found: dict[str, Any] = {}
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"]
            for action in [actions] if isinstance(actions, str) else actions:
                if action.startswith("xray:"):
                    found[action] = statement["Resource"]
    return found


def _worker_user_data(template: Template) -> str:
    (launch,) = template.find_resources("AWS::EC2::LaunchTemplate").values()
    return json.dumps(launch["Properties"]["LaunchTemplateData"]["UserData"])


def _worker_role(template: Template) -> str:
    (profile,) = template.find_resources("AWS::IAM::InstanceProfile").values()
    (role,) = profile["Properties"]["Roles"]
    return str(role["Ref"])


def _check_adot(synth: Synthesized, layer: Any) -> None:
    for name in PIPELINES:
        template = synth.templates[name]
        functions = _consumers(template)
        assert functions, name
        for function in functions.values():
            props = function["Properties"]
            env = props["Environment"]["Variables"]
            assert env["SQS_BLUEPRINT_TRACING"] == "on"
            assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/otel-instrument"
            assert env["OTEL_PROPAGATORS"].split(",")[0] == "xray"
            assert "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" not in env  # adot: Lambda's daemon
            assert props["TracingConfig"] == {"Mode": "Active"}
            assert layer in props["Layers"]
            role = props["Role"]["Fn::GetAtt"][0]
            assert _role_actions(template, role) == {
                "xray:PutTelemetryRecords": "*",
                "xray:PutTraceSegments": "*",
            }
    workers = synth.templates["Workers"]
    assert "SQS_BLUEPRINT_TRACING=on" in _worker_user_data(workers)
    assert "OTEL_PROPAGATORS=xray,tracecontext,baggage" in _worker_user_data(workers)
    assert _role_actions(workers, _worker_role(workers)) == {
        "xray:PutTelemetryRecords": "*",
        "xray:PutTraceSegments": "*",
    }


def test_dev_traces_with_the_adot_layer_from_a_region_mapping(synthesized: Synthesized) -> None:
    # dev follows the CLI's region: the layer is looked up at deploy.
    _check_adot(synthesized, {"Fn::FindInMap": ["AdotLayers", {"Ref": "AWS::Region"}, "arn"]})
    mapping = synthesized.raw["WriteBuffer"]["Mappings"]["AdotLayers"]
    assert mapping["eu-west-1"] == {"arn": ADOT_EU_WEST_1}
    assert len(mapping) == 17


def test_prod_traces_with_the_adot_layer_of_its_region(synthesized_prod: Synthesized) -> None:
    _check_adot(synthesized_prod, ADOT_EU_WEST_1)


def _with_tracing(stage: str, mode: str, **overrides: str) -> dict[str, Any]:
    context = copy.deepcopy(cdk_context(stage, **overrides))
    context[CONTEXT_KEY]["stages"][stage]["tracing"] = mode
    return context


@pytest.fixture(scope="module")
def synthesized_off(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The prod stage with tracing off, synthesized (cdk-nag included)."""
    outdir = tmp_path_factory.mktemp("cdk.out.off")
    app, stacks = build_app(_with_tracing("prod", "off", **PROD_TARGET), outdir=str(outdir))
    assembly = app.synth()
    return {s.node.id: assembly.get_stack_artifact(s.artifact_id).template for s in stacks}


def test_off_adds_no_layer_no_active_tracing_and_no_xray_permission(
    synthesized_off: dict[str, dict[str, Any]],
) -> None:
    for name in PIPELINES:
        template = Template.from_json(synthesized_off[name])
        functions = _consumers(template)
        assert functions, name
        for function in functions.values():
            props = function["Properties"]
            assert props["Environment"]["Variables"]["SQS_BLUEPRINT_TRACING"] == "off"
            assert "AWS_LAMBDA_EXEC_WRAPPER" not in props["Environment"]["Variables"]
            assert props.get("TracingConfig", {"Mode": "PassThrough"}) == {"Mode": "PassThrough"}
            assert not any("otel" in json.dumps(layer).lower() for layer in props["Layers"])
    for name, raw in synthesized_off.items():
        text = json.dumps(raw)
        assert "xray:" not in text, name
        assert "AWSOpenTelemetryDistroPython" not in text, name
    assert "SQS_BLUEPRINT_TRACING=off" in _worker_user_data(
        Template.from_json(synthesized_off["Workers"])
    )


def test_otlp_exports_to_the_xray_endpoint_of_the_stack_region(tmp_path: Path) -> None:
    app = App(context={"aws:cdk:bundling-stacks": []})
    stack = Stack(app, "T", env=Environment(account="123456789012", region="eu-west-1"))
    queue = QueueWithDlq(stack, "Q")
    SqsLambdaConsumer(
        stack,
        "C",
        queue=queue,
        handler="write_buffer",
        function_timeout=Duration.seconds(10),
        max_concurrency=2,
        tracing="otlp",
    )
    template = Template.from_stack(stack)
    (function,) = _consumers(template).values()
    env = function["Properties"]["Environment"]["Variables"]
    assert env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] == (
        "https://xray.eu-west-1.amazonaws.com/v1/traces"
    )
    assert env["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] == "http/protobuf"
    assert env["SQS_BLUEPRINT_TRACING"] == "on"
    assert function["Properties"]["TracingConfig"] == {"Mode": "Active"}
    assert ADOT_EU_WEST_1 in function["Properties"]["Layers"]


def test_a_bad_stage_value_fails_in_one_line() -> None:
    context = _with_tracing("dev", "on")
    with pytest.raises(ConfigError) as raised:
        load_stage(context[CONTEXT_KEY], "dev")
    (line,) = [line for line in str(raised.value).splitlines() if "tracing" in line]
    assert (
        "'sqs-blueprint.stages.dev.tracing' must be one of ['off', 'adot', 'otlp'], got 'on'"
    ) in line


def test_a_bad_construct_value_and_an_unpublished_region_are_refused() -> None:
    app = App(context={"aws:cdk:bundling-stacks": []})
    stack = Stack(app, "T", env=Environment(account="123456789012", region="af-south-1"))
    queue = QueueWithDlq(stack, "Q")
    kwargs: dict[str, Any] = {
        "queue": queue,
        "handler": "write_buffer",
        "function_timeout": Duration.seconds(10),
        "max_concurrency": 2,
    }
    with pytest.raises(InvalidPropsError) as raised:
        SqsLambdaConsumer(stack, "Bad", tracing="xray", **kwargs)
    assert "tracing='xray': must be one of ['off', 'adot', 'otlp']" in str(raised.value)
    with pytest.raises(InvalidPropsError) as raised:
        SqsLambdaConsumer(stack, "Far", tracing="adot", **kwargs)
    assert "region='af-south-1': the ADOT Python layer" in str(raised.value)
