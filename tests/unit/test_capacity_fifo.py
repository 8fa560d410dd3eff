"""The FIFO planner: worked examples by hand, properties, refusals and the CLI.

Figures are derived in the comments from the documented rules, not from the
planner's code:
- FIFO quota without high throughput: 300 calls/s per API action; SendMessageBatch
  carries up to 10 messages and 1 MiB in total;
- high throughput, per region: 70,000 calls/s (us-east-1, us-west-2, eu-west-1),
  19,000 (us-east-2, eu-central-1), 9,000 (ap-south-1, ap-southeast-1,
  ap-southeast-2, ap-northeast-1), 4,500 (eu-west-2, sa-east-1), 2,400 elsewhere
  (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html);
  one group lives in one partition of 300 calls/s;
- one group has one batch in flight and its records run in order;
- FIFO requests cost 0.50 USD per million, every 64 KiB chunk one request.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sqs_blueprint.capacity import plan_fifo
from sqs_blueprint.cli import main
from sqs_blueprint.errors import UsageError

SECONDS_PER_MONTH = 730 * 3600  # 2,628,000


def test_worked_example_send_and_consume_tie_at_the_quota() -> None:
    # 1,000 msg/s of 1 KiB over 100 groups at 20 ms a record, no high throughput.
    plan = plan_fifo(messages_per_s=1000, groups=100, record_ms=20)
    assert plan.api_calls_per_s == 300
    assert plan.send_ceiling_per_s == 3000  # 300 calls/s x 10 messages
    assert plan.group_ceiling_per_s == 50  # one record every 20 ms
    assert plan.concurrency == 100  # one invocation per group
    # 100 groups could take 5,000 msg/s, but ReceiveMessage has the same
    # 300 calls/s quota: 300 x 10 = 3,000.
    assert plan.consume_ceiling_per_s == 3000
    assert plan.ceiling_per_s == 3000
    assert plan.headroom == 3
    assert plan.min_messages_per_send == 4  # 1,000 / 300 = 3.3 -> 4 per call
    assert plan.send_calls_per_s == 100  # batches of 10
    assert plan.producers == 2  # 100 calls/s x 20 ms = 2 calls in flight
    assert plan.busy_invocations == 20  # 1,000 msg/s x 20 ms
    # 2,628,000,000 messages a month; send 0.1 + receive 0.1 + delete 0.1 requests
    # each = 788,400,000 requests x 0.50 USD per million = 394.20 USD.
    assert plan.monthly_cost_usd.sqs_requests == pytest.approx(788_400_000)
    assert plan.monthly_cost_usd.sqs == pytest.approx(394.20)
    # Lambda: 262,800,000 invocations x 0.20 USD per million = 52.56 USD, plus
    # 2,628,000,000 x 20 ms x 0.25 GB = 13,140,000 GB-s x 0.0000133334 = 175.20 USD.
    assert plan.monthly_cost_usd.lambda_ == pytest.approx(227.76, abs=0.01)


def test_few_groups_bind_on_the_consume_side() -> None:
    # 10 groups x 50 msg/s = 500 msg/s, below the 3,000 msg/s send side.
    plan = plan_fifo(messages_per_s=400, groups=10, record_ms=20)
    assert plan.consume_ceiling_per_s == 500
    assert plan.binding == "consume"
    assert plan.headroom == 1.25
    assert "10 concurrent groups x 1 / 20 ms per record" in plan.reasons["consume_ceiling_per_s"]


@pytest.mark.parametrize("batch_size", range(1, 11))
def test_a_bigger_batch_does_not_speed_up_a_group(batch_size: int) -> None:
    # A batch of b records of one group takes b x 50 ms: 20 msg/s per group for any b,
    # so 3 groups carry 60 msg/s (far below the receive quota of 300 x b).
    plan = plan_fifo(messages_per_s=1, groups=3, record_ms=50, batch_size=batch_size)
    assert plan.group_ceiling_per_s == 20
    assert plan.consume_ceiling_per_s == 60


def test_max_concurrency_caps_the_groups_served_at_once() -> None:
    plan = plan_fifo(messages_per_s=1, groups=500, record_ms=10, max_concurrency=20)
    assert plan.concurrency == 20
    assert plan.consume_ceiling_per_s == 2000  # 20 x 100 msg/s


@pytest.mark.parametrize(
    ("region", "send_ceiling"),
    [
        ("us-east-1", 700_000),
        ("us-west-2", 700_000),
        ("eu-west-1", 700_000),
        ("us-east-2", 190_000),
        ("eu-central-1", 190_000),
        ("ap-south-1", 90_000),
        ("ap-southeast-1", 90_000),
        ("ap-southeast-2", 90_000),
        ("ap-northeast-1", 90_000),
        ("eu-west-2", 45_000),
        ("sa-east-1", 45_000),
        ("eu-north-1", 24_000),  # "all other regions": 2,400 calls/s
        ("ca-central-1", 24_000),
    ],
)
def test_high_throughput_send_ceiling_per_region(region: str, send_ceiling: int) -> None:
    # 10,000 groups spread over enough partitions that only the region's quota binds.
    plan = plan_fifo(
        messages_per_s=1, groups=10_000, record_ms=1, high_throughput=True, region=region
    )
    assert plan.send_ceiling_per_s == send_ceiling


def test_high_throughput_needs_many_groups() -> None:
    # 10 groups sit in at most 10 partitions of 300 calls/s x 10 messages: 30,000 msg/s.
    plan = plan_fifo(messages_per_s=1, groups=10, record_ms=0.1, high_throughput=True)
    assert plan.send_ceiling_per_s == 30_000
    assert "10 groups x 300 calls/s per partition" in plan.reasons["send_ceiling_per_s"]


def test_large_messages_fill_fewer_entries_and_more_chunks() -> None:
    # 200 KiB: 5 fit in the 1 MiB batch total, so 300 x 5 = 1,500 msg/s.
    plan = plan_fifo(messages_per_s=10, groups=10, record_ms=20, message_kb=200, batch_size=5)
    assert plan.messages_per_send == 5
    assert plan.send_ceiling_per_s == 1500
    # A send of 5 x 200 KiB = 1,000 KiB is 16 chunks of 64 KiB: 3.2 requests a message;
    # a receive of 5 the same; a delete of 5 is one request: 0.2. Total 6.6 per message,
    # 10 msg/s x 2,628,000 s = 26,280,000 messages -> 173,448,000 requests.
    assert plan.monthly_cost_usd.sqs_requests == pytest.approx(173_448_000)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"messages_per_s": 5000, "groups": 1000, "record_ms": 20},
            "target 5,000 msg/s is more than the send-side ceiling of 3,000 msg/s "
            "(300 send calls/s x 10 messages per call); enable high throughput "
            "(DeduplicationScope=messageGroup, perMessageGroupId)",
        ),
        (
            {"messages_per_s": 1000, "groups": 10, "record_ms": 20},
            "target 1,000 msg/s is more than the consume-side ceiling of 500 msg/s "
            "(10 concurrent groups x 1 / 20 ms per record); spread the load over at least "
            "20 message groups",
        ),
        (
            {"messages_per_s": 1000, "groups": 100, "record_ms": 20, "max_concurrency": 10},
            "target 1,000 msg/s is more than the consume-side ceiling of 500 msg/s "
            "(10 concurrent groups x 1 / 20 ms per record); raise max_concurrency to at least 20",
        ),
        (
            {"messages_per_s": 2000, "groups": 1000, "record_ms": 1, "batch_size": 5},
            "target 2,000 msg/s is more than the consume-side ceiling of 1,500 msg/s "
            "(300 receive calls/s x batches of 5); raise the batch size or enable high throughput",
        ),
        (
            {"messages_per_s": 50_000, "groups": 10, "record_ms": 0.1, "high_throughput": True},
            "target 50,000 msg/s is more than the send-side ceiling of 30,000 msg/s (10 groups "
            "x 300 calls/s per partition x 10 messages per call); spread the load over more",
        ),
        (
            {
                "messages_per_s": 30_000,
                "groups": 100_000,
                "record_ms": 0.1,
                "high_throughput": True,
                "region": "eu-north-1",
            },
            "target 30,000 msg/s is more than the send-side ceiling of 24,000 msg/s (2,400 send "
            "calls/s x 10 messages per call); 2,400 calls/s is the eu-north-1 quota",
        ),
    ],
)
def test_impossible_plans_are_refused_with_the_limit(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(UsageError) as err:
        plan_fifo(**kwargs)  # type: ignore[arg-type]
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"messages_per_s": 0}, "messages_per_s must be greater than 0, got 0"),
        ({"groups": 0}, "groups must be a whole number of at least 1, got 0"),
        ({"groups": 2.5}, "groups must be a whole number of at least 1, got 2.5"),
        ({"record_ms": -1}, "record_ms must be greater than 0, got -1"),
        ({"batch_size": 11}, "batch_size must be at most 10 (a FIFO event source mapping's"),
        ({"batch_size": 0}, "batch_size must be a whole number of at least 1, got 0"),
        ({"message_kb": 1025}, "message_kb must be at most 1024 (the SQS message size limit"),
        ({"message_kb": float("nan")}, "message_kb must be a finite number, got nan"),
        ({"max_concurrency": 1}, "max_concurrency must be a whole number of at least 2, got 1"),
        ({"max_concurrency": 1001}, "max_concurrency must be at most 1000"),
        ({"region": "mars"}, "region must be an AWS region name such as us-east-1, got 'mars'"),
        (
            {"region": "us-east-1\n"},
            "region must be an AWS region name such as us-east-1, got 'us-east-1\\n'",
        ),
        (
            {"region": "us-east-\u0661"},  # ARABIC-INDIC DIGIT ONE, a Unicode digit
            "region must be an AWS region name such as us-east-1, got 'us-east-\u0661'",
        ),
        ({"send_latency_ms": 0}, "send_latency_ms must be greater than 0, got 0"),
    ],
)
def test_bad_fifo_inputs(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"messages_per_s": 10, "groups": 10, "record_ms": 20, **kwargs}
    with pytest.raises(UsageError) as err:
        plan_fifo(**args)  # type: ignore[arg-type]
    assert message in str(err.value)


def _ceiling(**kwargs: object) -> float:
    return plan_fifo(messages_per_s=1e-6, **kwargs).ceiling_per_s  # type: ignore[arg-type]


@given(
    groups=st.integers(1, 5000),
    record_ms=st.floats(0.01, 10_000),
    batch=st.integers(1, 10),
    high=st.booleans(),
)
def test_more_groups_or_faster_records_never_lower_the_ceiling(
    groups: int, record_ms: float, batch: int, high: bool
) -> None:
    base = {"record_ms": record_ms, "batch_size": batch, "high_throughput": high}
    ceiling = _ceiling(groups=groups, **base)
    assert _ceiling(groups=groups + 1, **base) >= ceiling
    assert _ceiling(groups=groups, **{**base, "record_ms": record_ms / 2}) >= ceiling
    if not high:
        assert _ceiling(groups=groups, **{**base, "high_throughput": True}) >= ceiling
    # Each group is served one record at a time: never more than groups / record time.
    assert ceiling <= groups * 1000 / record_ms * (1 + 1e-9)


@given(
    target=st.floats(0.1, 1e6),
    groups=st.integers(1, 2000),
    record_ms=st.floats(0.01, 1000),
)
def test_a_plan_is_refused_exactly_when_the_target_is_above_the_ceiling(
    target: float, groups: int, record_ms: float
) -> None:
    ceiling = _ceiling(groups=groups, record_ms=record_ms)
    if target > ceiling:
        with pytest.raises(UsageError, match="ceiling"):
            plan_fifo(messages_per_s=target, groups=groups, record_ms=record_ms)
    else:
        plan = plan_fifo(messages_per_s=target, groups=groups, record_ms=record_ms)
        assert plan.ceiling_per_s == ceiling
        assert plan.busy_invocations <= plan.concurrency * (1 + 1e-9)
        assert plan.min_messages_per_send <= plan.messages_per_send


def test_cli_plan_fifo_json_matches_the_python_api(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["plan", "fifo", "--rate", "400", "--groups", "10", "--record-ms", "20", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    plan = plan_fifo(messages_per_s=400, groups=10, record_ms=20)
    for name in ("send_ceiling_per_s", "consume_ceiling_per_s", "binding", "producers"):
        assert out[name] == getattr(plan, name)
    assert out["monthly_cost_usd"]["sqs"] == pytest.approx(plan.monthly_cost_usd.sqs)
    assert out["monthly_cost_usd"]["total"] == pytest.approx(plan.monthly_cost_usd.total)
    assert out["reasons"]["consume_ceiling_per_s"] == plan.reasons["consume_ceiling_per_s"]


def test_cli_plan_fifo_table_gives_each_figure_its_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["plan", "fifo", "--rate", "1000", "--groups", "10", "--record-ms", "1"]
    argv += ["--high-throughput", "--region", "eu-central-1"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    send = next(line for line in lines if line.startswith("send_ceiling_per_s"))
    # 10 groups x 300 calls/s per partition x 10 = 30,000, below eu-central-1's 190,000.
    assert "30,000" in send
    assert "10 groups x 300 calls/s per partition x 10 messages per call" in send
    calls = next(line for line in lines if line.startswith("api_calls_per_s"))
    assert "19,000" in calls and "high throughput in eu-central-1" in calls


def test_cli_plan_fifo_refusal_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["plan", "fifo", "--rate", "1000", "--groups", "10", "--record-ms", "20"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("sqs-blueprint plan fifo: target 1,000 msg/s is more than the consume")


def test_cli_plan_without_write_buffer_flags_names_what_is_missing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["plan", "--wcu", "10"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "the following arguments are required: --item-kb, --function-timeout" in err


def test_send_ceiling_is_calls_times_entries_for_every_size() -> None:
    # Entries per call: 10 while 10 messages fit in 1 MiB, then floor(1024 / size).
    for size, entries in [(1, 10), (102.4, 10), (103, 9), (512, 2), (1024, 1)]:
        plan = plan_fifo(messages_per_s=1, groups=10, record_ms=20, message_kb=size)
        assert plan.messages_per_send == entries
        assert math.isclose(plan.send_ceiling_per_s, 300 * entries)
