"""The embedded local cloud: deploy synthesized stacks into moto and run their
event-source mappings against the real handlers.

This package imports moto; nothing else in ``sqs_blueprint`` (except the CLI) may.
Its public names load on first use, so that the pure :mod:`sqs_blueprint.local.filters`
(which CDK patterns use at synth) imports neither boto3 nor moto.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqs_blueprint.local.assembly import Assembly, AssemblyError, read_assembly
    from sqs_blueprint.local.deploy import DeployedStack, DeployError, Skipped
    from sqs_blueprint.local.server import LocalCloud

_HOMES = {
    "Assembly": "assembly",
    "AssemblyError": "assembly",
    "read_assembly": "assembly",
    "DeployError": "deploy",
    "DeployedStack": "deploy",
    "Skipped": "deploy",
    "LocalCloud": "server",
}

__all__ = [
    "Assembly",
    "AssemblyError",
    "DeployError",
    "DeployedStack",
    "LocalCloud",
    "Skipped",
    "read_assembly",
]


def __getattr__(name: str) -> Any:
    """Load the module that defines ``name`` when it is first asked for."""
    if name in _HOMES:
        return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
