"""Mutation testing of the write path: how many one-change mutants the unit tests kill.

    python tools/mutate.py [module ...] [--timeout-factor N] [--lines A-B]

For each module (all of ``MODULES`` by default), every mutant of tools/mutants.py is
imported in place of the module and the module's unit tests run against it: a failing
run kills the mutant, a passing one lets it survive, and a run still going after the
timeout (twice the clean run, plus 30 seconds) is killed and counts as killed by
timeout. The heavy imports (pytest, boto3, moto, Hypothesis) happen once; each
mutant's run is a forked child, with ``-x`` (the first failure is enough) and fixed
Hypothesis examples (the ``mutate`` profile of tests/conftest.py), so a score does not
move between runs. Prints killed / total and the survivors per module, and exits 1 if a
module scores under ``--fail-under``.
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.util
import os
import signal
import sys
import time
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import CodeType, ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.mutants import Mutant, mutants, mutated_code  # noqa: E402

# Each module with the unit tests that exercise it; the quickest first, as -x stops at
# the first failure.
MODULES: dict[str, list[str]] = {
    "sqs_blueprint/items.py": [
        "tests/unit/test_item_size.py",
        "tests/unit/test_items_roundtrip.py",
        "tests/unit/test_upsert.py",
    ],
    "sqs_blueprint/payload.py": [
        "tests/unit/test_payload_wire.py",
        "tests/unit/test_error_classes.py",
        "tests/unit/test_payload.py",
        "tests/unit/test_interop.py",
    ],
    "sqs_blueprint/batch_write.py": [
        "tests/unit/test_error_classes.py",
        "tests/unit/test_upsert.py",
        "tests/unit/test_items_roundtrip.py",
    ],
    "sqs_blueprint/pacing.py": [
        "tests/unit/test_pacing_idle.py",
        "tests/unit/test_upsert.py",
    ],
    "sqs_blueprint/upsert.py": [
        "tests/unit/test_error_classes.py",
        "tests/unit/test_upsert.py",
        "tests/unit/test_items_roundtrip.py",
        "tests/unit/test_write_buffer_core.py",
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


def _run(tests: Sequence[str], finder: _Mutated | None, timeout: float) -> str:
    """Run ``tests`` in a forked child: "passed", "failed" or "timeout"."""
    pid = os.fork()
    if pid == 0:  # the child: quiet, its own process group, the mutant imported
        os.setsid()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        if finder is not None:
            sys.meta_path.insert(0, finder)
        import pytest

        code = 1
        try:
            code = int(pytest.main([*PYTEST_OPTIONS, *tests]))
        finally:
            os._exit(code)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return "passed" if os.waitstatus_to_exitcode(status) == 0 else "failed"
        time.sleep(0.05)
    os.killpg(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return "timeout"


def _preload() -> None:
    """What every run imports, imported once before the forks."""
    import boto3  # noqa: F401
    import hypothesis  # noqa: F401
    import moto  # noqa: F401
    import pytest  # noqa: F401
    from moto.backends import get_backend

    for service in ("dynamodb", "s3", "sqs"):
        get_backend(service)


def _in_lines(mutant: Mutant, lines: tuple[int, int] | None) -> bool:
    return lines is None or lines[0] <= mutant.line <= lines[1]


def mutate_module(
    module: str, tests: Sequence[str], factor: float, lines: tuple[int, int] | None
) -> tuple[int, int, list[str]]:
    """(killed, total, survivor lines) for ``module`` against ``tests``."""
    path = ROOT / module
    source = path.read_text()
    source_lines = source.splitlines()
    name = module.removesuffix(".py").replace("/", ".")
    tests = [t for t in tests if (ROOT / t).exists()]
    start = time.monotonic()
    if _run(tests, None, timeout=600) != "passed":
        raise SystemExit(f"{module}: the tests fail without any mutant: {' '.join(tests)}")
    timeout = factor * (time.monotonic() - start) + 30
    chosen = [m for m in mutants(source) if _in_lines(m, lines)]
    killed, survivors = 0, []
    print(f"{module}: {len(chosen)} mutants, {len(tests)} test files, {timeout:.0f} s each at most")
    for mutant in chosen:
        code = mutated_code(source, mutant.index, str(path))
        outcome = _run(tests, _Mutated(name, path, code), timeout)
        if outcome == "passed":
            text = source_lines[mutant.line - 1].strip()
            survivors.append(f"  survived  line {mutant.line}: {mutant.change:<34} | {text}")
            print(survivors[-1], flush=True)
        else:
            killed += 1
            if outcome == "timeout":
                print(f"  timeout   line {mutant.line}: {mutant.change} (killed)", flush=True)
    return killed, len(chosen), survivors


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="e.g. pacing or sqs_blueprint/pacing.py")
    parser.add_argument("--timeout-factor", type=float, default=2.0)
    parser.add_argument("--fail-under", type=float, default=90.0)
    parser.add_argument("--lines", help="only mutants on lines A-B, e.g. 40-60")
    args = parser.parse_args(argv)
    wanted = {Path(a).stem for a in args.modules}
    chosen = [m for m in MODULES if not wanted or Path(m).stem in wanted]
    lines = tuple(map(int, args.lines.split("-"))) if args.lines else None
    _preload()
    rows = []
    for module in chosen:
        killed, total, _ = mutate_module(module, MODULES[module], args.timeout_factor, lines)  # type: ignore[arg-type]
        rows.append((module, killed, total))
    print("\nmodule                          killed / total")
    low = False
    for module, killed, total in rows:
        score = 100.0 * killed / total if total else 100.0
        low |= score < args.fail_under
        print(f"{module:<31} {killed:>6} / {total:<5} {score:5.1f}%")
    return 1 if low else 0


if __name__ == "__main__":
    sys.exit(main())
