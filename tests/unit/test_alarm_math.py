"""The metric math of the blueprint's alarms, one period at a time."""

from __future__ import annotations

import pytest

from sqs_blueprint.local.alarm_math import Expression, Period
from sqs_blueprint.local.alarm_rules import AlarmRuleError

SHARE = "IF(polled > 0, failed / polled, 0)"
HEARTBEATS = "IF(inservice > 0, FILL(beats, 0) / (inservice * PERIOD(inservice) / 60), 1)"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"polled": 40.0, "failed": 10.0}, 0.25),
        ({"polled": 0.0, "failed": 0.0}, 0.0),
        ({"polled": 40.0}, None),  # no failed datapoint: no datapoint
        ({}, None),
    ],
)
def test_failed_invoke_share(values: dict[str, float], expected: float | None) -> None:
    assert Expression(SHARE).value(Period(values, 300)) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"inservice": 2.0, "beats": 5.0}, 0.5),  # 5 of the 2 x 300 / 60 = 10 expected
        ({"inservice": 2.0}, 0.0),  # FILL: no heartbeat at all
        ({"inservice": 0.0}, 1.0),  # no instance, nothing to miss
    ],
)
def test_heartbeat_share(values: dict[str, float], expected: float) -> None:
    assert Expression(HEARTBEATS).value(Period(values, 300)) == expected


def test_precedence_and_unary_minus() -> None:
    assert Expression("1 + 2 * 3 - -4 / 2").value(Period({}, 60)) == 9.0
    assert Expression("(1 + 2) * 3 >= 9").value(Period({}, 60)) == 1.0


def test_the_ids_it_reads() -> None:
    assert Expression(HEARTBEATS).ids == {"inservice", "beats"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ANOMALY_DETECTION_BAND(m1, 2)", r"ANOMALY_DETECTION_BAND\(\) is not evaluated locally"),
        ("IF(a, b)", r"IF\(\) with 2 arguments"),
        ("a +", "expected more"),
        ("a $ b", "cannot read"),
    ],
)
def test_what_cannot_be_read_says_so(text: str, message: str) -> None:
    with pytest.raises(AlarmRuleError, match=message):
        Expression(text)


def test_the_functions_it_calls() -> None:
    assert Expression(HEARTBEATS).functions == {"IF", "FILL", "PERIOD"}
