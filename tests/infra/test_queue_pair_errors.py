"""Every invalid QueueWithDlq call fails at synth with one clear message."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs

from sqs_blueprint_cdk import InvalidPropsError, QueueWithDlq


def build(stack: Stack, **props: Any) -> QueueWithDlq:
    return QueueWithDlq(stack, "Pair", **props)


def imported(stack: Stack, name: str) -> sqs.IQueue:
    return sqs.Queue.from_queue_arn(stack, "Existing", f"arn:aws:sqs:us-east-1:111111111111:{name}")


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"fifo": True, "dlq": "shared-dlq"},
            "dead_letter_queue='standard queue Test/Existing': a FIFO source needs a FIFO "
            "dead-letter queue",
        ),
        (
            {"fifo": False, "dlq": "shared-dlq.fifo"},
            "dead_letter_queue='FIFO queue Test/Existing': a standard source needs a standard "
            "dead-letter queue",
        ),
        (
            {"retention_period": Duration.days(14), "dlq_retention_period": Duration.days(14)},
            "dlq_retention_period='1209600 s': must be longer than retention_period (1209600 s)",
        ),
        ({"max_receive_count": 0}, "max_receive_count=0: must be 1..1000"),
        ({"max_receive_count": 1001}, "max_receive_count=1001: must be 1..1000"),
        (
            {"fifo": True, "retention_period": Duration.days(15)},
            "retention_period='1296000 s': must be 60..1209600 s (60 s to 14 days)",
        ),
        (
            {"dlq_retention_period": Duration.days(15)},
            "dlq_retention_period='1296000 s': must be 60..1209600 s",
        ),
        (
            {"retention_period": Duration.seconds(30)},
            "retention_period='30 s': must be 60..1209600 s",
        ),
        (
            {"content_based_deduplication": True},
            "content_based_deduplication=True: applies to FIFO queues only. "
            "Fix: set fifo=True or drop the setting.",
        ),
        ({"high_throughput": True}, "high_throughput=True: applies to FIFO queues only"),
        (
            {"visibility_timeout": Duration.hours(13)},
            "visibility_timeout='46800 s': must be 0..43200 s (12 hours)",
        ),
        ({"queue_name": "orders.fifo"}, "queue_name='orders.fifo': FIFO queue names end in"),
        ({"fifo": True, "queue_name": "orders"}, "queue_name='orders': FIFO queue names end in"),
        ({"queue_name": "q" * 77}, "must leave room for the DLQ's '-dlq' suffix"),
    ],
    ids=[
        "fifo-source-standard-dlq",
        "standard-source-fifo-dlq",
        "dlq-retention-not-longer",
        "threshold-0",
        "threshold-1001",
        "retention-over-14-days",
        "dlq-retention-over-14-days",
        "retention-under-60-s",
        "content-dedup-on-standard",
        "high-throughput-on-standard",
        "visibility-over-12-hours",
        "fifo-name-on-standard",
        "standard-name-on-fifo",
        "name-too-long",
    ],
)
def test_bad_input_is_refused_with_its_message(
    new_stack: Callable[[], Stack], props: dict[str, Any], message: str
) -> None:
    stack = new_stack()
    if "dlq" in props:
        props["dead_letter_queue"] = imported(stack, props.pop("dlq"))
    with pytest.raises(InvalidPropsError) as error:
        build(stack, **props)
    text = str(error.value)
    assert text.startswith("QueueWithDlq 'Test/Pair': 1 invalid setting:\n")
    assert message in text
    assert "Fix: " in text


def test_fifo_dlq_retention_may_equal_source_retention(new_stack: Callable[[], Stack]) -> None:
    # docs/aws-facts.md#sqs-limits: FIFO queues reset the enqueue timestamp on the move.
    pair = build(
        new_stack(),
        fifo=True,
        retention_period=Duration.days(14),
        dlq_retention_period=Duration.days(14),
    )
    assert pair.fifo


def test_every_problem_is_reported_at_once(new_stack: Callable[[], Stack]) -> None:
    with pytest.raises(InvalidPropsError) as error:
        build(
            new_stack(),
            max_receive_count=0,
            high_throughput=True,
            retention_period=Duration.days(20),
        )
    text = str(error.value)
    assert "4 invalid settings" in text
    for setting in (
        "max_receive_count=",
        "high_throughput=",
        "retention_period=",
        "dlq_retention_period=",
    ):
        assert re.search(rf"^  - {setting}", text, re.MULTILINE), setting


def test_one_key_only(new_stack: Callable[[], Stack]) -> None:
    stack = new_stack()
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    with pytest.raises(InvalidPropsError, match="cannot be combined with encryption_key"):
        build(stack, encryption_key=key, customer_managed_key=True)


def test_given_visibility_too_short_for_consumer(new_stack: Callable[[], Stack]) -> None:
    pair = build(new_stack(), visibility_timeout=Duration.seconds(60))
    with pytest.raises(InvalidPropsError) as error:
        pair.ensure_visibility_at_least(
            Duration.seconds(190), reason="6 x function timeout (30 s) + batching window (10 s)"
        )
    assert (
        "visibility_timeout='60 s': 6 x function timeout (30 s) + batching window (10 s) = 190 s"
        in str(error.value)
    )


def test_short_visibility_override_leaves_a_warning(new_stack: Callable[[], Stack]) -> None:
    from aws_cdk.assertions import Annotations, Match

    stack = new_stack()
    pair = build(stack, visibility_timeout=Duration.seconds(60))
    pair.ensure_visibility_at_least(
        Duration.seconds(190), reason="6 x 30 s + 10 s", allow_short=True
    )
    Annotations.from_stack(stack).has_warning(
        "*", Match.string_like_regexp("visibility_timeout is 60 s but 6 x 30 s \\+ 10 s")
    )
    assert pair.visibility_timeout.to_seconds() == 60


def test_required_visibility_over_the_service_limit(new_stack: Callable[[], Stack]) -> None:
    pair = build(new_stack())
    with pytest.raises(InvalidPropsError, match="but SQS allows at most 43200 s"):
        pair.ensure_visibility_at_least(Duration.seconds(50_000), reason="6 x 8000 s + 2000 s")
