"""The workers' AMI as a stage pins it (cdk.json ``workers.ami``).

- ``"latest"``: the newest Amazon Linux 2023 for the instance type's
  architecture, from AWS's public SSM parameter, resolved at every deploy: a
  deploy after a new AMI is published replaces every instance (dev, local);
- ``"ami-0123456789abcdef0"``: exactly that image, in the stage's region;
- ``"ssm:/name"``: the AMI id held in an SSM parameter the stage owns, resolved
  at deploy: the image moves only when someone puts a new value there
  (docs/deploying.md, "Moving the workers' AMI").

A pinned image must be an Amazon Linux 2023 build for the instance type's
architecture: the boot script uses its dnf, systemd and AWS CLI.
"""

from __future__ import annotations

import re

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from sqs_blueprint_cdk._validation import Problems

LATEST = "latest"
_AMI_ID = re.compile(r"ami-[0-9a-f]{8}(?:[0-9a-f]{9})?")
_SSM_NAME = re.compile(r"/[A-Za-z0-9_.\-/]{1,1010}")


def machine_image(scope: Construct, spec: str, *, arm: bool) -> ec2.IMachineImage:
    """The image ``spec`` names (module docstring), refused in one line if malformed."""
    problems = Problems(f"workers AMI '{scope.node.path}'")
    name = spec.removeprefix("ssm:")
    problems.check(
        spec == LATEST
        or _AMI_ID.fullmatch(spec) is not None
        or (spec.startswith("ssm:") and _SSM_NAME.fullmatch(name) is not None),
        "ami",
        spec,
        "must be 'latest', an AMI id (ami- and 8 or 17 hex digits) or 'ssm:/parameter/name'",
        "pin prod with 'ssm:/sqs-blueprint/<stage>/workers-ami' or an AMI id",
    )
    problems.raise_if_any()
    if spec == LATEST:
        cpu = ec2.AmazonLinuxCpuType.ARM_64 if arm else ec2.AmazonLinuxCpuType.X86_64
        return ec2.MachineImage.latest_amazon_linux2023(cpu_type=cpu)
    if spec.startswith("ssm:"):
        return ec2.MachineImage.from_ssm_parameter(name)
    return ec2.MachineImage.generic_linux({Stack.of(scope).region: spec})
