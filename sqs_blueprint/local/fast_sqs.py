"""moto's SQS queues on indexed storage (:mod:`sqs_blueprint.local.sqs_index`), so that
sends, receives, deletes and counts cost the same at any depth.

moto 5.2 walks a queue's whole message list on every call (and reads the clock once a
message while doing so): at a depth of 2,000 a SendMessageBatch took about 1 s, so the
demo's producer slowed as the queue filled. :func:`apply` replaces the storage behind
moto's ``Queue`` and the calls that walk it, keeping moto's semantics: visibility
timeouts and receive counts, redrive to the dead-letter queue once a visible message
has been received ``maxReceiveCount`` times, FIFO order with a group held while any of
its messages is in flight, FIFO deduplication against the queue's messages sent in
the last 5 minutes, fair queues (:mod:`sqs_blueprint.local.fairness`) and retention.
"""

from __future__ import annotations

import copy
import functools
import string
from typing import Any

from sqs_blueprint.local import fairness
from sqs_blueprint.local.sqs_index import DELAYED, IN_FLIGHT, READY, QueueIndex

_INDEX = "_sqsb_index"
_DEDUP_WINDOW_MS = 300_000  # moto's DEDUPLICATION_TIME_IN_SECONDS
_MAX_VISIBILITY_MS = 43_200_000  # a message's total visibility timeout (12 hours)


def _now() -> float:
    from moto.core.utils import unix_time_millis

    return float(unix_time_millis())


def index(queue: Any) -> QueueIndex:
    """The queue's index, built on first use from whatever moto stored before."""
    state = queue.__dict__
    if _INDEX not in state:
        state[_INDEX] = QueueIndex(state.pop("_messages", []), _now())
    found: QueueIndex = state[_INDEX]
    return found


def apply() -> None:
    """Patch moto's ``Queue`` and ``SQSBackend`` in this process (call once)."""
    from moto.sqs.models import Queue, SQSBackend

    def set_messages(queue: Any, messages: list[Any]) -> None:  # moto's __init__ and purge
        queue.__dict__[_INDEX] = QueueIndex(messages, _now())

    queue_patches: dict[str, Any] = {
        "_messages": property(lambda q: index(q).ordered(), set_messages),
        "messages": property(_visible),
        "pending_messages": property(_in_flight),
        "approximate_number_of_messages": property(_counter(READY)),
        "approximate_number_of_messages_not_visible": property(_counter(IN_FLIGHT)),
        "approximate_number_of_messages_delayed": property(_counter(DELAYED)),
        "add_message": add_message,
        "delete_message": delete_message,
        "wait_for_messages": wait_for_messages,
    }
    for name, value in queue_patches.items():
        setattr(Queue, name, value)
    setattr(SQSBackend, "receive_message", receive_message)  # noqa: B010
    setattr(SQSBackend, "change_message_visibility", change_message_visibility)  # noqa: B010
    _cheaper_calls()


def _cheaper_calls() -> None:
    """Two costs moto pays on every call, whatever the depth: ``Queue.attributes``
    converts each attribute name from camel case (read three times a FIFO send), and a
    receipt handle draws its 185 letters one call at a time."""
    import moto.sqs.models as models
    from moto.moto_api._internal import mock_random

    cached = functools.lru_cache(maxsize=256)(models.camelcase_to_underscores)  # type: ignore[attr-defined]
    setattr(models, "camelcase_to_underscores", cached)  # noqa: B010

    def receipt_handle() -> str:
        return "".join(mock_random.choices(string.ascii_lowercase, k=185))

    setattr(models, "generate_receipt_handle", receipt_handle)  # noqa: B010


def _counter(state: str) -> Any:
    def count(queue: Any) -> int:
        with queue._messages_lock:
            found = index(queue)
            found.promote(_now())
            return int(found.counts[state])

    return count


def _visible(queue: Any) -> list[Any]:
    """moto's ``Queue.messages``: the messages a receive could deliver, in arrival order."""
    with queue._messages_lock:
        found = index(queue)
        found.promote(_now())
        return [m for m in found.ordered() if getattr(m, "_sqsb_state", None) == READY]


def _in_flight(queue: Any) -> set[Any]:
    with queue._messages_lock:
        found = index(queue)
        found.promote(_now())
        return {m for m in found.ordered() if getattr(m, "_sqsb_state", None) == IN_FLIGHT}


def add_message(queue: Any, message: Any) -> None:
    """moto's ``Queue.add_message``: a FIFO message whose deduplication id a message of
    the queue sent in the last 5 minutes has is dropped; moto's own Lambda trigger is
    not followed (only the local runner receives for a mapping)."""
    with queue._messages_lock:
        found = index(queue)
        if queue.fifo_queue and message.deduplication_id:
            for earlier in found.duplicates(message.deduplication_id):
                if message.sent_timestamp - earlier.sent_timestamp < _DEDUP_WINDOW_MS:
                    return
        found.add(message, _now())
        queue._messages_lock.notify_all()


