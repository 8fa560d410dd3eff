"""What every subcommand's parser shares: defaults in ``--help``, one-line usage
errors, and argument types that state their rule."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any, TypeAlias

# What ``add_subparsers`` returns; each command module's ``add*`` registers on it.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _no_default(value: object) -> bool:
    """No default worth showing: none, an off switch, an empty list (but 0 is shown)."""
    return value is None or value is False or value == [] or value is argparse.SUPPRESS


class HelpFormatter(argparse.HelpFormatter):
    """Shows every option's default (unless it has none, or is an off switch)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "%(default)" in text or _no_default(action.default) or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)".strip()


class Parser(argparse.ArgumentParser):
    """A parser (and every subparser) with defaults in ``--help`` and one-line errors."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        action = super().add_argument(*args, **kwargs)
        if action.help is None and not _no_default(action.default):
            action.help = "(default: %(default)s)"  # argparse shows nothing for help-less flags
        return action

    def error(self, message: str) -> Any:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def int_in(low: int, high: int | None, unit: str = "") -> Callable[[str], int]:
    """An argparse type: an integer in low..high (no upper bound if None)."""
    rule = f"{low}..{high}" if high is not None else f"at least {low}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {rule}{unit}, got {text!r}")
        return value

    return parse


def seconds(*, positive: bool) -> Callable[[str], float]:
    """An argparse type: a finite number of seconds, > 0 (positive) or >= 0."""
    rule = "a number of seconds above 0" if positive else "0 or more seconds"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}")
        return value

    return parse
