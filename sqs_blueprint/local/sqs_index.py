"""Indexed message storage for one local SQS queue: every operation costs the same at a
depth of 100 or 100,000.

moto keeps a queue as one list and walks it on every call: a receive builds the list
of visible messages, a delete scans it for the receipt handle and rebuilds it, a FIFO
send scans it for a duplicate, and the approximate counts walk it again. Here a queue
keeps:

- ``live``: every message by arrival number, in arrival order;
- ``handles``: each receipt handle a live message ever had, to that message;
- ``lanes``: the messages ready for delivery, one heap per message group (``None`` for
  messages without a group), ordered by arrival;
- ``heads``: the head of each lane (arrival number, group), the candidates of a receive;
- ``hidden``: messages in flight or delayed, by the time they become visible again;
- per-state counters, and the in-flight count of each group (FIFO groups block on it;
  fair queues find noisy tenants with it);
- ``dedup``: live messages by deduplication id.

Heaps are cleaned lazily: an entry is followed only if it still describes the message
(its ``ticket``, given each time the message becomes ready). Each message carries its
arrival number, state and ticket as attributes of its own.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

READY, IN_FLIGHT, DELAYED = "ready", "in flight", "delayed"
_SEQ, _STATE, _TICKET = "_sqsb_seq", "_sqsb_state", "_sqsb_ticket"


def ready_at(message: Any) -> float:
    """When a message can be delivered (moto's clock, ms): visible and not delayed."""
    return max(float(message.visible_at), float(message.delayed_until))


class QueueIndex:
    """The messages of one queue, indexed by arrival, receipt handle, state and group."""

    def __init__(self, messages: Iterable[Any] = (), now_ms: float = 0.0) -> None:
        self._numbers = itertools.count()
        self.live: dict[int, Any] = {}
        self.handles: dict[str, Any] = {}
        self.lanes: dict[str | None, list[tuple[int, int, Any]]] = {}
        self.heads: list[tuple[int, str | None]] = []
        self.hidden: list[tuple[float, int, Any]] = []
        self.counts: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.dedup: dict[str, dict[int, Any]] = {}
        for message in messages:
            self.add(message, now_ms)

    # -- membership -------------------------------------------------------------------

    def add(self, message: Any, now_ms: float) -> None:
        seq = next(self._numbers)
        setattr(message, _SEQ, seq)
        setattr(message, _STATE, None)
        self.live[seq] = message
        self.note_handles(message)
        if message.deduplication_id:
            self.dedup.setdefault(message.deduplication_id, {})[seq] = message
        self.settle(message, now_ms)

    def remove(self, message: Any) -> None:
        """Take a live message out of the queue (deleted, expired, moved to a DLQ)."""
        self._leave(message)
        seq = getattr(message, _SEQ)
        del self.live[seq]
        for handle in message.all_receipt_handles:
            self.handles.pop(handle, None)
        same = self.dedup.get(message.deduplication_id or "")
        if same is not None:
            same.pop(seq, None)
            if not same:
                del self.dedup[message.deduplication_id]

    def holds(self, message: Any) -> bool:
        return self.live.get(getattr(message, _SEQ, -1)) is message

    def note_handles(self, message: Any) -> None:
        for handle in message.all_receipt_handles:
            if handle:
                self.handles[handle] = message

    def duplicates(self, deduplication_id: str) -> Iterable[Any]:
        """The live messages sent with ``deduplication_id``."""
        return tuple(self.dedup.get(deduplication_id, {}).values())

    # -- state ------------------------------------------------------------------------

    def settle(self, message: Any, now_ms: float) -> None:
        """Put a live message in the state its visibility and delay give it now."""
        at = ready_at(message)
        if at < now_ms:
            if getattr(message, _STATE) != READY:
                self._leave(message)
                self._enter_ready(message)
            return
        state = DELAYED if now_ms < message.delayed_until else IN_FLIGHT
        self._leave(message)
        self._enter(message, state)
        heapq.heappush(self.hidden, (at, next(self._numbers), message))

    def promote(self, now_ms: float) -> None:
        """Make ready every message whose visibility timeout or delay has passed."""
        while self.hidden and self.hidden[0][0] < now_ms:
            _, _, message = heapq.heappop(self.hidden)
            # A message whose visibility was extended has a later entry of its own.
            if (
                self.holds(message)
                and getattr(message, _STATE) != READY
                and ready_at(message) < now_ms
            ):
                self._leave(message)
                self._enter_ready(message)

    def next_ready_at(self) -> float | None:
        return self.hidden[0][0] if self.hidden else None

    def _enter(self, message: Any, state: str) -> None:
        setattr(message, _STATE, state)
        self.counts[state] += 1
        if state == IN_FLIGHT and message.group_id:
            self.in_flight[message.group_id] += 1

    def _enter_ready(self, message: Any) -> None:
        self._enter(message, READY)
        ticket = next(self._numbers)
        setattr(message, _TICKET, ticket)
        lane = self.lanes.setdefault(message.group_id, [])
        heapq.heappush(lane, (getattr(message, _SEQ), ticket, message))
        if lane[0][2] is message:
            heapq.heappush(self.heads, (getattr(message, _SEQ), message.group_id))

    def _leave(self, message: Any) -> None:
        state = getattr(message, _STATE)
        if state is None:
            return
        setattr(message, _STATE, None)
        self.counts[state] -= 1
        group = message.group_id
        if state == IN_FLIGHT and group:
            self.in_flight[group] -= 1
            if not self.in_flight[group]:
                del self.in_flight[group]
                self._push_head(group)  # a FIFO group no longer blocked

    # -- delivery ---------------------------------------------------------------------

    def candidates(self, blocked: set[str], order: list[list[str | None]] | None) -> Iterator[Any]:
        """Ready messages in delivery order, each taken off its lane as it is yielded.

        Without ``order``: arrival order over every lane but the ``blocked`` groups. With
        ``order`` (fair queues): the lanes of each list in turn, each list in arrival order.
        """
        if order is None:
            yield from self._merge(self.heads, blocked)
            return
        for keys in order:
            heads = [(seq, key) for key in keys if (seq := self._head(key)) is not None]
            heapq.heapify(heads)
            yield from self._merge(heads, blocked)

    def _merge(self, heads: list[tuple[int, str | None]], blocked: set[str]) -> Iterator[Any]:
        while heads:
            seq, key = heads[0]
            head = self._head(key)
            if key in blocked or head is None:
                heapq.heappop(heads)
                continue
            if head != seq:
                heapq.heapreplace(heads, (head, key))
                continue
            heapq.heappop(heads)
            message = heapq.heappop(self.lanes[key])[2]
            following = self._head(key)
            if following is not None:
                heapq.heappush(heads, (following, key))
                if heads is not self.heads:
                    heapq.heappush(self.heads, (following, key))
            yield message

    def _head(self, key: str | None) -> int | None:
        """The arrival number at the head of a lane, after dropping stale entries."""
        lane = self.lanes.get(key)
        while lane:
            _, ticket, message = lane[0]
            current = getattr(message, _STATE) == READY and getattr(message, _TICKET) == ticket
            if current and self.holds(message):
                return int(lane[0][0])
            heapq.heappop(lane)
        return None

    def _push_head(self, key: str | None) -> None:
        head = self._head(key)
        if head is not None:
            heapq.heappush(self.heads, (head, key))

    def taken(self, message: Any) -> None:
        """A message a receive took from its lane: in flight until its visibility ends
        (with a visibility timeout of 0, until the next receive, as in moto)."""
        self._leave(message)
        setattr(message, _TICKET, None)
        self.note_handles(message)
        self._enter(message, IN_FLIGHT)
        heapq.heappush(self.hidden, (ready_at(message), next(self._numbers), message))

    def ordered(self) -> list[Any]:
        return list(self.live.values())
