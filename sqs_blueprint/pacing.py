"""Pacing to a budget of units per second (the write buffer's WCU budget)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class TokenBucket:
    """Holds a rate (units per second) with a burst of ``burst`` units; sleeps when in debt."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be greater than 0 units per second, got {rate!r}")
        self.rate = rate
        self.capacity = burst if burst is not None else rate
        self.tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self, units: float, max_wait: float = math.inf) -> bool:
        """Take ``units``, sleeping off any debt; thread-safe, callers wait in turn.

        When the wait would be longer than ``max_wait`` seconds, take nothing and
        return False at once.
        """
        with self._lock:
            now = self._clock()
            tokens = min(self.capacity, self.tokens + (now - self._last) * self.rate)
            self._last = now
            wait = max(0.0, (units - tokens) / self.rate)
            if wait > max_wait:
                self.tokens = tokens
                return False
            self.tokens = tokens - units
            if wait:
                self._sleep(wait)
            return True
