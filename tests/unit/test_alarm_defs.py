"""Synthesized alarm definitions read for the local alarm watch: dimensions resolved to
the deployed resources, DynamoDB's missing-data rule, and what is refused, with why."""

from __future__ import annotations

from typing import Any

from sqs_blueprint.local.alarm_defs import not_evaluated, read_alarms, resolver

RESOURCES = {
    "Dlq1234ABCD": "http://localhost:5000/123456789012/my-dlq",
    "FnABCDEF12": "my-function",
    "Table1": "my-table",
    "Topic1": "arn:aws:sns:us-east-1:123456789012:alarms",
}


def alarm(**props: Any) -> dict[str, Any]:
    base = {
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 2,
        "Threshold": 1,
        "TreatMissingData": "notBreaching",
    }
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {**base, **props}}


def single(namespace: str, name: str, dimension: tuple[str, Any], **props: Any) -> dict[str, Any]:
    return alarm(
        Namespace=namespace,
        MetricName=name,
        Dimensions=[{"Name": dimension[0], "Value": dimension[1]}],
        **{"Statistic": "Maximum", "Period": 300, **props},
    )


def test_a_queue_alarm_resolves_to_the_deployed_queue() -> None:
    template = {
        "Resources": {
            "DlqDepthAlarm5D0A4349": single(
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                ("QueueName", {"Fn::GetAtt": ["Dlq1234ABCD", "QueueName"]}),
                AlarmActions=[{"Ref": "Topic1"}],
            )
        }
    }
    [found], refused = read_alarms("stack", template, resolver(RESOURCES))
    assert refused == {}
    assert found.name == "stack-DlqDepthAlarm"
    assert [m.key for m in found.metrics.values()] == [
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", (("QueueName", "my-dlq"),))
    ]
    assert (found.period, found.rule.evaluation_periods, found.rule.m) == (300, 3, 2)
    assert found.actions["ALARM"] == ("arn:aws:sns:us-east-1:123456789012:alarms",)
    assert found.datapoint({"m": 4.0}) == 4.0


def test_dynamodb_alarms_ignore_missing_data() -> None:
    template = {
        "Resources": {
            "Throttles": single(
                "AWS/DynamoDB", "WriteThrottleEvents", ("TableName", {"Ref": "Table1"})
            )
        }
    }
    [found], _ = read_alarms("stack", template, resolver(RESOURCES))
    assert found.rule.treat_missing == "ignore"


def test_a_math_alarm_reads_its_queries() -> None:
    function = [{"Name": "FunctionName", "Value": {"Ref": "FnABCDEF12"}}]
    metric = {"Namespace": "AWS/Lambda", "MetricName": "Errors", "Dimensions": function}
    template = {
        "Resources": {
            "Share": alarm(
                Metrics=[
                    {"Id": "e", "Expression": "IF(a > 0, b / a, 0)", "ReturnData": True},
                    {
                        "Id": "a",
                        "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"},
                        "ReturnData": False,
                    },
                    {
                        "Id": "b",
                        "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"},
                        "ReturnData": False,
                    },
                ]
            )
        }
    }
    [found], _ = read_alarms("stack", template, resolver(RESOURCES))
    assert found.period == 60
    assert found.datapoint({"a": 4.0, "b": 1.0}) == 0.25


def test_what_cannot_be_evaluated_is_named_with_why() -> None:
    queue = ("QueueName", "q")
    template = {
        "Resources": {
            "P99": single("AWS/SQS", "ApproximateAgeOfOldestMessage", queue, Statistic="p99"),
            "Sent": single("AWS/SQS", "NumberOfMessagesSent", queue),
            "Band": single(
                "AWS/SQS",
                "ApproximateAgeOfOldestMessage",
                queue,
                ComparisonOperator="LessThanLowerOrGreaterThanUpperThreshold",
            ),
            "Ok": single("AWS/SQS", "ApproximateAgeOfOldestMessage", queue),
        }
    }
    refused = not_evaluated(template)
    assert sorted(refused) == ["Band", "P99", "Sent"]
    assert "statistic 'p99' is not evaluated locally" in refused["P99"]
    assert refused["Sent"] == (
        "the local cloud does not produce AWS/SQS NumberOfMessagesSent by QueueName"
    )
    assert "comparison operator" in refused["Band"]
