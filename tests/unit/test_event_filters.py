"""The Lambda filter-pattern matcher the local cloud applies, on the documented syntax."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sqs_blueprint.errors import UsageError
from sqs_blueprint.filters import (
    FilterPatternError,
    matches,
    matches_any,
    parse_criteria,
    problems,
)

ROOT = Path(__file__).resolve().parents[2]


def record(body: Any) -> dict[str, Any]:
    """A Lambda SQS record; ``body`` a JSON value, or a str sent as is."""
    text = body if isinstance(body, str) else json.dumps(body)
    return {"messageId": "m-1", "body": text, "attributes": {"ApproximateReceiveCount": "1"}}


def check(pattern: dict[str, Any], body: Any) -> bool:
    assert problems(pattern) == []
    return matches(pattern, record(body))


# ------------------------------------------------------------------ exact values


@pytest.mark.parametrize(
    ("leaf", "value", "expected"),
    [
        (["order"], "order", True),
        (["order"], "Order", False),
        (["order", "refund"], "refund", True),
        ([5], 5, True),
        ([5], 5.0, True),  # numbers compare by value
        ([5], "5", False),  # a string is not a number
        ([True], True, True),
        ([True], 1, False),  # a bool is not a number
        ([1], True, False),
        ([None], None, True),
        ([None], "null", False),
    ],
)
def test_exact_match(leaf: list[Any], value: Any, expected: bool) -> None:
    assert check({"body": {"field": leaf}}, {"field": value}) is expected


def test_a_missing_field_matches_no_value() -> None:
    assert check({"body": {"field": [None]}}, {"other": 1}) is False


def test_a_list_field_matches_when_any_element_does() -> None:
    pattern = {"body": {"tags": ["red"]}}
    assert check(pattern, {"tags": ["blue", "red"]}) is True
    assert check(pattern, {"tags": ["blue"]}) is False


def test_nested_fields_and_every_key_must_match() -> None:
    pattern = {"body": {"order": {"status": ["paid"], "region": ["eu"]}}}
    assert check(pattern, {"order": {"status": "paid", "region": "eu"}}) is True
    assert check(pattern, {"order": {"status": "paid", "region": "us"}}) is False
    assert check(pattern, {"order": "paid"}) is False


# ------------------------------------------------------------------ prefix, numeric


def test_prefix() -> None:
    pattern = {"body": {"sku": [{"prefix": "AB-"}]}}
    assert check(pattern, {"sku": "AB-12"}) is True
    assert check(pattern, {"sku": "ab-12"}) is False
    assert check(pattern, {"sku": 12}) is False


@pytest.mark.parametrize(
    ("numeric", "value", "expected"),
    [
        ([">", 0, "<=", 5], 5, True),
        ([">", 0, "<=", 5], 0, False),
        ([">", 0, "<=", 5], 5.01, False),
        ([">=", 10], 10, True),
        (["<", 10], 9.5, True),
        (["<", 10], 10, False),
        ([">", 0], 0.001, True),
        (["=", 3], 3.0, True),
        (["=", 3], "3", False),  # numeric never matches a string
        ([">", 0], True, False),  # nor a bool
    ],
)
def test_numeric_ranges(numeric: list[Any], value: Any, expected: bool) -> None:
    assert check({"body": {"n": [{"numeric": numeric}]}}, {"n": value}) is expected


# ------------------------------------------------------------------ exists, anything-but


def test_exists() -> None:
    present = {"body": {"id": [{"exists": True}]}}
    absent = {"body": {"id": [{"exists": False}]}}
    assert check(present, {"id": None}) is True
    assert check(present, {"other": 1}) is False
    assert check(absent, {"other": 1}) is True
    assert check(absent, {"id": "x"}) is False


def test_exists_false_inside_a_missing_object() -> None:
    assert check({"body": {"meta": {"trace": [{"exists": False}]}}}, {"n": 1}) is True


def test_anything_but() -> None:
    one = {"body": {"state": [{"anything-but": "test"}]}}
    several = {"body": {"code": [{"anything-but": [400, 404]}]}}
    assert check(one, {"state": "live"}) is True
    assert check(one, {"state": "test"}) is False
    assert check(one, {"other": 1}) is False  # a missing field is not "anything but"
    assert check(several, {"code": 200}) is True
    assert check(several, {"code": 404.0}) is False


# ------------------------------------------------------------------ bodies and filters


@pytest.mark.parametrize("body", ["plain text", "[1, 2]", '"a string"', ""])
def test_a_body_that_is_not_a_json_object_matches_nothing(body: str) -> None:
    assert check({"body": {"a": [{"exists": False}]}}, body) is False


def test_filters_are_ored_and_none_pass_everything() -> None:
    patterns = [{"body": {"t": ["a"]}}, {"body": {"t": ["b"]}}]
    assert matches_any(patterns, record({"t": "b"})) is True
    assert matches_any(patterns, record({"t": "c"})) is False
    assert matches_any([], record("anything")) is True


# ------------------------------------------------------------------ what is refused


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ([], ["a filter pattern must be a non-empty JSON object such as {'body': {...}}"]),
        (
            {"messageAttributes": {"k": ["v"]}},
            [
                "key 'messageAttributes': an SQS mapping filters on 'body' only (Lambda ignores "
                "other keys)"
            ],
        ),
        (
            {"body": {}},
            ["'body' must be a non-empty object of field patterns, e.g. {'type': ['a']}"],
        ),
        ({"body": {"a": "x"}}, ["body.a: must be a non-empty list of matchers or a nested object"]),
        ({"body": {"a": []}}, ["body.a: must be a non-empty list of matchers or a nested object"]),
        (
            {"body": {"a": [{"suffix": "x"}]}},
            [
                "body.a: matcher 'suffix' is not supported; use one of ['prefix', 'numeric', "
                "'exists', 'anything-but']"
            ],
        ),
        (
            {"body": {"a": [{"equals-ignore-case": "x"}]}},
            [
                "body.a: matcher 'equals-ignore-case' is not supported; use one of ['prefix', "
                "'numeric', 'exists', 'anything-but']"
            ],
        ),
        ({"body": {"a": [{"prefix": 1}]}}, ["body.a: invalid 'prefix' argument 1"]),
        ({"body": {"a": [{"exists": "yes"}]}}, ["body.a: invalid 'exists' argument 'yes'"]),
        (
            {"body": {"a": [{"numeric": [">>", 1]}]}},
            ["body.a: invalid 'numeric' argument ['>>', 1]"],
        ),
        (
            {"body": {"a": [{"numeric": ["=", 1, "<", 2]}]}},
            ["body.a: invalid 'numeric' argument ['=', 1, '<', 2]"],
        ),
        (
            {"body": {"a": [{"anything-but": {"prefix": "x"}}]}},
            ["body.a: invalid 'anything-but' argument {'prefix': 'x'}"],
        ),
        (
            {"body": {"a": [{"prefix": "x", "exists": True}]}},
            ["body.a: {'prefix': 'x', 'exists': True} is not a value or a one-key matcher object"],
        ),
        (
            {"body": {"$or": [{"a": [1]}]}},
            ["body.$or: '$or' is not supported here; write one filter per branch"],
        ),
    ],
)
def test_problems_name_what_is_refused(pattern: Any, expected: list[str]) -> None:
    assert problems(pattern) == expected


def test_parse_criteria_reads_a_mapping() -> None:
    criteria = {"Filters": [{"Pattern": '{"body": {"t": ["a"]}}'}]}
    assert parse_criteria(criteria) == ({"body": {"t": ["a"]}},)
    assert parse_criteria(None) == ()


def test_parse_criteria_refuses_what_it_cannot_apply() -> None:
    criteria = {"Filters": [{"Pattern": '{"body": {"t": [{"wildcard": "a*"}]}}'}]}
    with pytest.raises(FilterPatternError) as error:
        parse_criteria(criteria)
    assert isinstance(error.value, UsageError)
    assert str(error.value) == (
        'filter pattern \'{"body": {"t": [{"wildcard": "a*"}]}}\' cannot be applied '
        "locally as Lambda would: body.t: matcher 'wildcard' is not supported; use one of "
        "['prefix', 'numeric', 'exists', 'anything-but']; fix: build the mapping with "
        "SqsLambdaConsumer(filters=...), which accepts only the syntax this module applies"
    )


def test_the_matcher_imports_neither_boto3_nor_moto() -> None:
    """CDK patterns import it at synth, where only requirements.txt is installed."""
    code = (
        "import sys, sqs_blueprint.filters; "
        "print(sorted({'boto3', 'botocore', 'moto'} & set(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "[]"
