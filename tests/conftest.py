"""Shared test setup: jsii runs on the pinned Node.js 22 from node_modules."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import settings

# Hypothesis's per-example deadline is a wall-clock bound: on a busy two-core machine an
# example can take a second for reasons that are not the code's. No deadline, as for
# every other test here.
settings.register_profile("sqs-blueprint", deadline=None)
# For make mutate (tools/mutate.py, --hypothesis-profile=mutate): the same examples on
# every run, fewer of them, so a mutant's score does not move between runs.
settings.register_profile(
    "mutate", deadline=None, derandomize=True, max_examples=25, database=None, print_blob=False
)
settings.load_profile("sqs-blueprint")

ROOT = Path(__file__).resolve().parent.parent
_NODE_BIN = ROOT / "node_modules" / ".bin"
if _NODE_BIN.is_dir() and str(_NODE_BIN) not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = f"{_NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
