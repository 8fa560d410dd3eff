"""Mutation testing of the write path: how many one-change mutants the unit tests kill.

    python tools/mutate.py [module ...] [--jobs N] [--lines A-B] [--timeout-factor F]

For each module (all of ``MODULES`` by default) the module's unit tests run once clean,
recording which lines each test executes (tools/selection.py). Then every mutant of
tools/mutants.py is imported in place of the module in a forked child, and the tests
that execute the mutated statement run against it, quickest first, with ``-x`` and
fixed Hypothesis examples (the ``mutate`` profile of tests/conftest.py), so a score
does not move between runs. A failing run kills the mutant; a passing one, or a
statement no test executes, lets it survive; a run still going after ``F`` times its
tests' clean time plus 30 seconds is stopped and counts as killed (by timeout). The
heavy imports (pytest, boto3, moto, Hypothesis) happen once, before the forks. Prints
the survivors and killed / total per module; exits 1 if a module scores under
``--fail-under``.
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.util
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402

from tools.mutants import Mutant, mutants, mutated_code  # noqa: E402
from tools.selection import LineRecorder, Select, tests_for  # noqa: E402

# Each module with the unit tests that exercise it; the quickest first, as -x stops at
# the first failure.
_ITEMS_TESTS = [
    "tests/unit/test_items_values.py",
    "tests/unit/test_plain_json.py",
    "tests/unit/test_item_size.py",
    "tests/unit/test_items_roundtrip.py",
    "tests/unit/test_upsert.py",
]
MODULES: dict[str, list[str]] = {
    "sqs_blueprint/items.py": _ITEMS_TESTS,
    "sqs_blueprint/_plain_json.py": _ITEMS_TESTS,  # the fast path of items
    "sqs_blueprint/payload.py": [
        "tests/unit/test_payload_wire.py",
        "tests/unit/test_error_classes.py",
        "tests/unit/test_payload.py",
        "tests/unit/test_interop.py",
    ],
    "sqs_blueprint/batch_write.py": [
        "tests/unit/test_write_calls.py",
        "tests/unit/test_tracing_spans.py",
        "tests/unit/test_error_classes.py",
        "tests/unit/test_upsert.py",
        "tests/unit/test_items_roundtrip.py",
    ],
    "sqs_blueprint/pacing.py": [
        "tests/unit/test_pacing.py",
        "tests/unit/test_pacing_idle.py",
        "tests/unit/test_write_calls.py",
        "tests/unit/test_upsert.py",
    ],
    "sqs_blueprint/upsert.py": [
        "tests/unit/test_write_calls.py",
        "tests/unit/test_error_classes.py",
        "tests/unit/test_upsert.py",
        "tests/unit/test_items_roundtrip.py",
        "tests/unit/test_write_buffer_core.py",
        "tests/unit/test_write_buffer_budget.py",
        "tests/unit/test_tracing_spans.py",
    ],
}
PYTEST_OPTIONS = ["-x", "-q", "-p", "no:cacheprovider", "--hypothesis-profile=mutate"]


class _Mutated(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves one module's mutated code in place of its file."""

    def __init__(self, name: str, path: Path, code: CodeType) -> None:
        self.name, self.path, self.code = name, path, code

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
        /,
    ) -> ModuleSpec | None:
        if fullname != self.name:
            return None
        return importlib.util.spec_from_loader(fullname, self, origin=str(self.path))

    def exec_module(self, module: ModuleType) -> None:
        module.__file__ = str(self.path)
        exec(self.code, module.__dict__)


def _child(tests: Sequence[str], plugins: list[object], finder: _Mutated | None) -> None:
    """In a forked child: quiet, its own process group, the mutant imported; never returns."""
    code = 1
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        if finder is not None:
            sys.meta_path.insert(0, finder)
        code = int(pytest.main([*PYTEST_OPTIONS, *tests], plugins=plugins))
        for plugin in plugins:
            if isinstance(plugin, LineRecorder):
                _save(plugin)
    finally:
        os._exit(code)


def _save(recorder: LineRecorder) -> None:
    sys.settrace(None)
    data = {
        "at_import": sorted(recorder.at_import),
        "by_test": {t: sorted(lines) for t, lines in recorder.by_test.items()},
        "durations": recorder.durations,
    }
    Path(os.environ["MUTATE_LINES_FILE"]).write_text(json.dumps(data))


def _start(tests: Sequence[str], plugins: list[object], finder: _Mutated | None) -> int:
    """Fork a child that runs ``tests``; its pid."""
    pid = os.fork()
    if pid == 0:
        _child(tests, plugins, finder)
    return pid


