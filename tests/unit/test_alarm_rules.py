"""The local alarm evaluator against CloudWatch's documented cases: the two tables of
"How alarm state is evaluated when data is missing" (0 within the threshold, X
breaching, - missing; five datapoints retrieved for three evaluation periods)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from sqs_blueprint.local.alarm_rules import (
    ALARM,
    INSUFFICIENT,
    OK,
    AlarmRuleError,
    Rule,
    evaluate,
    statistic,
)

KEEP = "keep"  # "Retain current state"
TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")

# (datapoints, then the state for missing, ignore, breaching, notBreaching)
THREE_OF_THREE = [
    ("0 - X - X", OK, OK, OK, OK),
    ("0 - - - -", OK, OK, OK, OK),
    ("- - - - -", INSUFFICIENT, KEEP, ALARM, OK),
    ("0 X X - X", ALARM, ALARM, ALARM, ALARM),
    ("- - - - X", INSUFFICIENT, KEEP, ALARM, OK),
    ("X - - - -", ALARM, KEEP, ALARM, OK),
]
TWO_OF_THREE = [
    ("0 - X - X", ALARM, ALARM, ALARM, ALARM),
    ("0 0 X 0 X", ALARM, ALARM, ALARM, ALARM),
    ("0 - X - -", OK, OK, ALARM, OK),
    ("- - - - 0", OK, OK, ALARM, OK),
    ("- - - - X", INSUFFICIENT, KEEP, ALARM, OK),
]


def points(text: str) -> list[float | None]:
    """Threshold 1, greater than: X is 5, 0 is 0, - is missing."""
    return [{"X": 5.0, "0": 0.0, "-": None}[c] for c in text.split()]


def cases(table: Sequence[tuple[str, ...]], m: int) -> list[tuple[str, int, str, str]]:
    return [
        (row[0], m, treat, expected)
        for row in table
        for treat, expected in zip(TREATMENTS, row[1:], strict=True)
    ]


@pytest.mark.parametrize(
    ("data", "m", "treat", "expected"), cases(THREE_OF_THREE, 3) + cases(TWO_OF_THREE, 2)
)
@pytest.mark.parametrize("current", [OK, ALARM, INSUFFICIENT])
def test_documented_missing_data_table(
    data: str, m: int, treat: str, expected: str, current: str
) -> None:
    rule = Rule("GreaterThanThreshold", 1, 3, m, treat)
    assert evaluate(rule, points(data), current) == (current if expected == KEEP else expected)


def test_only_the_evaluation_range_counts() -> None:
    """Older datapoints than the range (N + 2) are not evaluated: a breach six periods
    ago is forgotten by a 1-of-3 alarm whose range then holds only missing ones."""
    rule = Rule("GreaterThanThreshold", 1, 3, 1, "missing")
    assert evaluate(rule, points("X - - - - -"), OK) == INSUFFICIENT
    assert evaluate(rule, points("X - - - -"), OK) == ALARM


def test_fewer_periods_than_the_range_are_missing_ones_before() -> None:
    """An alarm that has seen one period: the others count as missing, oldest first."""
    one = Rule("GreaterThanOrEqualToThreshold", 1, 1, None, "notBreaching")
    assert evaluate(one, [3.0], INSUFFICIENT) == ALARM
    assert evaluate(one, [0.0], ALARM) == OK
    assert evaluate(Rule("GreaterThanThreshold", 1, 3), [5.0], OK) == INSUFFICIENT


@pytest.mark.parametrize(
    ("comparison", "value", "breaches"),
    [
        ("GreaterThanOrEqualToThreshold", 1.0, True),
        ("GreaterThanOrEqualToThreshold", 0.99, False),
        ("GreaterThanThreshold", 1.0, False),
        ("GreaterThanThreshold", 1.01, True),
        ("LessThanThreshold", 1.0, False),
        ("LessThanThreshold", 0.5, True),
        ("LessThanOrEqualToThreshold", 1.0, True),
        ("LessThanOrEqualToThreshold", 1.5, False),
    ],
)
def test_comparison_operators(comparison: str, value: float, breaches: bool) -> None:
    assert Rule(comparison, 1.0).breaches(value) is breaches


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Maximum", 7.0), ("Minimum", 1.0), ("Sum", 12.0), ("Average", 3.0), ("SampleCount", 4.0)],
)
def test_statistics(name: str, expected: float) -> None:
    assert statistic(name, [1.0, 7.0, 2.0, 2.0]) == expected


def test_a_period_without_samples_is_missing() -> None:
    assert statistic("Sum", []) is None


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (lambda: Rule("LessThanLowerThreshold", 1), "comparison operator 'LessThanLowerThreshold'"),
        (
            lambda: Rule("GreaterThanThreshold", 1, 3, 4),
            r"DatapointsToAlarm 4 must be 1..EvaluationPeriods \(3\)",
        ),
        (lambda: Rule("GreaterThanThreshold", 1, 1, None, "zero"), "TreatMissingData 'zero'"),
        (lambda: statistic("p99", [1.0]), "statistic 'p99' is not evaluated locally"),
    ],
)
def test_what_is_not_evaluated_says_so(rule: object, message: str) -> None:
    with pytest.raises(AlarmRuleError, match=message):
        rule()  # type: ignore[operator]
