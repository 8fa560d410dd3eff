"""The worker's install bundle: the ``sqs_blueprint`` wheel plus its runtime dependencies.

Built at synth without Docker, so an instance installs offline (``pip install
--no-index --find-links``) and never needs a package index at boot:

- the package wheel is built by pip (``pip wheel --no-deps --no-build-isolation``
  with the pinned setuptools) from a staged copy of the package without
  ``sqs_blueprint/local`` (it needs moto and is not for hosts in AWS), with
  ``SOURCE_DATE_EPOCH`` fixed and file modes normalised, so two builds of the
  same sources give the same bytes and the asset hash changes only with the
  package;
- the dependencies it declares (``Requires-Dist``) are downloaded as wheels for
  the instance's platform and Python (``pip download --only-binary=:all:
  --platform ... --python-version ...``), held to the versions pinned in
  requirements*.txt, and cached per (requirements, pins, platform) so repeated
  synths do not ask the index again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import ILocalBundling

import sqs_blueprint
from sqs_blueprint.errors import SqsBlueprintError

PACKAGE_DIR = Path(sqs_blueprint.__file__).resolve().parent
# The source checkout the wheel is built from: its pyproject.toml and requirements pins.
ROOT = PACKAGE_DIR.parent
_LEFT_OUT = ("local",)  # subpackages the wheel does not carry
# The project's README is its long description; leaving it out keeps the wheel (and the
# asset hash) unchanged when only the README changes.
_README = re.compile(r"^readme\s*=.*\n", re.M)
# 1980-01-01, the earliest time a zip entry can hold: every build stamps this.
SOURCE_DATE_EPOCH = 315_532_800
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(\S+)")


class BundleError(SqsBlueprintError):
    """pip could not build the worker's wheel or download its dependencies."""


@dataclass(frozen=True)
class Target:
    """The instance's platform as pip names it, and the Python the venv runs."""

    platform: str = "manylinux2014_aarch64"
    python_version: str = "3.11"

    @classmethod
    def for_arm(cls, arm: bool) -> Target:
        return cls(platform="manylinux2014_aarch64" if arm else "manylinux2014_x86_64")


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sqs-blueprint" / "wheels"


def build_bundle(output_dir: Path, target: Target, cache: Path | None = None) -> list[Path]:
    """Write the package wheel and its dependencies' wheels into ``output_dir``."""
    output_dir.mkdir(parents=True, exist_ok=True)
    wheel = build_package_wheel(output_dir)
    wheels = [wheel]
    for cached in _dependencies(requirements_of(wheel), target, cache or default_cache()):
        wheels.append(Path(shutil.copyfile(cached, output_dir / cached.name)))
    return sorted(wheels)


def build_package_wheel(output_dir: Path) -> Path:
    """Build the ``sqs_blueprint`` wheel with pip, reproducibly; return its path."""
    with tempfile.TemporaryDirectory(prefix="sqs-blueprint-wheel-") as tmp:
        staged = Path(tmp) / "src"
        _stage(staged)
        built = Path(tmp) / "dist"
        _pip(
            "wheel", "--no-deps", "--no-build-isolation", "--no-index",
            "--wheel-dir", str(built), str(staged),
            env={"SOURCE_DATE_EPOCH": str(SOURCE_DATE_EPOCH)},
        )  # fmt: skip
        (wheel,) = built.glob("*.whl")
        output_dir.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copyfile(wheel, output_dir / wheel.name))


def requirements_of(wheel: Path) -> list[str]:
    """The wheel's unconditional ``Requires-Dist`` entries (extras are not installed)."""
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        lines = archive.read(metadata).decode().splitlines()
    found = [
        x.removeprefix("Requires-Dist:").strip() for x in lines if x.startswith("Requires-Dist:")
    ]
    return sorted(r for r in found if "extra ==" not in r)


def pins(
    files: Sequence[Path] = (ROOT / "requirements.txt", ROOT / "requirements-dev.txt"),
) -> list[str]:
    """``name==version`` of every exact pin in the requirements files (extras dropped)."""
    found: set[str] = set()
    for path in files:
        for line in path.read_text().splitlines():
            match = _PIN.match(line.strip())
            if match:
                found.add(f"{match.group(1).lower()}=={match.group(3)}")
    return sorted(found)


def _stage(staged: Path) -> None:
    """Copy what setuptools needs, with the package's modules only, mode 0644."""
    if not (ROOT / "pyproject.toml").is_file():
        raise BundleError(
            f"the workers' bundle is built from a source checkout of sqs-blueprint, and "
            f"{PACKAGE_DIR} is an installed copy (no pyproject.toml beside it). Fix: install "
            "sqs-blueprint from its checkout in editable mode (pip install -e '.[cdk]'), "
            "or leave Ec2QueueWorkers out of this app"
        )
    staged.mkdir(parents=True)
    pyproject = (ROOT / "pyproject.toml").read_text()
    (staged / "pyproject.toml").write_text(_README.sub("", pyproject, count=1))
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        relative = path.relative_to(PACKAGE_DIR)
        if relative.parts[0] in _LEFT_OUT or "__pycache__" in relative.parts:
            continue
        _copy(path, staged / PACKAGE_DIR.name / relative)


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    target.chmod(0o644)


def _dependencies(requirements: list[str], target: Target, cache: Path) -> list[Path]:
    """The dependency wheels from the cache, downloading them once per key."""
    if not requirements:
        return []
    constraints = pins()
    key_data = json.dumps([requirements, constraints, target.platform, target.python_version])
    folder = cache / hashlib.sha256(key_data.encode()).hexdigest()[:24]
    if not (folder / ".complete").exists():
        cache.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f"{folder.name}.", dir=cache))
        constraint_file = partial / "constraints.txt"
        constraint_file.write_text("".join(f"{c}\n" for c in constraints))
        try:
            _pip(
                "download", "--only-binary=:all:", "--platform", target.platform,
                "--python-version", target.python_version, "--implementation", "cp",
                "--constraint", str(constraint_file), "--dest", str(partial), *requirements,
            )  # fmt: skip
        except BundleError:
            shutil.rmtree(partial)
            raise
        constraint_file.unlink()
        (partial / ".complete").touch()
        if not (folder / ".complete").exists():
            shutil.rmtree(folder, ignore_errors=True)
            partial.rename(folder)
        else:
            shutil.rmtree(partial)
    return sorted(folder.glob("*.whl"))


def _pip(*args: str, env: dict[str, str] | None = None) -> None:
    command = [sys.executable, "-m", "pip", *args, "--disable-pip-version-check", "--quiet"]
    result = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False
    )
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise BundleError(
            f"pip {args[0]} for the workers' bundle failed (exit {result.returncode}): "
            f"{detail[0]}. Fix: run '{' '.join(command)}' to see the whole error; pip needs "
            "the pinned setuptools (requirements-dev.txt) and, on the first synth, a package "
            "index"
        )


@jsii.implements(ILocalBundling)
class BundleBuilder:
    """Local bundling (no Docker): the output directory becomes the bundle."""

    def __init__(self, target: Target) -> None:
        self.target = target

    def try_bundle(self, output_dir: str, _options: Any = None, **_kwargs: Any) -> bool:
        build_bundle(Path(output_dir), self.target)
        return True
