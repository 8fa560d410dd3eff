"""A pure-Python wheel of ``sqs_blueprint``, written at synth with the standard library.

EC2 workers install the runtime library from an S3 asset. Building that wheel
with ``pip wheel`` would need setuptools and wheel in the synth environment (or
Docker); the package is pure Python, so :func:`build_wheel` writes the archive
itself: the package's modules plus a ``.dist-info`` with METADATA, WHEEL,
entry_points.txt and RECORD (the wheel format, PEP 427 / PEP 491). Name,
version, dependencies and console scripts come from ``pyproject.toml``.

The archive is reproducible (sorted entries, fixed timestamps and modes), so an
asset hashed on its output changes exactly when the package changes (FACTS §8).
The local cloud (``sqs_blueprint/local``) stays out: it needs moto and is not
for hosts in AWS.
"""

from __future__ import annotations

import base64
import hashlib
import re
import tomllib
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import ILocalBundling

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
PACKAGE_DIR = ROOT / "sqs_blueprint"
_LEFT_OUT = ("local",)  # subpackages the wheel does not carry
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
TAG = "py3-none-any"


@dataclass(frozen=True)
class Project:
    """What the wheel's metadata says, read from ``pyproject.toml``."""

    name: str
    version: str
    summary: str
    requires_python: str
    dependencies: tuple[str, ...]
    extras: Mapping[str, tuple[str, ...]]
    scripts: Mapping[str, str]

    @classmethod
    def load(cls, pyproject: Path = PYPROJECT) -> Project:
        data: dict[str, Any] = tomllib.loads(pyproject.read_text())["project"]
        return cls(
            name=data["name"],
            version=data["version"],
            summary=data.get("description", ""),
            requires_python=data.get("requires-python", ""),
            dependencies=tuple(data.get("dependencies", ())),
            extras={k: tuple(v) for k, v in data.get("optional-dependencies", {}).items()},
            scripts=dict(data.get("scripts", {})),
        )

    @property
    def distribution(self) -> str:
        """The name as a wheel file spells it (PEP 427: runs of ``-_.`` become ``_``)."""
        return re.sub(r"[-_.]+", "_", self.name).lower()

    @property
    def wheel_name(self) -> str:
        return f"{self.distribution}-{self.version}-{TAG}.whl"


def _metadata(project: Project) -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project.name}",
        f"Version: {project.version}",
    ]
    if project.summary:
        lines.append(f"Summary: {project.summary}")
    if project.requires_python:
        lines.append(f"Requires-Python: {project.requires_python}")
    lines += [f"Requires-Dist: {d}" for d in project.dependencies]
    for extra, requirements in sorted(project.extras.items()):
        lines.append(f"Provides-Extra: {extra}")
        lines += [f'Requires-Dist: {r}; extra == "{extra}"' for r in requirements]
    return "\n".join(lines) + "\n"


def _entry_points(project: Project) -> str:
    scripts = "".join(f"{name} = {target}\n" for name, target in sorted(project.scripts.items()))
    return f"[console_scripts]\n{scripts}" if scripts else ""


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def package_files(package_dir: Path = PACKAGE_DIR) -> Iterable[tuple[str, bytes]]:
    """``(archive name, content)`` of every module the wheel carries, sorted."""
    for path in sorted(package_dir.rglob("*.py")):
        relative = path.relative_to(package_dir)
        if relative.parts[0] in _LEFT_OUT or "__pycache__" in relative.parts:
            continue
        yield f"{package_dir.name}/{relative.as_posix()}", path.read_bytes()


def build_wheel(
    output_dir: Path, *, project: Project | None = None, package_dir: Path = PACKAGE_DIR
) -> Path:
    """Write the wheel into ``output_dir`` and return its path."""
    project = project or Project.load()
    dist_info = f"{project.distribution}-{project.version}.dist-info"
    files = list(package_files(package_dir))
    files.append((f"{dist_info}/METADATA", _metadata(project).encode()))
    files.append(
        (
            f"{dist_info}/WHEEL",
            (
                "Wheel-Version: 1.0\nGenerator: sqs-blueprint stacks\n"
                f"Root-Is-Purelib: true\nTag: {TAG}\n"
            ).encode(),
        )
    )
    entry_points = _entry_points(project)
    if entry_points:
        files.append((f"{dist_info}/entry_points.txt", entry_points.encode()))
    record_name = f"{dist_info}/RECORD"
    record = "".join(_record_line(n, d) + "\n" for n, d in files) + f"{record_name},,\n"
    files.append((record_name, record.encode()))

    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / project.wheel_name
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return target


@jsii.implements(ILocalBundling)
class WheelBundler:
    """Local bundling (no Docker) that leaves exactly one file, the wheel, in the output."""

    def try_bundle(self, output_dir: str, _options: Any = None, **_kwargs: Any) -> bool:
        build_wheel(Path(output_dir))
        return True
