"""`sqs-blueprint demo --json`, the main job, run as a user runs it (a separate process).

Its figures come from the local cloud's write meter, which counts every
DynamoDB write at the server; the expectations here are computed from the
workload the demo describes, not read back from the demo's own plan.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from app import build_app
from tests.infra.conftest import cdk_context

pytestmark = pytest.mark.e2e

DEMO = [sys.executable, "-m", "sqs_blueprint.cli", "demo"]
# --messages 20: 20 ordinary records (1 WCU items), 4 duplicates of them, 2 large
# bodies of 20,000 bytes (20 WCU items: ceil(20.1 KB)), 2 partner records (1 WCU).
ORDINARY, DUPLICATES, LARGE, PARTNER = 20, 4, 2, 2
LARGE_WCU = math.ceil(20_100 / 1024)


def test_demo_synthesizes_the_local_stage_and_every_record_is_written_once(
    tmp_path: Path,
) -> None:
    assembly = tmp_path / "cdk.out.local"  # empty: the demo synthesizes the local stage
    command = [*DEMO, "--json", "--messages", "20", "--cdk-out", str(assembly)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (assembly / "manifest.json").is_file()
    (line,) = done.stdout.splitlines()  # --json: one object and nothing else on stdout
    summary = json.loads(line)
    unique = ORDINARY + LARGE + PARTNER
    assert summary["produced"] == unique + DUPLICATES and summary["unique"] == unique
    assert summary["completed"] is True
    assert summary["written"] == unique
    assert (summary["waiting_in_dlq"], summary["in_flight"], summary["lost"]) == (0, 0, 0)
    # Measured at the server: one write per key, so the duplicates never reached the table
    # and every WCU charged is one unique item's.
    assert summary["written_twice"] == 0
    assert summary["duplicates_absorbed"] == DUPLICATES
    assert summary["written_wcu"] == ORDINARY + PARTNER + LARGE * LARGE_WCU
    assert summary["offloaded"] == LARGE + PARTNER
    assert summary["dead_lettered"] == summary["redriven"] == PARTNER
    assert LARGE_WCU <= summary["max_write_rate_wcu"] <= summary["provisioned_wcu"]
    assert summary["ordered"]["latest_versions_kept"] == summary["ordered"]["accounts"] == 10
    assert summary["ordered"]["dead_lettered"] == 1


def test_demo_refuses_another_stages_assembly(tmp_path: Path) -> None:
    app, _ = build_app(cdk_context("dev"), outdir=str(tmp_path))
    app.synth()
    done = subprocess.run(
        [*DEMO, "--cdk-out", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr[-3000:]
    assert done.stderr.strip() == (
        f"sqs-blueprint demo: {tmp_path} holds another stage (stack "
        "'sqs-blueprint-dev-write-buffer', not 'sqs-blueprint-local-write-buffer'); the demo "
        "runs the 'local' stage, sized for the local cloud: run `make demo`, or pass --cdk-out "
        "with an empty folder and the demo synthesizes it there"
    )


def test_demo_needs_twenty_messages(tmp_path: Path) -> None:
    command = [*DEMO, "--messages", "5", "--cdk-out", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == "sqs-blueprint demo: --messages must be at least 20, got 5"
