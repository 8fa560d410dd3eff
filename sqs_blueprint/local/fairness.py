"""Fair queues in the local cloud: a noisy tenant's backlog does not delay quiet tenants.

On a standard queue SQS takes each message's ``MessageGroupId`` as its tenant
(a message without one is a tenant of its own) and finds a tenant noisy when it
holds more than 10% of the queue's in-flight messages and at least 30 of its
own. While quiet tenants have visible messages, a receive returns theirs first;
noisy tenants' messages follow, the tenant with the fewest in flight first
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-fair-queues-detailed.html,
docs/aws-facts.md#2025-features). moto accepts group ids on standard queues but
delivers in arrival order (docs/aws-facts.md#local-cloud); the local cloud's receive
(:mod:`sqs_blueprint.local.fast_sqs`) delivers in :func:`fair_order` instead.

SQS's second measure, a tenant's share of the consumers' processing time, is
not emulated: the local cloud sees in-flight counts, not processing time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

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
