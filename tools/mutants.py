"""Mutants of one Python module: one AST change at a time.

Operators (docs/mutation.md): comparisons flipped (``<`` and ``<=``, ``>`` and ``>=``,
``==`` and ``!=``, ``in`` and ``not in``, ``is`` and ``is not``), arithmetic swapped
(``+`` and ``-``, ``*`` and ``/``, ``//`` to ``/``, ``%`` to ``*``, ``**`` to ``*``),
``and`` and ``or`` swapped, ``not`` and unary ``-`` dropped, constants changed (a number
plus one, a boolean negated, a string wrapped in ``XX``), ``return value`` made
``return None``, call statements, augmented assignments and ``raise`` deleted,
``break`` and ``continue`` swapped.

Left alone: docstrings, imports, annotations, ``__all__``, ``|`` (type unions), and
message text (strings in ``raise`` statements, in f-strings, and in calls to exception
classes), which says what happened but does not decide it.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass
from types import CodeType
from typing import Any

_COMPARE: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_ARITHMETIC: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.Mult,
    ast.Pow: ast.Mult,
}
_SYMBOL = {
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
    ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not",
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
    ast.Mod: "%", ast.Pow: "**", ast.And: "and", ast.Or: "or",
}  # fmt: skip


@dataclass(frozen=True)
class Mutant:
    """One change: where, and what it does."""

    index: int
    line: int
    change: str
    lines: tuple[int, int] = (0, 0)  # the statement it is in, first and last line


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _callee(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def _exception_classes(tree: ast.Module) -> set[str]:
    """Classes of the module that derive, directly or not, from a name ending in Error."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            bases = {b.id for b in node.bases if isinstance(b, ast.Name)}
            if any(b.endswith(("Error", "Exception")) or b in names for b in bases):
                names.add(node.name)
    return names


class _Mutator(ast.NodeTransformer):
    """Walks the tree in one fixed order, numbering every possible change; applies the
    ``target``-th (or none, to list them)."""

    def __init__(self, target: int | None, exceptions: set[str]) -> None:
        self.target = target
        self.exceptions = exceptions
        self.found: list[Mutant] = []
        self._message = 0
        self._statement = (0, 0)

    def visit(self, node: ast.AST) -> Any:
        if not isinstance(node, ast.stmt):
            return super().visit(node)
        outer = self._statement
        self._statement = (node.lineno, node.end_lineno or node.lineno)
        try:
            return super().visit(node)
        finally:
            self._statement = outer

    def _hit(self, node: ast.AST, change: str) -> bool:
        index = len(self.found)
        line = getattr(node, "lineno", 0)
        self.found.append(Mutant(index, line, change, self._statement))
        return index == self.target

    def _pass(self, node: ast.stmt) -> ast.stmt:
        return ast.copy_location(ast.Pass(), node)

    # Nothing to change in these.
    def visit_Import(self, node: ast.Import) -> Any:
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> Any:
        return node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> Any:
        return node

    def visit_arg(self, node: ast.arg) -> Any:
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> Any:
        if node.value is not None:
            node.value = self.visit(node.value)
        return node

    def visit_Assign(self, node: ast.Assign) -> Any:
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return node
        return self.generic_visit(node)

    def _body(self, body: list[ast.stmt]) -> list[ast.stmt]:
        start = 1 if body and _is_docstring(body[0]) else 0
        out = body[:start]
        for stmt in body[start:]:
            new = self.visit(stmt)
            out.extend(new if isinstance(new, list) else [new])
        return out

    def visit_Module(self, node: ast.Module) -> Any:
        node.body = self._body(node.body)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:
        node.args = self.visit(node.args)
        node.body = self._body(node.body)
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        node.body = self._body(node.body)
        return node

    def visit_Raise(self, node: ast.Raise) -> Any:
        if self._hit(node, "raise deleted"):
            return self._pass(node)
        self._message += 1
        self.generic_visit(node)
        self._message -= 1
        return node

    def visit_Call(self, node: ast.Call) -> Any:
        message = _callee(node) in self.exceptions or _callee(node).endswith("Error")
        self._message += message
        self.generic_visit(node)
        self._message -= message
        return node

    def visit_Expr(self, node: ast.Expr) -> Any:
        if isinstance(node.value, ast.Call) and self._hit(node, "call deleted"):
            return self._pass(node)
        return self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        if self._hit(node, "augmented assignment deleted"):
            return self._pass(node)
        swap = _ARITHMETIC.get(type(node.op))
        if swap and self._hit(node, f"{_SYMBOL[type(node.op)]}= -> {_SYMBOL[swap]}="):
            node.op = swap()
        return self.generic_visit(node)

    def visit_Break(self, node: ast.Break) -> Any:
        if self._hit(node, "break -> continue"):
            return ast.copy_location(ast.Continue(), node)
        return node

    def visit_Continue(self, node: ast.Continue) -> Any:
        if self._hit(node, "continue -> break"):
            return ast.copy_location(ast.Break(), node)
        return node

    def visit_Return(self, node: ast.Return) -> Any:
        value = node.value
        returns_none = value is None or (isinstance(value, ast.Constant) and value.value is None)
        if value is not None and not returns_none and self._hit(node, "return value -> None"):
            node.value = ast.copy_location(ast.Constant(None), value)
            return node
        return self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> Any:
        for position, op in enumerate(node.ops):
            swap = _COMPARE[type(op)]
            if self._hit(node, f"{_SYMBOL[type(op)]} -> {_SYMBOL[swap]}"):
                node.ops[position] = swap()
        return self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        swap = _ARITHMETIC.get(type(node.op))
        if swap and self._hit(node, f"{_SYMBOL[type(node.op)]} -> {_SYMBOL[swap]}"):
            node.op = swap()
        return self.generic_visit(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> Any:
        swap = ast.Or if isinstance(node.op, ast.And) else ast.And
        if self._hit(node, f"{_SYMBOL[type(node.op)]} -> {_SYMBOL[swap]}"):
            node.op = swap()
        return self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        if isinstance(node.op, ast.Not | ast.USub):
            name = "not" if isinstance(node.op, ast.Not) else "unary -"
            if self._hit(node, f"{name} dropped"):
                return self.visit(node.operand)
        return self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> Any:
        value = node.value
        if isinstance(value, bool):
            if self._hit(node, f"{value} -> {not value}"):
                node.value = not value
        elif isinstance(value, int | float):
            if self._hit(node, f"{value!r} -> {value + 1!r}"):
                node.value = value + 1
        elif (
            isinstance(value, str)
            and not self._message
            and self._hit(node, f"{value[:30]!r} -> 'XX...XX'")
        ):
            node.value = f"XX{value}XX"
        return node


def mutants(source: str) -> list[Mutant]:
    """Every change the operators can make to ``source``, in a fixed order."""
    tree = ast.parse(source)
    mutator = _Mutator(None, _exception_classes(tree))
    mutator.visit(tree)
    return mutator.found


def mutated_code(source: str, index: int, filename: str) -> CodeType:
    """``source`` compiled with change ``index`` applied."""
    tree = ast.parse(source)
    mutator = _Mutator(index, _exception_classes(tree))
    tree = ast.fix_missing_locations(mutator.visit(copy.deepcopy(tree)))
    return compile(tree, filename, "exec")
