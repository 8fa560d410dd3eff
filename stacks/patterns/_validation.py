"""One error that lists every invalid setting of a construct call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


class InvalidPropsError(ValueError):
    """Raised when a pattern is built with settings that cannot work."""


@dataclass
class Problems:
    """Collects what is wrong with one construct call, then raises once."""

    construct: str
    items: list[str] = field(default_factory=list)

    def check(self, ok: bool, setting: str, value: Any, rule: str, fix: str) -> None:
        """Record a problem unless ``ok``: the setting, the value given, the rule, the fix."""
        if not ok:
            self.items.append(f"{setting}={value!r}: {rule}. Fix: {fix}.")

    def raise_if_any(self) -> None:
        if self.items:
            lines = "\n".join(f"  - {item}" for item in self.items)
            count = len(self.items)
            noun = "setting" if count == 1 else "settings"
            raise InvalidPropsError(f"{self.construct}: {count} invalid {noun}:\n{lines}")


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Suppress one cdk-nag finding on ``construct``, with the reason beside it."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))
