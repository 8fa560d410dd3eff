"""CloudWatch's alarm rules, as pure functions: a period's statistic, a datapoint against
the threshold, and the alarm state from the datapoints of the evaluation range
(docs/aws-facts.md#cloudwatch-alarms).

- ``datapoints_to_alarm`` (M) of the ``evaluation_periods`` (N) most recent datapoints
  must breach for ALARM, else OK; the breaching ones need not be consecutive.
- CloudWatch retrieves more datapoints than N, the *evaluation range*: five for
  N = 3 in the documented example; here N + 2.
- Enough real datapoints in the range (at least N): the most recent N real ones
  decide, whatever the missing-data setting.
- Fewer: every real datapoint counts, and missing ones fill in as few times as
  possible, as ``treat_missing`` says (``breaching``, ``notBreaching``); with
  ``missing``, no real datapoint means INSUFFICIENT_DATA, a non-breaching one OK, and
  only breaching ones ALARM when the oldest datapoint of the range is one of them
  (the metric stopped), else INSUFFICIENT_DATA; ``ignore`` keeps the current state
  wherever ``missing`` would not decide by real datapoints.
- Alarms on ``AWS/DynamoDB`` metrics always ignore missing data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqs_blueprint.errors import SqsBlueprintError

OK, ALARM, INSUFFICIENT = "OK", "ALARM", "INSUFFICIENT_DATA"
TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")
EXTRA_RANGE = 2  # the evaluation range holds N + 2 datapoints


class AlarmRuleError(SqsBlueprintError):
    """An alarm definition the local cloud cannot read."""


_COMPARE = {
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "GreaterThanThreshold": lambda v, t: v > t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


@dataclass(frozen=True)
class Rule:
    """How one alarm turns datapoints into a state."""

    comparison: str
    threshold: float
    evaluation_periods: int = 1
    datapoints_to_alarm: int | None = None  # None: equal to evaluation_periods
    treat_missing: str = "missing"

    def __post_init__(self) -> None:
        if self.comparison not in _COMPARE:
            raise AlarmRuleError(
                f"comparison operator {self.comparison!r} is not evaluated locally "
                f"(only {', '.join(_COMPARE)}; anomaly detection bands are not)"
            )
        if self.treat_missing not in TREATMENTS:
            raise AlarmRuleError(
                f"TreatMissingData {self.treat_missing!r}: must be one of {', '.join(TREATMENTS)}"
            )
        if not 1 <= self.m <= self.evaluation_periods:
            raise AlarmRuleError(
                f"DatapointsToAlarm {self.m} must be 1..EvaluationPeriods "
                f"({self.evaluation_periods})"
            )

    @property
    def m(self) -> int:
        return self.datapoints_to_alarm or self.evaluation_periods

    @property
    def evaluation_range(self) -> int:
        return self.evaluation_periods + EXTRA_RANGE

    def breaches(self, value: float) -> bool:
        return bool(_COMPARE[self.comparison](value, self.threshold))


def statistic(name: str, samples: Sequence[float]) -> float | None:
    """A period's statistic over its samples; None (a missing datapoint) without samples."""
    if not samples:
        return None
    if name == "Maximum":
        return max(samples)
    if name == "Minimum":
        return min(samples)
    if name == "Sum":
        return sum(samples)
    if name == "Average":
        return sum(samples) / len(samples)
    if name == "SampleCount":
        return float(len(samples))
    raise AlarmRuleError(
        f"statistic {name!r} is not evaluated locally (Maximum, Minimum, Sum, Average, "
        "SampleCount are; percentiles and extended statistics are not)"
    )


def evaluate(rule: Rule, points: Sequence[float | None], current: str) -> str:
    """The state ``rule`` gives the datapoints of its evaluation range (oldest first, None
    for a missing one; only the last ``rule.evaluation_range`` count, and fewer are padded
    with missing ones before them), now in ``current``."""
    recent = list(points)[-rule.evaluation_range :]
    window: list[float | None] = [None] * (rule.evaluation_range - len(recent))
    window += recent
    real = [p for p in window if p is not None]
    n, m = rule.evaluation_periods, rule.m
    if len(real) >= n:
        return ALARM if sum(rule.breaches(p) for p in real[-n:]) >= m else OK
    breaching = sum(rule.breaches(p) for p in real)
    fills = n - len(real)
    if rule.treat_missing == "breaching":
        return ALARM if breaching + fills >= m else OK
    if rule.treat_missing == "notBreaching":
        return ALARM if breaching >= m else OK
    if breaching >= m:
        return ALARM
    if len(real) > breaching:  # a real datapoint within the threshold
        return OK
    if rule.treat_missing == "ignore":
        return current
    stopped = window[0] is not None
    return ALARM if real and stopped else INSUFFICIENT
