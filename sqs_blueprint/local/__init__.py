"""The embedded local cloud: deploy synthesized stacks into moto and run their
event-source mappings against the real handlers.

This package imports moto; nothing else in ``sqs_blueprint`` (except the CLI) may.
"""

from sqs_blueprint.local.assembly import Assembly, AssemblyError, read_assembly
from sqs_blueprint.local.deploy import DeployedStack, DeployError, Skipped
from sqs_blueprint.local.server import LocalCloud, LocalCloudError

__all__ = [
    "Assembly",
    "AssemblyError",
    "DeployError",
    "DeployedStack",
    "LocalCloud",
    "LocalCloudError",
    "Skipped",
    "read_assembly",
]
