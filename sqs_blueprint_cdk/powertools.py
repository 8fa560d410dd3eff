"""The Powertools for AWS Lambda (Python) release the functions run, in one place.

The functions take Powertools from its public Lambda layer; the tests run the
same release from PyPI (requirements-dev.txt pins ``aws-lambda-powertools``,
and tests/infra/test_powertools.py checks that the pin equals ``RELEASE``).

Sources (Powertools documentation, "Lambda Layer"):
https://docs.aws.amazon.com/powertools/python/latest/getting-started/install/
- the commercial layer is published by account 017000801446 in ``REGIONS``;
  China (cn-north-1) and GovCloud (us-gov-east-1, us-gov-west-1) have their own
  publisher accounts (``PUBLISHERS``);
- layer version 27 is the last one built for Python 3.9, which Powertools
  dropped in release 3.24.0
  (https://github.com/aws-powertools/powertools-lambda-python/issues/8434), so
  it carries 3.23.0, the only 3.23 release and the last before 3.24.0 on PyPI
  (consistent with layer 36 carrying 3.31.1, nine releases later);
- layer version 27 is published for python3.10 to python3.14 (and 3.9).

Check the pair before a change: ``aws lambda get-layer-version-by-arn --arn
<ARN> --query Description`` ends with the release the layer carries.

To move to a newer release, change ``LAYER_VERSION`` and ``RELEASE`` together
and the pin in requirements-dev.txt to the same release, then run
``make test``: the pairing test fails while the three disagree.
"""

from __future__ import annotations

from aws_cdk import CfnMapping, Stack, Token
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from sqs_blueprint_cdk._validation import Problems

RELEASE = "3.23.0"
LAYER_VERSION = 27
# The newest Python runtime the layer is published for (python3.10 to python3.14).
RUNTIME = lambda_.Runtime.PYTHON_3_14
SOURCE = "https://docs.aws.amazon.com/powertools/python/latest/getting-started/install/"

_COMMERCIAL = ("aws", "017000801446")
REGIONS = (
    "af-south-1",
    "ap-east-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ca-central-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
)
# Region -> (partition, publisher account).
PUBLISHERS: dict[str, tuple[str, str]] = {
    **dict.fromkeys(REGIONS, _COMMERCIAL),
    "cn-north-1": ("aws-cn", "498634801083"),
    "us-gov-east-1": ("aws-us-gov", "165087284144"),
    "us-gov-west-1": ("aws-us-gov", "165093116878"),
}
_ARCHITECTURES = ("arm64", "x86_64")
_MAPPING_ID = "PowertoolsLayers"


def layer_arn(region: str, architecture: str) -> str:
    """The public layer's ARN in ``region`` (one of ``PUBLISHERS``)."""
    partition, account = PUBLISHERS[region]
    python = RUNTIME.name.replace(".", "")  # python3.14 -> python314
    return (
        f"arn:{partition}:lambda:{region}:{account}:layer:"
        f"AWSLambdaPowertoolsPythonV3-{python}-{architecture}:{LAYER_VERSION}"
    )


def layer(scope: Construct, architecture: lambda_.Architecture) -> lambda_.ILayerVersion:
    """The Powertools layer for the stack of ``scope``.

    A stack with a concrete region gets the ARN at synth, and synth fails for a
    region where the layer is not published. A region-agnostic stack (``dev``
    and ``local`` follow the CLI's region) looks the ARN up at deploy in a
    CloudFormation mapping of every published region; CloudFormation refuses
    the template in any other region before it creates anything.
    """
    stack = Stack.of(scope)
    arch = architecture.name
    if Token.is_unresolved(stack.region):
        arn = _mapping(stack).find_in_map(stack.region, _key(arch))
    else:
        problems = Problems(f"Powertools layer of '{scope.node.path}'")
        problems.check(
            stack.region in PUBLISHERS,
            "region",
            stack.region,
            f"the Powertools layer is published only in {sorted(PUBLISHERS)} ({SOURCE})",
            "deploy the stage to one of these regions (region in cdk.json), or add the "
            "region to sqs_blueprint_cdk/powertools.py once Powertools publishes it there",
        )
        problems.raise_if_any()
        arn = layer_arn(stack.region, arch)
    return lambda_.LayerVersion.from_layer_version_arn(scope, "Powertools", arn)


def _mapping(stack: Stack) -> CfnMapping:
    found = stack.node.try_find_child(_MAPPING_ID)
    if isinstance(found, CfnMapping):
        return found
    return CfnMapping(
        stack,
        _MAPPING_ID,
        mapping={
            region: {_key(arch): layer_arn(region, arch) for arch in _ARCHITECTURES}
            for region in PUBLISHERS
        },
    )


def _key(architecture: str) -> str:
    """Mapping attribute names are alphanumeric: ``x86_64`` becomes ``x8664``."""
    return architecture.replace("_", "")
