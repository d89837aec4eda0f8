"""Typed Expr → value, one record at a time: the reference meaning, written to be obviously right.

A record maps names to Python values (None = missing) and carries its set of tags.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from engine.expression_ast import (
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
    Unary,
)
from engine.functions import FUNCTIONS, Value


def evaluate(expr: Expr, record: Mapping[str, Value], tags: frozenset[str] | set[str]) -> Value:
    value = _evaluate(expr, record, tags)
    # A `number` is a float, whatever Python computed it from: coalesce(i, 0.5), min(i, 2.5) or a `number` field
    # given as 720 hold 3.0, 1.0, 720.0, as the Float64 columns of the batch evaluator do.
    if type(value) is int and expr.t.kind is Kind.NUMBER:
        return float(value)
    return value


def _evaluate(expr: Expr, record: Mapping[str, Value], tags: frozenset[str] | set[str]) -> Value:
    if isinstance(expr, Literal):
        return expr.value
    if isinstance(expr, Name):
        return record.get(expr.name)
    if isinstance(expr, Unary):
        value = evaluate(expr.operand, record, tags)
        if value is None:
            return None
        if expr.op == "not":
            return not value
        return -value if expr.op == "-" else value  # type: ignore[operator]
    if isinstance(expr, Binary):
        return _binary(expr.op, evaluate(expr.left, record, tags), evaluate(expr.right, record, tags),
                       expr.t.kind is Kind.INTEGER)
    if isinstance(expr, BoolOp):
        values = [evaluate(o, record, tags) for o in expr.operands]
        return kleene_and(values) if expr.op == "and" else kleene_or(values)
    if isinstance(expr, Compare):
        return compare(expr.op, evaluate(expr.left, record, tags), evaluate(expr.right, record, tags))
    if isinstance(expr, InList):
        value = evaluate(expr.operand, record, tags)
        if value is None:
            return None
        found = any(value == item.value for item in expr.items)
        return not found if expr.negated else found
    if isinstance(expr, IfElse):
        cond = evaluate(expr.cond, record, tags)
        return evaluate(expr.then if cond is True else expr.orelse, record, tags)
    if isinstance(expr, Call):
        return _call(expr, record, tags)
    raise AssertionError(f"unexpected node {expr!r}")


def kleene_and(values: list[Value]) -> Value:
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def kleene_or(values: list[Value]) -> Value:
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


def compare(op: str, left: Value, right: Value) -> Value:
    if left is None or right is None:
        return None
    match op:
        case "==":
            return left == right
        case "!=":
            return left != right
        case "<":
            return left < right  # type: ignore[operator]
        case "<=":
            return left <= right  # type: ignore[operator]
        case ">":
            return left > right  # type: ignore[operator]
        case _:
            return left >= right  # type: ignore[operator]


def _binary(op: str, left: Value, right: Value, integer: bool = False) -> Value:
    if left is None or right is None:
        return None
    a, b = left, right
    match op:
        case "+":
            return a + b  # type: ignore[operator]
        case "-":
            return a - b  # type: ignore[operator]
        case "*":
            return a * b  # type: ignore[operator]
        case "/":
            return None if b == 0 else float(a) / b  # type: ignore[operator]
        case _:
            if b == 0:
                return None
            if integer:
                return a % b  # type: ignore[operator]
            return float_mod(float(a), float(b))


def float_mod(a: float, b: float) -> float:
    """a - b * floor(a / b): the sign of the divisor, in the same float64 operations as the batch evaluator.

    Not Python's float %, which computes the exact remainder of the binary values: -3.0 % 0.01 is 0.0 here,
    -0.0099999999999999 in Python (0.01 is stored as 0.01000000000000000020...).
    """
    quotient = a / b
    return a - b * (math.floor(quotient) if math.isfinite(quotient) else quotient)


def _call(expr: Call, record: Mapping[str, Value], tags: frozenset[str] | set[str]) -> Value:
    if expr.func == "has_tag":
        tag = expr.args[0]
        assert isinstance(tag, Literal)
        return tag.value in tags
    args = [evaluate(a, record, tags) for a in expr.args]
    kernel = FUNCTIONS[expr.func].scalar
    assert kernel is not None
    return kernel(args, expr.args)