def delete_message(queue: Any, receipt_handle: str) -> None:
    """moto's ``Queue.delete_message``: any handle the message ever had deletes it, and a
    handle deleted before is accepted again."""
    from moto.sqs.exceptions import ReceiptHandleIsInvalid

    with queue._messages_lock:
        if receipt_handle in queue.deleted_messages:
            return
        found = index(queue)
        message = found.handles.get(receipt_handle)
        if message is None:
            raise ReceiptHandleIsInvalid()
        queue.deleted_messages.update(message.all_receipt_handles)
        found.remove(message)


def wait_for_messages(queue: Any, timeout: float) -> None:
    """Wait until a message arrives or one becomes visible again, at most ``timeout`` s."""
    with queue._messages_lock:
        found = index(queue)
        now = _now()
        found.promote(now)
        if found.counts[READY]:
            return
        due = found.next_ready_at()
        if due is not None:
            timeout = min(timeout, max(0.0, (due - now) / 1000) + 0.002)
        queue._messages_lock.wait(timeout)


def change_message_visibility(
    backend: Any, queue_name: str, receipt_handle: str, visibility_timeout: int
) -> None:
    """moto's ``SQSBackend.change_message_visibility`` by receipt handle, not by a scan."""
    from moto.sqs.exceptions import InvalidParameterValue, ReceiptHandleIsInvalid

    queue = backend.get_queue(queue_name)
    with queue._messages_lock:
        found = index(queue)
        message = found.handles.get(receipt_handle)
        if message is None:
            raise ReceiptHandleIsInvalid
        now = _now()
        if now + int(visibility_timeout) * 1000 - message.sent_timestamp > _MAX_VISIBILITY_MS:
            raise InvalidParameterValue(
                f"Value {visibility_timeout} for parameter VisibilityTimeout is invalid. "
                "Reason: Total VisibilityTimeout for the message is beyond the limit "
                "[43200 seconds]"
            )
        message.change_visibility(visibility_timeout)
        found.settle(message, _now())


def receive_message(
    backend: Any,
    queue_name: str,
    count: int,
    wait_seconds_timeout: int,
    visibility_timeout: int,
    message_attribute_names: list[str] | None = None,
) -> list[Any]:
    """moto's ``SQSBackend.receive_message`` on the index; waits up to
    ``wait_seconds_timeout`` s for a first message."""
    queue = backend.get_queue(queue_name)
    deadline = _now() + wait_seconds_timeout * 1000
    while True:
        result = _receive_once(backend, queue, count, visibility_timeout)
        remaining_ms = deadline - _now()
        if result or remaining_ms <= 0:
            break
        queue.wait_for_messages(min(1.0, remaining_ms / 1000))
    return [_as_received(m, message_attribute_names or []) for m in result]


def _receive_once(backend: Any, queue: Any, count: int, visibility_timeout: int) -> list[Any]:
    from moto.sqs.models import Message

    taken: list[Message] = []
    to_dlq: list[Message] = []
    with queue._messages_lock:
        found = index(queue)
        now = _now()
        found.promote(now)
        max_receives = _max_receives(queue)
        blocked = set(found.in_flight) if queue.fifo_queue else set()
        order = None if queue.fifo_queue else _fair_order(found)
        for message in found.candidates(blocked, order):
            if not _within_retention(queue, message, now):
                found.remove(message)  # SQS deletes a message past its retention
                continue
            if max_receives is not None and message.approximate_receive_count >= max_receives:
                found.remove(message)
                to_dlq.append(message)
                continue
            message.mark_received(visibility_timeout=visibility_timeout)
            found.taken(message)
            taken.append(message)
            if len(taken) >= count:
                break
    for message in to_dlq:
        queue.dead_letter_queue.add_message(message)
    return taken


def _max_receives(queue: Any) -> int | None:
    if queue.dead_letter_queue is None or not queue.redrive_policy:
        return None
    return int(queue.redrive_policy["maxReceiveCount"])


def _fair_order(found: QueueIndex) -> list[list[str | None]] | None:
    """The lanes of a standard queue in fair-queue order, or None while no tenant is
    noisy (arrival order). Quiet tenants' lanes first, then the noisy tenants', those
    with the fewest messages in flight first."""
    in_flight = dict(found.in_flight)
    noisy = fairness.noisy_groups(in_flight)
    if not noisy:
        return None
    quiet: list[str | None] = [key for key in found.lanes if key not in noisy]
    order = [quiet]
    for level in sorted({in_flight[g] for g in noisy}):
        order.append([g for g in noisy if in_flight[g] == level])
    return order


def _within_retention(queue: Any, message: Any, now_ms: float) -> bool:
    retain_until = float(queue.message_retention_period) * 1000 + float(message.sent_timestamp)
    return retain_until > now_ms


def _as_received(message: Any, attribute_names: list[str]) -> Any:
    """What the response shows: the message with only the attributes asked for."""
    from moto.sqs.models import _filter_message_attributes

    shown = copy.copy(message)
    _filter_message_attributes(shown, attribute_names)
    return shown
