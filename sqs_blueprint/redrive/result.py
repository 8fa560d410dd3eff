"""What a redrive did, and how it reports progress while it runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

# Messages moved so far, and the total when it is known.
Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class RedriveResult:
    """What a redrive did.

    ``failed``: message ids not sent, still only in the DLQ, with why.
    ``duplicated``: sent but not deleted from the DLQ, so in both queues, with why.
    ``status`` is the move task's on the native path; client-side it is
    COMPLETED, or INTERRUPTED when an error stopped the run (``failure_reason``).
    """

    path: Literal["native", "client-side"]
    moved: int
    skipped: int = 0
    failed: Mapping[str, str] = field(default_factory=dict)
    task_handle: str | None = None
    status: str = "COMPLETED"
    failure_reason: str | None = None
    moved_ids: tuple[str, ...] = ()
    unreached: int = 0  # messages left visible and never examined (client-side, approximate)
    seen: int = 0  # messages examined (client-side)
    duplicated: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "COMPLETED" and not self.failed and not self.duplicated

    @property
    def chosen(self) -> int:
        """Messages the run tried to move (client-side): moved, duplicated or not sent."""
        return self.moved + len(self.duplicated) + len(self.failed)

    def summary(self) -> str:
        """One line: moved, in both queues, left behind (client-side), and why it stopped."""
        text = f"{self.path}: {self.status.lower()}, moved {self.moved}"
        if self.path == "client-side":
            left = self.skipped + len(self.failed)
            text += (
                f", in both queues {len(self.duplicated)}, left in the DLQ {left} "
                f"(not chosen {self.skipped}, not sent {len(self.failed)})"
            )
        if self.failure_reason:
            text += f" ({self.failure_reason})"
        if self.unreached:
            text += (
                f"; about {self.unreached} message(s) were not reached (FIFO groups behind "
                "a message left in the DLQ, or messages that arrived during the run)"
            )
        return text
