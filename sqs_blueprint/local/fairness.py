"""Fair queues in the local cloud: a noisy tenant's backlog does not delay quiet tenants.

On a standard queue SQS takes each message's ``MessageGroupId`` as its tenant
(a message without one is a tenant of its own) and finds a tenant noisy when it
holds more than 10% of the queue's in-flight messages and at least 30 of its
own. While quiet tenants have visible messages, a receive returns theirs first;
noisy tenants' messages follow, the tenant with the fewest in flight first
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-fair-queues-detailed.html,
docs/aws-facts.md#2025-features). moto accepts group ids on standard queues but
delivers in arrival order (docs/aws-facts.md#local-cloud); :func:`prefer_quiet_groups`
reorders a moto queue before each receive so that it follows this rule.

SQS's second measure, a tenant's share of the consumers' processing time, is
not emulated: the local cloud sees in-flight counts, not processing time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

# The documented concurrency-share rule (see the module doc).
NOISY_SHARE = 0.10
NOISY_MIN_IN_FLIGHT = 30

M = TypeVar("M")


def noisy_groups(in_flight: Mapping[str, int]) -> set[str]:
    """The groups holding more than 10% of the in-flight messages and at least 30."""
    total = sum(in_flight.values())
    return {
        group
        for group, count in in_flight.items()
        if count >= NOISY_MIN_IN_FLIGHT and count > NOISY_SHARE * total
    }


def fair_order(
    visible: Sequence[M], group_of: Callable[[M], str | None], in_flight: Mapping[str, int]
) -> list[M]:
    """``visible`` in the order a fair queue delivers it.

    Quiet tenants' messages first, in arrival order; then the noisy tenants',
    the one with the fewest messages in flight first, each in arrival order.
    """
    noisy = noisy_groups(in_flight)
    quiet = [m for m in visible if group_of(m) not in noisy]
    loud = [m for m in visible if group_of(m) in noisy]
    loud.sort(key=lambda m: in_flight[group_of(m) or ""])  # stable: arrival order kept
    return quiet + loud


def prefer_quiet_groups(queue: Any) -> None:
    """Reorder a moto standard queue so its next receive follows :func:`fair_order`.

    Only the visible messages change places among themselves; in-flight and
    delayed messages keep theirs. Nothing changes on a FIFO queue, on a queue
    without group ids, or while no tenant is noisy (arrival order).
    """
    if queue.fifo_queue:
        return
    from moto.core.utils import unix_time_millis

    with queue._messages_lock:  # holds off sends; moto's deletes replace the list
        messages = list(queue._messages)
        # moto's Message.visible and .delayed, with one clock read for the whole queue.
        now = unix_time_millis()
        waiting = [now > m.visible_at and now >= m.delayed_until for m in messages]
        in_flight = Counter(
            m.group_id
            for m, ready in zip(messages, waiting, strict=True)
            if m.group_id and not ready and now >= m.delayed_until
        )
        if not noisy_groups(in_flight):
            return
        slots = [i for i, ready in enumerate(waiting) if ready]
        ordered = fair_order([messages[i] for i in slots], _group_of, in_flight)
        place = {m: i for i, m in enumerate(messages)}
        place.update(zip(ordered, slots, strict=True))
        # One sort of the current list by a C-level key: a message deleted meanwhile
        # stays deleted, as the list is not rebuilt from the copy above.
        queue._messages = sorted(queue._messages, key=place.__getitem__)


def _group_of(message: Any) -> str | None:
    group: str | None = message.group_id
    return group
