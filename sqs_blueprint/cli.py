"""The ``sqs-blueprint`` command.

Each subcommand is a ``_add_<name>(subparsers)`` function that registers its
arguments and sets ``func`` to a ``_run_<name>(args) -> int`` function.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

_Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sqs-blueprint",
        description="Operate systems decoupled by Amazon SQS.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in _COMMANDS:
        register(sub)
    return parser


# Subcommand registrations, in the order `--help` lists them.
_COMMANDS: list[_Register] = []


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
