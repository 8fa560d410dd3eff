"""Shared test setup: jsii runs on the pinned Node.js 22 from node_modules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_NODE_BIN = ROOT / "node_modules" / ".bin"
if _NODE_BIN.is_dir() and str(_NODE_BIN) not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = f"{_NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``make test`` runs two workers), keep each session's shared
    world on one worker: the e2e tests share one embedded local cloud, which a unit
    test's ``mock_aws`` would reset if it ran between them in the same process, and the
    infra tests share one synth per worker. Unit tests spread over both workers.
    """
    for item in items:
        part = Path(str(item.path)).relative_to(ROOT).parts[1]
        if part in ("e2e", "infra"):
            item.add_marker(pytest.mark.xdist_group(part))
