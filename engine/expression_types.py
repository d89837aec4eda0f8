"""Type-check an expression against the names in scope, at load time; return the typed tree.

Mistakes a strategy analyst makes every day are caught here, before any cohort is read: an unknown field
(with a "did you mean"), a category compared with a value it does not have, a string compared with a number.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from engine.diagnostics import did_you_mean
from engine.expression_ast import (
    BOOLEAN,
    INTEGER,
    NUMBER,
    STRING,
    Binary,
    BoolOp,
    Call,
    Compare,
    Expr,
    IfElse,
    InList,
    Kind,
    Literal,
    Name,
    Type,
    Unary,
)
from engine.expression_parser import ExpressionSyntaxError, ParseProblem
from engine.functions import FUNCTIONS, SignatureError, unify


@dataclass(frozen=True, slots=True)
class Scope:
    names: Mapping[str, Type]
    tags: frozenset[str] | None = None  # None: any tag name is accepted (a ruleset checked on its own)


def literal_type(value: object) -> Type:
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return NUMBER
    return STRING


def check(expr: Expr, scope: Scope) -> Expr:
    """The same tree with every node typed. Raises ExpressionSyntaxError listing every type problem."""
    checker = _Checker(scope)
    typed = checker.visit(expr)
    if checker.problems:
        raise ExpressionSyntaxError(checker.problems)
    return typed


class _Checker:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.problems: list[ParseProblem] = []

    def fail(self, node: Expr, code: str, message: str, hint: str | None = None) -> None:
        self.problems.append(ParseProblem(code, message, node.span, hint))

    def visit(self, node: Expr) -> Expr:
        typed = self._visit(node)
        assert typed.type is not None
        return typed

    def _visit(self, node: Expr) -> Expr:
        if isinstance(node, Literal):
            return dataclasses.replace(node, type=literal_type(node.value))
        if isinstance(node, Name):
            found = self.scope.names.get(node.name)
            if found is None:
                guess = did_you_mean(node.name, list(self.scope.names))
                message = f"unknown field '{node.name}'" + (f" (did you mean '{guess}'?)" if guess else "")
                self.fail(node, "unknown-field", message, "declare it under fields:, or define it under derived:")
                return dataclasses.replace(node, type=NUMBER)
            return dataclasses.replace(node, type=found)
        if isinstance(node, Unary):
            return self._unary(node)
        if isinstance(node, Binary):
            return self._binary(node)
        if isinstance(node, BoolOp):
            operands = tuple(self.visit(o) for o in node.operands)
            for operand in operands:
                self._expect_boolean(operand, f"'{node.op}'")
            return dataclasses.replace(node, operands=operands, type=BOOLEAN)
        if isinstance(node, Compare):
            return self._compare(node)
        if isinstance(node, InList):
            return self._in_list(node)
        if isinstance(node, IfElse):
            cond, then, orelse = self.visit(node.cond), self.visit(node.then), self.visit(node.orelse)
            self._expect_boolean(cond, "the condition of 'if'")
            result = unify(then.t, orelse.t)
            if result is None:
                self.fail(node, "type-mismatch",
                          f"the two branches of 'if' have different types: {then.t.describe()} and "
                          f"{orelse.t.describe()}")
                result = then.t
            return dataclasses.replace(node, cond=cond, then=then, orelse=orelse, type=result)
        if isinstance(node, Call):
            return self._call(node)
        raise AssertionError(f"unexpected node {node!r}")

    def _expect_boolean(self, node: Expr, where: str) -> None:
        if node.t.kind is not Kind.BOOLEAN:
            hint = "compare it, e.g. x > 0" if node.t.is_numeric else None
            self.fail(node, "type-mismatch", f"{where} needs a true/false value, got {node.t.describe()}", hint)

    def _unary(self, node: Unary) -> Expr:
        operand = self.visit(node.operand)
        if node.op == "not":
            self._expect_boolean(operand, "'not'")
            return dataclasses.replace(node, operand=operand, type=BOOLEAN)
        if not operand.t.is_numeric:
            self.fail(node, "type-mismatch", f"'{node.op}' needs a number, got {operand.t.describe()}")
            return dataclasses.replace(node, operand=operand, type=NUMBER)
        return dataclasses.replace(node, operand=operand, type=operand.t)

    def _binary(self, node: Binary) -> Expr:
        left, right = self.visit(node.left), self.visit(node.right)
        for side in (left, right):
            if not side.t.is_numeric:
                self.fail(side, "type-mismatch", f"'{node.op}' needs numbers, got {side.t.describe()}")
        both_int = left.t.kind is Kind.INTEGER and right.t.kind is Kind.INTEGER
        result = INTEGER if both_int and node.op != "/" else NUMBER
        return dataclasses.replace(node, left=left, right=right, type=result)

    def _comparable(self, left: Expr, right: Expr, op: str, where: Expr) -> None:
        lt, rt = left.t, right.t
        if lt.is_numeric and rt.is_numeric:
            return
        textual = (Kind.STRING, Kind.CATEGORY)
        if (lt.kind in textual and rt.kind in textual) or lt.kind is rt.kind is Kind.BOOLEAN:
            if op not in ("==", "!="):
                self.fail(where, "type-mismatch", f"'{op}' orders numbers only; {lt.describe()} can only use == or !=")
                return
            if lt.kind is rt.kind is Kind.CATEGORY and lt.values != rt.values:
                self.fail(where, "type-mismatch", "these two categories have different values")
            self._category_literal(left, right)
            self._category_literal(right, left)
            return
        self.fail(where, "type-mismatch", f"cannot compare {lt.describe()} with {rt.describe()}")

    def _category_literal(self, category: Expr, other: Expr) -> None:
        if category.t.kind is not Kind.CATEGORY or not isinstance(other, Literal):
            return
        value = other.value
        if not isinstance(value, str) or value in category.t.values:
            return
        guess = did_you_mean(value, category.t.values)
        owner = f"'{category.name}'" if isinstance(category, Name) else "this category"
        message = f"'{value}' is not a value of {owner}" + (f" (did you mean '{guess}'?)" if guess else "")
        self.fail(other, "unknown-category", message, "its values are: " + ", ".join(category.t.values))

    def _compare(self, node: Compare) -> Expr:
        left, right = self.visit(node.left), self.visit(node.right)
        self._comparable(left, right, node.op, node)
        return dataclasses.replace(node, left=left, right=right, type=BOOLEAN)

    def _in_list(self, node: InList) -> Expr:
        operand = self.visit(node.operand)
        items = tuple(self.visit(item) for item in node.items)
        for item in items:
            assert isinstance(item, Literal)
            self._comparable(operand, item, "==", item)
        return dataclasses.replace(node, operand=operand, items=items, type=BOOLEAN)  # type: ignore[arg-type]

    def _call(self, node: Call) -> Expr:
        function = FUNCTIONS.get(node.func)
        args = tuple(self.visit(a) for a in node.args)
        if function is None:
            guess = did_you_mean(node.func, list(FUNCTIONS))
            message = f"unknown function '{node.func}'" + (f" (did you mean '{guess}'?)" if guess else "")
            self.fail(node, "unknown-function", message, "functions: " + ", ".join(sorted(FUNCTIONS)))
            return dataclasses.replace(node, args=args, type=NUMBER)
        try:
            result = function.check(args)
        except SignatureError as err:
            self.fail(err.node or node, "bad-arguments", str(err), err.hint)
            result = NUMBER
        if node.func == "has_tag" and self.scope.tags is not None and args:
            tag = args[0]
            if isinstance(tag, Literal) and isinstance(tag.value, str) and tag.value not in self.scope.tags:
                guess = did_you_mean(tag.value, set(self.scope.tags))
                message = f"no earlier ruleset gives the tag '{tag.value}'" + (
                    f" (did you mean '{guess}'?)" if guess else "")
                self.fail(tag, "unknown-tag", message)
        return dataclasses.replace(node, args=args, type=result)


__all__ = ["BOOLEAN", "INTEGER", "NUMBER", "STRING", "Scope", "check", "literal_type"]
