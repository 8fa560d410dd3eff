"""Docker-free Lambda bundling: a handler folder plus the ``sqs_blueprint`` package.

A function's asset is a folder holding ``handler.py`` (one of the shipped handlers in
``sqs_blueprint_cdk/handlers/<name>/``, or a folder of your own app) with the runtime
library copied in beside it, from wherever ``sqs_blueprint`` is installed (without the
local cloud and the CLI, which need moto and are not for Lambda). Assets are hashed on
their output, so a change to the runtime library changes every function that carries
it (docs/aws-facts.md#tooling).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

import sqs_blueprint

HANDLERS_DIR = Path(__file__).resolve().parent / "handlers"
PACKAGE_DIR = Path(sqs_blueprint.__file__).resolve().parent
SHIPPED_HANDLERS = ("ordered", "responder", "write_buffer")
_NOT_FOR_LAMBDA = ("local", "cli", "console.py", "__pycache__", "*.pyc")


@jsii.implements(ILocalBundling)
class _CopyBundler:
    def __init__(self, function_dir: Path) -> None:
        self.function_dir = function_dir

    def try_bundle(self, output_dir: str, _options: Any = None, **_kwargs: Any) -> bool:
        out = Path(output_dir)
        shutil.copytree(
            self.function_dir,
            out,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        shutil.copytree(
            PACKAGE_DIR,
            out / PACKAGE_DIR.name,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns(*_NOT_FOR_LAMBDA),
        )
        return True


def handler_dir(handler: str | Path) -> Path:
    """The folder of ``handler``: a shipped handler's name, or a folder with ``handler.py``."""
    source = HANDLERS_DIR / handler if isinstance(handler, str) else Path(handler)
    if isinstance(handler, str) and handler not in SHIPPED_HANDLERS:
        raise FileNotFoundError(
            f"no shipped Lambda handler {handler!r} (shipped: {', '.join(SHIPPED_HANDLERS)}); "
            "pass the folder of your own handler.py as a Path"
        )
    if not (source / "handler.py").is_file():
        raise FileNotFoundError(f"no Lambda handler at {source / 'handler.py'}")
    return source


def function_code(handler: str | Path) -> lambda_.Code:
    """The asset of ``handler`` (see :func:`handler_dir`) with the runtime library in it."""
    source = handler_dir(handler)
    return lambda_.Code.from_asset(
        str(source),
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            image=DockerImage.from_registry("unused-local-bundling-only"),
            local=_CopyBundler(source),
        ),
    )
