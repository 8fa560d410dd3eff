"""Deprecated: the constructs are the package ``sqs_blueprint_cdk`` now.

``from stacks.patterns import QueueWithDlq`` and every ``stacks.patterns.<module>`` path
keep working for this release (each is the same module object as its
``sqs_blueprint_cdk.<module>``), with a DeprecationWarning; they go in the next one.
"""

import importlib
import pkgutil
import sys
import warnings

import sqs_blueprint_cdk
from sqs_blueprint_cdk import *  # noqa: F403
from sqs_blueprint_cdk import __all__ as __all__

warnings.warn(
    "stacks.patterns is now sqs_blueprint_cdk: import from there (the old path goes in the "
    "next release)",
    DeprecationWarning,
    stacklevel=2,
)
for _module in pkgutil.walk_packages(sqs_blueprint_cdk.__path__, "sqs_blueprint_cdk."):
    _old = f"{__name__}.{_module.name.removeprefix('sqs_blueprint_cdk.')}"
    sys.modules[_old] = importlib.import_module(_module.name)
