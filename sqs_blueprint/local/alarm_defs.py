"""A template's ``AWS::CloudWatch::Alarm`` resources, read into what the local alarm
watch evaluates: the metrics (namespace, name, dimensions resolved to the deployed
resources, statistic, period), the math expression over them if any, and the rule.

An alarm this module cannot read (an anomaly band, a percentile, an intermediate
expression, a dimension it cannot resolve) is returned with the reason, so the deploy
reports it as not evaluated instead of evaluating something else.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqs_blueprint.local.alarm_math import Expression, Period
from sqs_blueprint.local.alarm_rules import AlarmRuleError, Rule, statistic
from sqs_blueprint.local.alarm_sources import MetricKey, missing_source

ALARM_TYPE = "AWS::CloudWatch::Alarm"
SINGLE = "m"  # the id of an alarm's one metric when it has no Metrics list
_HASH = re.compile(r"[0-9A-F]{8}$")
Resolve = Callable[[Any], str]


@dataclass(frozen=True)
class MetricStat:
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str
    period: int

    @property
    def key(self) -> MetricKey:
        return (self.namespace, self.name, self.dimensions)


@dataclass(frozen=True)
class AlarmDef:
    name: str
    logical_id: str
    period: int  # seconds, as declared
    rule: Rule
    metrics: Mapping[str, MetricStat]  # by id
    expression: Expression | None  # None: the datapoint is metrics[SINGLE]'s
    props: Mapping[str, Any]  # the resolved properties, for PutMetricAlarm
    actions: Mapping[str, tuple[str, ...]]  # topic ARNs by the state they are for

    def datapoint(self, values: Mapping[str, float | None]) -> float | None:
        """One period's datapoint from its metrics' values by id."""
        if self.expression is None:
            return values.get(SINGLE)
        return self.expression.value(Period(values, self.period))


def alarm_name(stack_name: str, logical_id: str, props: Mapping[str, Any], resolve: Resolve) -> str:
    """The alarm's name: its AlarmName, else the stack's name and the logical id without
    the hash CDK appends (CloudFormation adds a random suffix of its own instead)."""
    if "AlarmName" in props:
        return resolve(props["AlarmName"])
    return f"{stack_name}-{_HASH.sub('', logical_id)}"


def read_alarms(
    stack_name: str, template: Mapping[str, Any], resolve: Resolve
) -> tuple[list[AlarmDef], dict[str, str]]:
    """The template's alarms that can be evaluated, and the others' logical ids with why not."""
    found: list[AlarmDef] = []
    refused: dict[str, str] = {}
    for lid, resource in template.get("Resources", {}).items():
        if resource.get("Type") != ALARM_TYPE:
            continue
        try:
            alarm = read_alarm(stack_name, lid, resource.get("Properties", {}), resolve)
        except (AlarmRuleError, KeyError, TypeError, ValueError) as error:
            refused[lid] = str(error)
            continue
        reasons = [r for m in alarm.metrics.values() if (r := missing_source(m.key))]
        if reasons:
            refused[lid] = reasons[0]
        else:
            found.append(alarm)
    return found, refused


def read_alarm(
    stack_name: str, logical_id: str, props: Mapping[str, Any], resolve: Resolve
) -> AlarmDef:
    treat = props.get("TreatMissingData", "missing")
    rule_props = {
        "comparison": props["ComparisonOperator"],
        "threshold": float(props["Threshold"]) if "Threshold" in props else None,
        "evaluation_periods": int(props["EvaluationPeriods"]),
        "datapoints_to_alarm": int(props["DatapointsToAlarm"])
        if "DatapointsToAlarm" in props
        else None,
    }
    if rule_props["threshold"] is None:
        raise AlarmRuleError("an alarm without Threshold (an anomaly detection band)")
    if "Metrics" in props:
        metrics, expression = _queries(props["Metrics"], resolve)
    else:
        metrics, expression = {SINGLE: _single(props, resolve)}, None
    periods = {m.period for m in metrics.values()}
    if len(periods) != 1:
        raise AlarmRuleError(f"metrics of different periods {sorted(periods)}")
    if any(m.namespace == "AWS/DynamoDB" for m in metrics.values()):
        treat = "ignore"  # CloudWatch: DynamoDB alarms always ignore missing data
    rule = Rule(treat_missing=treat, **rule_props)
    resolved = {k: _resolved(v, resolve) for k, v in props.items() if k not in _NOT_SENT}
    return AlarmDef(
        name=alarm_name(stack_name, logical_id, props, resolve),
        logical_id=logical_id,
        period=periods.pop(),
        rule=rule,
        metrics=metrics,
        expression=expression,
        props=resolved,
        actions={
            state: tuple(_actions(props.get(name, []), resolve)) for state, name in _ACTIONS.items()
        },
    )


_ACTIONS = {
    "ALARM": "AlarmActions",
    "OK": "OKActions",
    "INSUFFICIENT_DATA": "InsufficientDataActions",
}


def _actions(actions: list[Any], resolve: Resolve) -> list[str]:
    """The SNS topics among ``actions`` (an action that cannot be resolved is left out)."""
    found = []
    for action in actions:
        try:
            arn = resolve(action)
        except (AlarmRuleError, KeyError):
            continue
        if arn.startswith("arn:aws:sns:"):
            found.append(arn)
    return found


# Properties PutMetricAlarm takes under another name, or not at all.
_NOT_SENT = {"AlarmName", "Tags", "AlarmActions", "OKActions", "InsufficientDataActions"}


def _single(props: Mapping[str, Any], resolve: Resolve) -> MetricStat:
    if "ExtendedStatistic" in props:
        raise AlarmRuleError(f"extended statistic {props['ExtendedStatistic']!r}")
    stat = props["Statistic"]
    statistic(stat, [0.0])  # refuses what is not evaluated
    return MetricStat(
        props["Namespace"],
        props["MetricName"],
        _dimensions(props.get("Dimensions", []), resolve),
        stat,
        int(props["Period"]),
    )


def _queries(
    queries: list[Mapping[str, Any]], resolve: Resolve
) -> tuple[dict[str, MetricStat], Expression | None]:
    returned = [q for q in queries if q.get("ReturnData", True)]
    if len(returned) != 1:
        raise AlarmRuleError(f"{len(returned)} queries return data; an alarm needs one")
    expressions = [q for q in queries if "Expression" in q]
    if any(q is not returned[0] for q in expressions):
        raise AlarmRuleError("an expression that feeds another expression")
    metrics = {}
    for query in queries:
        if "MetricStat" in query:
            stat = query["MetricStat"]
            metric = stat["Metric"]
            statistic(stat["Stat"], [0.0])
            metrics[query["Id"]] = MetricStat(
                metric["Namespace"],
                metric["MetricName"],
                _dimensions(metric.get("Dimensions", []), resolve),
                stat["Stat"],
                int(stat["Period"]),
            )
    if not expressions:
        return {SINGLE: metrics[returned[0]["Id"]]}, None
    expression = Expression(expressions[0]["Expression"])
    if "PERIOD" in expression.functions:
        raise AlarmRuleError(
            "its expression uses PERIOD(), a rate in real time (e.g. heartbeats a minute) "
            "that the local cloud's shorter periods would distort"
        )
    unknown = expression.ids - metrics.keys()
    if unknown:
        raise AlarmRuleError(f"the expression reads {sorted(unknown)}, which no query defines")
    return metrics, expression


def _dimensions(
    dimensions: list[Mapping[str, Any]], resolve: Resolve
) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((d["Name"], resolve(d["Value"])) for d in dimensions))


def _resolved(value: Any, resolve: Resolve) -> Any:
    """``value`` with every Ref and Fn::GetAtt resolved."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in ("Ref", "Fn::GetAtt"):
            return resolve(value)
        return {k: _resolved(v, resolve) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolved(v, resolve) for v in value]
    return value


def resolver(resources: Mapping[str, str]) -> Resolve:
    """Resolve a dimension value against the deployed stack (logical -> physical ids):
    a string, ``Ref``, and ``Fn::GetAtt`` of ``QueueName`` or ``TopicName``."""

    def resolve(value: Any) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and "Ref" in value:
            return resources[value["Ref"]]
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            lid, attribute = value["Fn::GetAtt"]
            physical = resources[lid]
            if attribute == "QueueName":  # a queue's physical id is its URL
                return physical.rstrip("/").rsplit("/", 1)[-1]
            if attribute == "TopicName":  # a topic's physical id is its ARN
                return physical.rsplit(":", 1)[-1]
        raise AlarmRuleError(f"a dimension value the local cloud cannot resolve: {value!r}")

    return resolve


def placeholder(value: Any) -> str:
    """A resolver for reading a template before it is deployed: every reference is fine."""
    return value if isinstance(value, str) else "?"


def not_evaluated(template: Mapping[str, Any]) -> dict[str, str]:
    """The template's alarms the local cloud cannot evaluate, by logical id, with why."""
    return read_alarms("", template, placeholder)[1]
