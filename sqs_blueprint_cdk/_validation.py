"""One error that lists every invalid setting of a construct call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct

from sqs_blueprint.errors import UsageError

# ``Problems.check`` as a small check function takes it: ok, setting, value, rule, fix.
Check = Callable[[bool, str, Any, str, str], None]


class InvalidPropsError(UsageError):
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


def nag_text(scope: IConstruct, value: str) -> str:
    """``value`` as cdk-nag names it in a finding: tokens as ``<Ref>`` / ``<Id.Attr>``."""
    return _render(Stack.of(scope).resolve(value))


def _render(resolved: Any) -> str:
    if isinstance(resolved, str):
        return resolved
    if isinstance(resolved, dict) and len(resolved) == 1:
        ((fn, args),) = resolved.items()
        if fn == "Ref":
            return f"<{args}>"
        if fn == "Fn::GetAtt":
            return f"<{args[0]}.{args[1]}>"
        if fn == "Fn::Join":
            return str(args[0]).join(_render(part) for part in args[1])
    raise ValueError(f"cannot name {resolved!r} as cdk-nag does")
