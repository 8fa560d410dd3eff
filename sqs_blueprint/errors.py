"""One family for the errors the project raises on purpose.

Every error a user can meet derives from :class:`SqsBlueprintError`, so the CLI
maps them to a one-line message and an exit code in one place:

- :class:`UsageError` (exit 2): the caller's input is wrong (a flag, an argument,
  a setting); retrying the same call cannot help, fixing the input does;
- any other :class:`SqsBlueprintError` (exit 1): the call was well formed but the
  work failed at run time (a missing queue, an AWS error, a refused payload).

Messages are one line: what is wrong, the value given, the rule, how to fix it.
"""

from __future__ import annotations


class SqsBlueprintError(Exception):
    """A failure at run time; the CLI prints its message and exits 1."""

    exit_code = 1


class UsageError(SqsBlueprintError, ValueError):
    """Bad input from the caller; the CLI prints its message and exits 2."""

    exit_code = 2
