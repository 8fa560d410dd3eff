"""`sqs-blueprint demo --json`, the main job, run as a user runs it (a separate process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app import build_app
from tests.infra.conftest import cdk_context

pytestmark = pytest.mark.e2e


def test_demo_loses_nothing_and_reports_every_figure(tmp_path: Path) -> None:
    app, _ = build_app(cdk_context("local"), outdir=str(tmp_path))
    app.synth()
    command = [sys.executable, "-m", "sqs_blueprint.cli", "demo", "--json", "--messages", "20"]
    done = subprocess.run(
        [*command, "--cdk-out", str(tmp_path)], capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (line,) = done.stdout.splitlines()  # --json: one object and nothing else on stdout
    summary = json.loads(line)
    # 20 ordinary + 4 duplicates + 2 large + 2 from the partner's bucket (see demo.py).
    assert summary["produced"] == 28 and summary["unique"] == 24
    assert summary["written"] == summary["unique"] and summary["duplicates_absorbed"] == 4
    assert summary["offloaded"] == 4
    assert summary["dead_lettered"] == summary["redriven"] == 2
    assert summary["lost"] == 0 and summary["written_twice"] == 0
    assert 0 < summary["max_write_rate_wcu"] <= summary["provisioned_wcu"]
    assert summary["ordered"]["latest_versions_kept"] == summary["ordered"]["accounts"] == 10
    assert summary["ordered"]["dead_lettered"] == 1


def test_demo_without_an_assembly_says_how_to_make_one(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "sqs_blueprint.cli", "demo", "--cdk-out", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "run `make synth STAGE=local` first" in done.stderr
