"""The metric math that alarms use, one period at a time (docs/aws-facts.md#cloudwatch-alarms).

Numbers, metric ids, ``+ - * /``, comparisons (``> < >= <= == !=``, 1 when true, 0 when
false), parentheses, ``IF(condition, a, b)``, ``FILL(id, value)`` and ``PERIOD(id)``.
A period in which a metric has no datapoint gives no datapoint, unless ``FILL`` gives
one; dividing by zero gives none either. Any other function is refused with its name,
so an alarm that uses one is reported as not evaluated rather than guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqs_blueprint.local.alarm_rules import AlarmRuleError

Value = float | None
_TOKEN = re.compile(
    r"\s*(?:(\d+(?:\.\d*)?|\.\d+)|([A-Za-z_][A-Za-z0-9_]*)|(>=|<=|==|!=|[-+*/(),<>]))"
)
_BINARY: dict[str, tuple[int, Callable[[float, float], Value]]] = {
    "==": (1, lambda a, b: float(a == b)),
    "!=": (1, lambda a, b: float(a != b)),
    ">": (1, lambda a, b: float(a > b)),
    "<": (1, lambda a, b: float(a < b)),
    ">=": (1, lambda a, b: float(a >= b)),
    "<=": (1, lambda a, b: float(a <= b)),
    "+": (2, lambda a, b: a + b),
    "-": (2, lambda a, b: a - b),
    "*": (3, lambda a, b: a * b),
    "/": (3, lambda a, b: a / b if b else None),
}
FUNCTIONS = ("IF", "FILL", "PERIOD")


@dataclass(frozen=True)
class Period:
    """One period's datapoints by metric id, and the alarm's period in seconds."""

    values: Mapping[str, Value]
    seconds: int


def tokens(expression: str) -> list[str]:
    found, at = [], 0
    text = expression.rstrip()
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            raise AlarmRuleError(f"metric math {expression!r}: cannot read {text[at:]!r}")
        found.append(match.group(match.lastindex or 0))
        at = match.end()
    return found


class Expression:
    """A parsed expression: ``Expression(text).value(period)``; ``.ids`` the metrics it reads."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._tokens = tokens(text)
        self._at = 0
        self.ids: set[str] = set()
        self.functions: set[str] = set()
        self._tree = self._binary(0)
        if self._at != len(self._tokens):
            self._fail(f"unexpected {self._tokens[self._at]!r}")

    def value(self, period: Period) -> Value:
        return self._tree(period)

    def _fail(self, what: str) -> None:
        raise AlarmRuleError(f"metric math {self.text!r}: {what}")

    def _peek(self) -> str:
        return self._tokens[self._at] if self._at < len(self._tokens) else ""

    def _take(self, expected: str | None = None) -> str:
        token = self._peek()
        if not token or (expected is not None and token != expected):
            self._fail(f"expected {expected or 'more'}, found {token or 'the end'!r}")
        self._at += 1
        return token

    def _binary(self, lowest: int) -> Callable[[Period], Value]:
        left = self._unary()
        while self._peek() in _BINARY and _BINARY[self._peek()][0] > lowest:
            precedence, apply = _BINARY[self._take()]
            right = self._binary(precedence)
            left = _combine(apply, left, right)
        return left

    def _unary(self) -> Callable[[Period], Value]:
        if self._peek() == "-":
            self._take()
            inner = self._unary()
            return lambda p: None if (v := inner(p)) is None else -v
        if self._peek() == "(":
            self._take()
            inner = self._binary(0)
            self._take(")")
            return inner
        return self._atom()

    def _atom(self) -> Callable[[Period], Value]:
        token = self._take()
        if token[0].isdigit() or token[0] == ".":
            number = float(token)
            return lambda p: number
        if not (token[0].isalpha() or token[0] == "_"):
            self._fail(f"unexpected {token!r}")
        if self._peek() == "(":
            return self._call(token)
        self.ids.add(token)
        return lambda p: p.values.get(token)

    def _call(self, name: str) -> Callable[[Period], Value]:
        if name not in FUNCTIONS:
            self._fail(f"{name}() is not evaluated locally (only {', '.join(FUNCTIONS)})")
        self.functions.add(name)
        self._take("(")
        args = [self._binary(0)]
        while self._peek() == ",":
            self._take()
            args.append(self._binary(0))
        self._take(")")
        if len(args) != {"IF": 3, "FILL": 2, "PERIOD": 1}[name]:
            self._fail(f"{name}() with {len(args)} arguments")
        if name == "IF":
            cond, yes, no = args
            return lambda p: None if (c := cond(p)) is None else (yes(p) if c else no(p))
        if name == "FILL":
            series, fill = args
            return lambda p: fill(p) if (v := series(p)) is None else v
        return lambda p: float(p.seconds)


def _combine(
    apply: Callable[[float, float], Value],
    left: Callable[[Period], Value],
    right: Callable[[Period], Value],
) -> Callable[[Period], Value]:
    def value(period: Period) -> Value:
        a, b = left(period), right(period)
        return None if a is None or b is None else apply(a, b)

    return value
