"""What a redrive did, and how it reports progress while it runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

# Messages moved so far, and the total when it is known.
Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class RedriveResult:
    """What a redrive did. ``failed`` maps message ids to why they stayed in the DLQ."""

    path: Literal["native", "client-side"]
    moved: int
    skipped: int = 0
    failed: Mapping[str, str] = field(default_factory=dict)
    task_handle: str | None = None
    status: str = "COMPLETED"  # the move task's status on the native path
    failure_reason: str | None = None
    moved_ids: tuple[str, ...] = ()
    unreached: int = 0  # messages left visible and never examined (client-side, approximate)

    @property
    def ok(self) -> bool:
        return self.status == "COMPLETED" and not self.failed

    def summary(self) -> str:
        text = f"{self.path}: {self.status.lower()}, moved {self.moved}"
        if self.path == "client-side":
            text += f", skipped {self.skipped}, failed {len(self.failed)}"
        if self.failure_reason:
            text += f" ({self.failure_reason})"
        if self.unreached:
            text += (
                f"; about {self.unreached} message(s) were not reached (FIFO groups behind "
                "a message left in the DLQ, or messages that arrived during the run)"
            )
        return text
