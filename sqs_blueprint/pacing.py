"""Pacing to a budget of units per second (the write buffer's WCU budget).

:class:`WindowPacer` is what the write buffer paces with: no span of one second, as
the server sees the requests, holds more than the budget. :class:`TokenBucket` holds
an average rate only: it charges a request before sending it, so a second can see its
budget and the request that paid for the time before it.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

_EPS = 1e-9  # seconds and units: sums of floats that should be equal may differ by this


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


class Grant:
    """Leave to send one request of ``units``; call :meth:`done` once it is answered."""

    def __init__(self, pacer: WindowPacer | None, units: float) -> None:
        self.units = units
        self.ended: float | None = None  # when the answer came: None while in flight
        self._pacer = pacer

    def done(self) -> None:
        """The request was answered (or failed): its units leave the window one window
        after now. Calling it again changes nothing."""
        if self._pacer is not None:
            self._pacer._end(self)


class WindowPacer:
    """At most ``rate`` units in any span of ``window_s`` seconds, as the server sees them.

    A request counts from the moment it is let through until ``window_s`` after its
    answer came back. The server sees a request after the writer lets it through and
    before the writer reads the answer, so however late the machine runs the writer
    (a sleep that ends late, a request or an answer that waits for a CPU), two
    requests the server sees less than ``window_s`` apart were both counted here
    when the later one was let through: no span the server sees holds more than
    ``rate``. There is no debt to pay back and no credit to save: a late or idle
    writer is never let through faster to catch up. A new pacer counts the window
    before it as full, so an environment started in place of another (a new process,
    a retried invocation) cannot add its budget to that other's last second.

    A request of more than ``rate`` units goes through alone, once nothing else is in
    the window, and keeps the window for ``units / rate`` of them. Thread-safe:
    callers are let through in turn.
    """

    def __init__(
        self,
        rate: float,
        *,
        window_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be greater than 0 units per second, got {rate!r}")
        self.rate = rate
        self.window_s = window_s
        self._clock, self._sleep = clock, sleep
        start = Grant(self, rate)
        start.ended = clock()
        self._counted: list[Grant] = [start]
        self._lock = threading.Lock()  # guards _counted
        self._turn = threading.Lock()  # callers wait for room one at a time

    def acquire(self, units: float, max_wait: float = math.inf) -> Grant | None:
        """Wait until ``units`` fit in the window and return the grant; ``None``, taking
        nothing, as soon as they cannot fit within ``max_wait`` seconds from now."""
        with self._turn:
            limit = self._clock() + max_wait
            while True:
                with self._lock:
                    now = self._clock()
                    wait = self._wait(units, now)
                    if wait == 0:
                        grant = Grant(self, units)
                        self._counted.append(grant)
                        return grant
                if now + wait > limit + _EPS:
                    return None
                self._sleep(wait)

    def _expiry(self, grant: Grant) -> float:
        assert grant.ended is not None
        return grant.ended + self.window_s * max(1.0, grant.units / self.rate)

    def _wait(self, units: float, now: float) -> float:
        """Seconds from ``now`` until ``units`` fit (0: they fit now), counting each
        request in flight as if it were answered now."""
        self._counted = [
            g for g in self._counted if g.ended is None or self._expiry(g) > now + _EPS
        ]
        need = min(units, self.rate)  # a request over the rate needs the window empty
        used = sum(g.units for g in self._counted)
        if used + need <= self.rate + _EPS:
            return 0.0
        leaving = sorted(
            (now + self.window_s if g.ended is None else self._expiry(g), g.units)
            for g in self._counted
        )
        # ``leaving`` is not empty (something is in the window), and once it has all
        # left the window is empty, which has room for any request: the loop breaks.
        for expiry, units_left in leaving:  # noqa: B007 (read after the loop)
            used -= units_left
            if used + need <= self.rate + _EPS:
                break
        return expiry - now

    def _end(self, grant: Grant) -> None:
        with self._lock:
            if grant.ended is None:
                grant.ended = self._clock()
