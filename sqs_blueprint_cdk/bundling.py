"""Docker-free Lambda bundling: the handler plus the ``sqs_blueprint`` package.

Each function's asset is its ``lambdas/<name>/`` folder with the runtime library
copied in beside it (without the local cloud and the CLI, which need moto and
are not for Lambda). Assets are hashed on their output, so a change to the
shared package changes every function that carries it (docs/aws-facts.md#tooling).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

ROOT = Path(__file__).resolve().parents[2]
LAMBDAS_DIR = ROOT / "lambdas"
PACKAGE_DIR = ROOT / "sqs_blueprint"
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


def function_code(name: str) -> lambda_.Code:
    """The asset of ``lambdas/<name>/`` with the runtime library bundled in."""
    source = LAMBDAS_DIR / name
    if not (source / "handler.py").is_file():
        raise FileNotFoundError(f"no Lambda handler at lambdas/{name}/handler.py")
    return lambda_.Code.from_asset(
        str(source),
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            image=DockerImage.from_registry("unused-local-bundling-only"),
            local=_CopyBundler(source),
        ),
    )
