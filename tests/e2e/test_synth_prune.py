"""``make synth`` leaves in cdk.out only the templates the last synth wrote."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
PRUNE = "-m sqs_blueprint.local.assembly cdk.out"


def test_pruning_removes_what_the_manifest_no_longer_lists(
    fixture_assembly: Path, tmp_path: Path
) -> None:
    out = tmp_path / "cdk.out"
    shutil.copytree(fixture_assembly, out)
    kept = sorted(p.name for p in out.glob("*.json"))
    stale = [out / "sqs-blueprint-dev-orders.template.json", out / "Orders.assets.json"]
    for path in stale:
        path.write_text("{}")
    assets = [p for p in out.iterdir() if p.is_dir()]

    done = subprocess.run(
        [sys.executable, *PRUNE.split()[:2], str(out)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )

    assert done.stdout == f"{out / 'RunnerFixture.template.json'}\n"
    assert sorted(p.name for p in out.glob("*.json")) == kept
    assert assets and all(p.is_dir() for p in assets)  # a running local cloud uses them


def test_make_synth_prunes_after_synthesizing() -> None:
    done = subprocess.run(
        ["make", "-n", "synth"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    lines = done.stdout.splitlines()
    synth = next(i for i, line in enumerate(lines) if " synth --quiet" in line)
    assert any(line.endswith(f"python {PRUNE}") for line in lines[synth + 1 :]), done.stdout
