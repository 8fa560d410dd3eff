"""What a run proved about least privilege: the calls checked, the calls denied,
and per role the grants no call used.

A grant is one action pattern on one resource pattern of an ``Allow`` statement
of a role's identity policies, for a service the local cloud checks
(:data:`requests.CHECKED_SERVICES`): a logs, X-Ray or CloudWatch grant cannot be
observed locally and is not listed. A call uses a grant when the simulator names
that statement, action pattern and resource pattern among those that allowed it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqs_blueprint.local.access.policies import Policy, statements
from sqs_blueprint.local.access.requests import CHECKED_SERVICES

Grant = tuple[str, str, str, str]  # policy name, statement id, action pattern, resource pattern


@dataclass(frozen=True)
class Denial:
    """A call the policies deny: who, what, on which resource, and how (explicit or not)."""

    principal: str
    action: str
    resource: str
    result: str  # ExplicitlyDenied, ImplicitlyDenied, or Error (the simulator refused it)
    detail: str = ""

    def __str__(self) -> str:
        how = {"ExplicitlyDenied": "explicit deny", "ImplicitlyDenied": "not allowed"}
        text = f"{self.principal}: {self.action} on {self.resource}"
        text += f" ({how.get(self.result, self.result)})"
        return text + (f": {self.detail}" if self.detail else "")


@dataclass(frozen=True)
class AccessReport:
    mode: str
    calls_checked: int = 0
    denied: dict[Denial, int] = field(default_factory=dict)  # each denial, how many times
    unused: dict[str, tuple[Grant, ...]] = field(default_factory=dict)  # role -> grants
    not_evaluated: dict[str, tuple[str, ...]] = field(default_factory=dict)  # role -> AWS managed

    @property
    def denied_calls(self) -> int:
        return sum(self.denied.values())

    @property
    def unused_grants(self) -> int:
        return sum(len(g) for g in self.unused.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "calls_checked": self.calls_checked,
            "denied": self.denied_calls,
            "denials": [{"call": str(d), "count": n} for d, n in self.denied.items()],
            "grants_never_used": {
                role: [f"{action} on {resource}" for _, _, action, resource in grants]
                for role, grants in self.unused.items()
            },
        }


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def statement_id(statement: Mapping[str, Any], index: int) -> str:
    """How the simulator names a statement: its Sid, else its 1-based position."""
    return str(statement.get("Sid") or index + 1)


def grants(policies: Mapping[str, Policy]) -> list[Grant]:
    """Every observable grant of a role's identity policies."""
    found = []
    for name, policy in policies.items():
        for index, statement in enumerate(statements(policy)):
            if statement.get("Effect") != "Allow" or "Action" not in statement:
                continue
            for action in _listed(statement["Action"]):
                service = action.split(":", 1)[0].lower()
                if service not in CHECKED_SERVICES and action != "*":
                    continue
                for resource in _listed(statement.get("Resource", "*")):
                    found.append((name, statement_id(statement, index), action, resource))
    return found


def unused_grants(
    identity: Mapping[str, Mapping[str, Policy]], used: Iterable[tuple[str, Grant]]
) -> dict[str, tuple[Grant, ...]]:
    """Per role (in ``identity``), the grants no call in ``used`` (role, grant) used."""
    seen = set(used)
    out = {}
    for role, policies in sorted(identity.items()):
        left = tuple(g for g in grants(policies) if (role, g) not in seen)
        if left:
            out[role] = left
    return out
