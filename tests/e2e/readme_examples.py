"""The fenced blocks of the README and the docs pages, and the shell examples in them, as
the README test reads them.

A block tagged ``sh`` holds commands; a block tagged ``console`` holds ``$ command``
lines, each followed by the output the README shows for it, where a line ``...``
stands for any lines. A command is one line with its backslash continuations; its
trailing comment may say ``# exit status N`` when it is documented to fail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SHELL_TAGS = ("sh", "console")
TAGS = (*SHELL_TAGS, "text", "json", "python")
_STATUS = re.compile(r"#.*\bexit status (\d+)")
_PROMPT = "$ "
_ANY_LINES = "..."


@dataclass(frozen=True)
class Fence:
    tag: str
    line: int  # the line of the opening fence
    lines: tuple[str, ...]
    source: str = "README.md"  # the file it is in, from the repository root

    @property
    def where(self) -> str:
        return f"{self.source} line {self.line}"


@dataclass(frozen=True)
class Example:
    line: int  # the line of the command
    command: str  # as written, continuation lines joined with newlines
    output: str | None  # console blocks: the output shown
    status: int  # 0, or the documented exit status
    source: str = "README.md"

    @property
    def where(self) -> str:
        return f"{self.source} line {self.line}"


def fences(text: str, source: str = "README.md") -> list[Fence]:
    found: list[Fence] = []
    opened: tuple[str, int] | None = None
    body: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.startswith("```"):
            body.append(line)
        elif opened is None:
            opened, body = (line[3:].strip(), number), []
        else:
            found.append(Fence(opened[0], opened[1], tuple(body), source))
            opened = None
    assert opened is None, f"{source} line {opened[1]}: a fence is never closed"
    return found


def examples(text: str, source: str = "README.md") -> list[Example]:
    found: list[Example] = []
    for fence in fences(text, source):
        if fence.tag == "sh":
            found += _commands(fence)
        elif fence.tag == "console":
            found += _sessions(fence)
    return found


def _commands(fence: Fence) -> list[Example]:
    found: list[Example] = []
    pending: list[str] = []
    for offset, line in enumerate(fence.lines, start=1):
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending.append(line)
        if not line.endswith("\\"):
            found.append(_example(fence, fence.line + offset - len(pending) + 1, pending, None))
            pending = []
    assert not pending, f"{fence.where}: a command ends with a continuation"
    return found


def _sessions(fence: Fence) -> list[Example]:
    found: list[Example] = []
    starts = [i for i, line in enumerate(fence.lines) if line.startswith(_PROMPT)]
    assert starts and starts[0] == 0, f"{fence.where}: a console block starts with $"
    for start, end in zip(starts, [*starts[1:], len(fence.lines)], strict=True):
        command = [fence.lines[start][len(_PROMPT) :]]
        at = start + 1
        while command[-1].endswith("\\"):
            command.append(fence.lines[at])
            at += 1
        output = "\n".join(fence.lines[at:end]).strip("\n")
        found.append(_example(fence, fence.line + start + 1, command, output))
    return found


def _example(fence: Fence, line: int, command: list[str], output: str | None) -> Example:
    status = _STATUS.search(command[-1])
    code = int(status.group(1)) if status else 0
    return Example(line, "\n".join(command), output, code, fence.source)


def shows(expected: str, actual: str) -> bool:
    """Whether ``actual`` is the output shown, a ``...`` line standing for any lines."""
    if _ANY_LINES not in expected.splitlines():
        return actual.strip("\n") == expected
    pattern = "".join(
        "(?:.*\n)*" if line == _ANY_LINES else re.escape(line) + "\n"
        for line in expected.splitlines()
    )
    return re.fullmatch(pattern, actual.strip("\n") + "\n") is not None
