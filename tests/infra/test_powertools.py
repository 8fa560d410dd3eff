"""The Powertools layer: the release the tests run, the ARN per region, the runtime."""

from __future__ import annotations

import re
from importlib import metadata
from typing import Any

import pytest
from aws_cdk import App, Duration, Environment, Stack
from aws_cdk.assertions import Template

from sqs_blueprint_cdk import InvalidPropsError, QueueWithDlq, SqsLambdaConsumer, powertools
from tests.infra.conftest import ROOT


def pinned(requirements: str, package: str) -> str:
    (version,) = re.findall(rf"^{re.escape(package)}==(\S+)$", requirements, re.MULTILINE)
    return version


def test_the_tests_run_the_release_the_layer_carries() -> None:
    """Bump LAYER_VERSION, RELEASE and the pin together (sqs_blueprint_cdk/powertools.py)."""
    requirements = (ROOT / "requirements-dev.txt").read_text()
    assert pinned(requirements, "aws-lambda-powertools") == powertools.RELEASE
    assert metadata.version("aws-lambda-powertools") == powertools.RELEASE
    assert (powertools.LAYER_VERSION, powertools.RELEASE) == (27, "3.23.0")


def functions(template: Template) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template.find_resources("AWS::Lambda::Function").values()]


def test_prod_functions_use_the_layer_published_in_their_region(synthesized_prod: Any) -> None:
    arn = (
        "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-arm64:27"
    )
    for name in ("WriteBuffer", "Ordered", "RequestResponse"):
        (fn,) = functions(synthesized_prod.templates[name])
        # beside the ADOT layer of prod's tracing (test_tracing_templates.py)
        assert sorted(fn["Layers"]) == [
            arn,
            "arn:aws:lambda:eu-west-1:615299751070:layer:AWSOpenTelemetryDistroPython:25",
        ]
        assert fn["Runtime"] == "python3.14"
        assert "Mappings" not in synthesized_prod.raw[name]


def test_region_agnostic_stages_look_the_layer_up_at_deploy(synthesized: Any) -> None:
    raw = synthesized.raw["WriteBuffer"]
    mapping = raw["Mappings"]["PowertoolsLayers"]
    assert set(mapping) == set(powertools.PUBLISHERS)
    assert mapping["eu-west-1"]["arm64"] == (
        "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-arm64:27"
    )
    assert mapping["us-east-1"]["x8664"].endswith("-python314-x86_64:27")
    (fn,) = functions(synthesized.templates["WriteBuffer"])
    # beside the ADOT layer of dev's tracing (test_tracing_templates.py)
    assert sorted(fn["Layers"], key=str) == [
        {"Fn::FindInMap": ["AdotLayers", {"Ref": "AWS::Region"}, "arn"]},
        {"Fn::FindInMap": ["PowertoolsLayers", {"Ref": "AWS::Region"}, "arm64"]},
    ]


def consumer_in(region: str, **env: Any) -> Stack:
    app = App(context={"aws:cdk:bundling-stacks": []})
    stack = Stack(app, "Test", env=Environment(region=region, **env))
    SqsLambdaConsumer(
        stack,
        "Consumer",
        queue=QueueWithDlq(stack, "Pair"),
        handler="write_buffer",
        function_timeout=Duration.seconds(30),
        max_concurrency=2,
    )
    return stack


@pytest.mark.parametrize(
    ("region", "arn"),
    [
        (
            "cn-north-1",
            "arn:aws-cn:lambda:cn-north-1:498634801083:layer:"
            "AWSLambdaPowertoolsPythonV3-python314-arm64:27",
        ),
        (
            "us-gov-west-1",
            "arn:aws-us-gov:lambda:us-gov-west-1:165093116878:layer:"
            "AWSLambdaPowertoolsPythonV3-python314-arm64:27",
        ),
        (
            "us-gov-east-1",
            "arn:aws-us-gov:lambda:us-gov-east-1:165087284144:layer:"
            "AWSLambdaPowertoolsPythonV3-python314-arm64:27",
        ),
    ],
)
def test_other_partitions_take_their_own_publisher(region: str, arn: str) -> None:
    Template.from_stack(consumer_in(region)).has_resource_properties(
        "AWS::Lambda::Function", {"Layers": [arn]}
    )


def test_a_region_without_the_layer_fails_synth_saying_where_it_is_published() -> None:
    with pytest.raises(InvalidPropsError) as error:
        consumer_in("ap-east-2")
    text = str(error.value)
    assert text.startswith(
        "Powertools layer of 'Test/Consumer': 1 invalid setting:\n"
        "  - region='ap-east-2': the Powertools layer is published only in ['af-south-1', "
    )
    assert powertools.SOURCE in text
    assert (
        "Fix: deploy the stage to one of these regions (region in cdk.json), or add the "
        "region to sqs_blueprint_cdk/powertools.py once Powertools publishes it there."
    ) in text
