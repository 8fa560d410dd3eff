"""Pytest plugins for mutation runs: which tests run which lines, and running only those.

A clean run records, with a trace function, the lines of the mutated file each test
executes (and those executed on import); a mutant's run then keeps the tests that
execute its statement, quickest first, so a survivor costs only those tests.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Collection, Generator, Mapping
from types import FrameType
from typing import Any

import pytest


class LineRecorder:
    """Records the lines of the file ending in ``suffix`` that each test executes."""

    def __init__(self, suffix: str) -> None:
        self.suffix = suffix
        self.at_import: set[int] = set()
        self.by_test: dict[str, set[int]] = {}
        self.durations: dict[str, float] = {}
        self._current = self.at_import
        sys.settrace(self._call)
        threading.settrace(self._call)

    def _call(self, frame: FrameType, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename.endswith(self.suffix):
            self._current.add(frame.f_lineno)
            return self._line
        return None

    def _line(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            self._current.add(frame.f_lineno)
        return self._line

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, None, None]:
        self._current = self.by_test.setdefault(item.nodeid, set())
        start = time.monotonic()
        yield
        self.durations[item.nodeid] = time.monotonic() - start
        self._current = self.at_import


class Select:
    """Keeps only the given tests, in the given order."""

    def __init__(self, order: Mapping[str, int]) -> None:
        self.order = order

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        items[:] = sorted((i for i in items if i.nodeid in self.order), key=self._rank)

    def _rank(self, item: pytest.Item) -> int:
        return self.order[item.nodeid]


def tests_for(
    lines: tuple[int, int],
    at_import: Collection[int],
    by_test: Mapping[str, Collection[int]],
    durations: Mapping[str, float],
) -> list[str]:
    """The tests that execute any of ``lines`` (all of them, if an import does), quickest
    first."""
    span = range(lines[0], lines[1] + 1)
    if any(line in at_import for line in span):
        chosen = list(by_test)
    else:
        chosen = [t for t, ran in by_test.items() if any(line in ran for line in span)]
    return sorted(chosen, key=lambda t: durations.get(t, 0.0))
