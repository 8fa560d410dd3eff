"""Read a CDK cloud assembly (``cdk.out``): its stacks, templates and file assets.

Only the parts a deployment needs: the manifest's stack artifacts in dependency
order, each stack's template, and the file assets of its asset manifest
(``<stack>.assets.json``) with their destinations.
"""

from __future__ import annotations

import graphlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqs_blueprint.errors import SqsBlueprintError

_STACK = "aws:cloudformation:stack"
BLUEPRINT_PROJECT = "sqs-blueprint"  # the ``project`` tag app.py puts on every stack
LOCAL_STAGE = "local"  # the stage sized for the local cloud
_ASSETS = "cdk:asset-manifest"


class AssemblyError(SqsBlueprintError):
    """The cloud assembly is missing or not one this module can read."""


@dataclass(frozen=True)
class FileAsset:
    """One file asset: a local file or directory and where it must be uploaded."""

    asset_id: str
    source: Path
    packaging: str  # "file" or "zip"
    destinations: tuple[tuple[str, str], ...]  # (bucketName, objectKey), placeholders unresolved

    @property
    def is_directory(self) -> bool:
        return self.source.is_dir()


@dataclass(frozen=True)
class StackArtifact:
    """One stack of the assembly, ready to deploy."""

    artifact_id: str
    stack_name: str
    template: dict[str, Any]
    assets: tuple[FileAsset, ...]
    docker_images: tuple[str, ...]  # ids of container image assets (not published locally)
    tags: tuple[tuple[str, str], ...] = ()  # the stack tags the manifest lists


@dataclass(frozen=True)
class Assembly:
    directory: Path
    stacks: tuple[StackArtifact, ...]  # in dependency order

    def stack(self, artifact_id: str) -> StackArtifact:
        for stack in self.stacks:
            if stack.artifact_id == artifact_id:
                return stack
        known = ", ".join(s.artifact_id for s in self.stacks)
        raise AssemblyError(f"no stack {artifact_id!r} in {self.directory} (stacks: {known})")

    def blueprint_stages(self) -> set[str]:
        """The blueprint stages (the ``stage`` tag of stacks tagged ``project=sqs-blueprint``)
        this assembly holds; empty for another app's assembly."""
        return {
            tags["stage"]
            for tags in (dict(stack.tags) for stack in self.stacks)
            if tags.get("project") == BLUEPRINT_PROJECT and "stage" in tags
        }

    def check_local_stage(self) -> None:
        """Refuse a blueprint assembly of a stage other than ``local``: its sizes and names are
        an AWS account's, not the local cloud's (another app's assembly passes)."""
        other = sorted(self.blueprint_stages() - {LOCAL_STAGE})
        if other:
            raise AssemblyError(
                f"{self.directory} holds the {', '.join(map(repr, other))} stage, not "
                f"{LOCAL_STAGE!r}; the local cloud runs the {LOCAL_STAGE!r} stage, sized for this "
                f"machine: run `make synth STAGE={LOCAL_STAGE}` (or pass --any-stage to deploy "
                "it anyway)"
            )


def read_assembly(directory: str | Path) -> Assembly:
    """Read ``directory``/manifest.json and every stack it lists, dependencies first."""
    root = Path(directory).resolve()  # runtimes run with their own working directory
    manifest_path = root / "manifest.json"
    if not manifest_path.is_file():
        raise AssemblyError(
            f"{root} is not a synthesized cloud assembly (no manifest.json); "
            "run `make synth` (or `cdk synth`) first"
        )
    artifacts: dict[str, dict[str, Any]] = _load(manifest_path).get("artifacts", {})
    stack_ids = [k for k, v in artifacts.items() if v.get("type") == _STACK]
    if not stack_ids:
        raise AssemblyError(f"{manifest_path} lists no CloudFormation stacks")
    order = graphlib.TopologicalSorter(
        {
            sid: [d for d in artifacts[sid].get("dependencies", []) if d in stack_ids]
            for sid in stack_ids
        }
    ).static_order()
    return Assembly(root, tuple(_stack(root, sid, artifacts) for sid in order))


def prune(directory: str | Path) -> list[Path]:
    """Remove the stack templates and asset manifests in ``directory`` that its manifest no
    longer lists (a stage synthesized there before, an own pipeline since removed), so the
    folder holds only what the last synth wrote; asset folders stay for a running local
    cloud. Returns the templates that remain."""
    root = Path(directory)
    artifacts: dict[str, dict[str, Any]] = _load(root / "manifest.json").get("artifacts", {})
    listed = {
        a.get("properties", {}).get(key)
        for a in artifacts.values()
        for key in ("templateFile", "file")
    }
    for stale in (*root.glob("*.template.json"), *root.glob("*.assets.json")):
        if stale.name not in listed:
            stale.unlink()
    return sorted(root.glob("*.template.json"))


def _stack(root: Path, artifact_id: str, artifacts: dict[str, dict[str, Any]]) -> StackArtifact:
    artifact = artifacts[artifact_id]
    props = artifact.get("properties", {})
    assets: list[FileAsset] = []
    images: list[str] = []
    for dep in artifact.get("dependencies", []):
        dep_artifact = artifacts.get(dep, {})
        if dep_artifact.get("type") != _ASSETS:
            continue
        asset_manifest = _load(root / dep_artifact["properties"]["file"])
        assets += [
            _file_asset(root, aid, spec) for aid, spec in asset_manifest.get("files", {}).items()
        ]
        images += list(asset_manifest.get("dockerImages", {}))
    return StackArtifact(
        artifact_id=artifact_id,
        stack_name=props.get("stackName", artifact_id),
        template=_load(root / props["templateFile"]),
        assets=tuple(assets),
        docker_images=tuple(images),
        tags=tuple(sorted(props.get("tags", {}).items())),
    )


def _file_asset(root: Path, asset_id: str, spec: dict[str, Any]) -> FileAsset:
    source = spec["source"]
    if "path" not in source:
        raise AssemblyError(
            f"asset {asset_id} is built by a command ({source}); only path assets can be published"
        )
    return FileAsset(
        asset_id=asset_id,
        source=root / source["path"],
        packaging=source.get("packaging", "file"),
        destinations=tuple(
            (d["bucketName"], d["objectKey"]) for d in spec.get("destinations", {}).values()
        ),
    )


def _load(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise AssemblyError(f"{path} is missing; run `make synth` again") from exc
    except ValueError as exc:
        raise AssemblyError(f"{path} is not valid JSON: {exc}") from exc
    return data


if __name__ == "__main__":  # make synth: prune the assembly, then list its templates
    import sys

    for template in prune(sys.argv[1]):
        print(template)