def _outcome(pid: int, deadline: float) -> str | None:
    """ "passed", "failed", "timeout" (the child is then killed), or None while it runs."""
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        return "passed" if os.waitstatus_to_exitcode(status) == 0 else "failed"
    if time.monotonic() < deadline:
        return None
    os.killpg(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return "timeout"


def _run(tests: Sequence[str], plugins: list[object], timeout: float) -> str:
    """Run ``tests`` unmutated in a child, to the end."""
    pid, deadline = _start(tests, plugins, None), time.monotonic() + timeout
    while (outcome := _outcome(pid, deadline)) is None:
        time.sleep(0.05)
    return outcome


def _lines_run(module: str, tests: Sequence[str]) -> dict[str, Any]:
    """A clean run of ``tests``, recording which lines of ``module`` each test runs."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        os.environ["MUTATE_LINES_FILE"] = out.name
        if _run(tests, [LineRecorder(module)], timeout=1800) != "passed":
            raise SystemExit(f"{module}: the tests fail without any mutant: {' '.join(tests)}")
        data: dict[str, Any] = json.loads(Path(out.name).read_text())
    return data


def _preload() -> None:
    """What every run imports, imported once before the forks."""
    import boto3  # noqa: F401
    import hypothesis  # noqa: F401
    import moto  # noqa: F401
    from moto.backends import get_backend

    for service in ("dynamodb", "s3", "sqs"):
        get_backend(service)


def _in_lines(mutant: Mutant, lines: tuple[int, int] | None) -> bool:
    return lines is None or lines[0] <= mutant.line <= lines[1]


@dataclass
class _Running:
    mutant: Mutant
    deadline: float
    timeout: float


def mutate_module(module: str, tests: Sequence[str], options: argparse.Namespace) -> int:
    """Run every mutant of ``module`` against ``tests``; prints the survivors, returns
    how many were killed."""
    path = ROOT / module
    source = path.read_text()
    name = module.removesuffix(".py").replace("/", ".")
    tests = [t for t in tests if (ROOT / t).exists()]
    ran = _lines_run(module, tests)
    durations: dict[str, float] = ran["durations"]
    chosen = [m for m in mutants(source) if _in_lines(m, options.lines)]
    print(f"{module}: {len(chosen)} mutants, {len(durations)} tests in {len(tests)} files")
    pending = list(reversed(chosen))
    running: dict[int, _Running] = {}
    outcomes: dict[int, str] = {}
    while pending or running:
        while pending and len(running) < options.jobs:
            mutant = pending.pop()
            selected = tests_for(mutant.lines, ran["at_import"], ran["by_test"], durations)
            if not selected:
                outcomes[mutant.index] = "no test runs it"
                _show(source, mutant, outcomes[mutant.index])
                continue
            timeout = options.timeout_factor * sum(durations[t] for t in selected) + 30
            code = mutated_code(source, mutant.index, str(path))
            plugin = Select({t: rank for rank, t in enumerate(selected)})
            pid = _start(tests, [plugin], _Mutated(name, path, code))
            running[pid] = _Running(mutant, time.monotonic() + timeout, timeout)
        for pid, run in list(running.items()):
            outcome = _outcome(pid, run.deadline)
            if outcome is not None:
                del running[pid]
                outcomes[run.mutant.index] = outcome
                if outcome == "timeout":
                    outcomes[run.mutant.index] = f"timeout after {run.timeout:.0f} s"
                _show(source, run.mutant, outcomes[run.mutant.index])
        time.sleep(0.05)
    return _killed(outcomes)


def _show(source: str, mutant: Mutant, outcome: str) -> None:
    """One line for a mutant that survived, or was killed by the timeout."""
    if outcome == "failed":
        return
    verdict = "killed  " if outcome.startswith("timeout") else "survived"
    text = source.splitlines()[mutant.line - 1].strip()[:70]
    extra = "" if outcome == "passed" else f"  [{outcome}]"
    print(f"  {verdict} line {mutant.line:>3}: {mutant.change:<30} | {text}{extra}", flush=True)


def _killed(outcomes: dict[int, str]) -> int:
    return sum(o == "failed" or o.startswith("timeout") for o in outcomes.values())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="e.g. pacing or sqs_blueprint/pacing.py")
    parser.add_argument("--timeout-factor", type=float, default=2.0)
    parser.add_argument("--fail-under", type=float, default=90.0)
    parser.add_argument("--lines", help="only mutants on lines A-B, e.g. 40-60")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once")
    args = parser.parse_args(argv)
    args.lines = tuple(map(int, args.lines.split("-"))) if args.lines else None
    wanted = {Path(a).stem for a in args.modules}
    chosen = [m for m in MODULES if not wanted or Path(m).stem in wanted]
    _preload()
    rows = []
    for module in chosen:
        killed = mutate_module(module, MODULES[module], args)
        total = len([m for m in mutants((ROOT / module).read_text()) if _in_lines(m, args.lines)])
        rows.append((module, killed, total))
        print(f"{module}: {killed} / {total} killed", flush=True)
    print("\nmodule                          killed / total")
    low = False
    for module, killed, total in rows:
        score = 100.0 * killed / total if total else 100.0
        low |= score < args.fail_under
        print(f"{module:<31} {killed:>6} / {total:<5} {score:5.1f}%")
    return 1 if low else 0


if __name__ == "__main__":
    sys.exit(main())
