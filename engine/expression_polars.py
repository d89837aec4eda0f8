"""Typed Expr → Polars expression. The batch evaluator's whole semantics lives in these few functions.

Polars already uses three-valued (Kleene) logic for & | ~ and propagates null through arithmetic and
comparisons, which is our missing-value meaning; the places where its defaults differ from ours
(division by zero gives inf, min_horizontal skips nulls, log(0) = -inf) are guarded explicitly.
"""

from __future__ import annotations

import polars as pl

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
from engine.functions import FUNCTIONS, row_wise

TAG_PREFIX = "tag_"


def tag_column(tag: str) -> str:
    return f"{TAG_PREFIX}{tag}"


def to_polars(expr: Expr) -> pl.Expr:
    if isinstance(expr, Literal):
        return pl.lit(expr.value)
    if isinstance(expr, Name):
        return pl.col(expr.name)
    if isinstance(expr, Unary):
        operand = to_polars(expr.operand)
        return ~operand if expr.op == "not" else -operand if expr.op == "-" else operand
    if isinstance(expr, Binary):
        return _binary(expr)
    if isinstance(expr, BoolOp):
        parts = [to_polars(o) for o in expr.operands]
        out = parts[0]
        for part in parts[1:]:
            out = (out & part) if expr.op == "and" else (out | part)
        return out
    if isinstance(expr, Compare):
        return _compare(expr)
    if isinstance(expr, InList):
        return _in_list(expr)
    if isinstance(expr, IfElse):
        # A missing condition takes the else branch, exactly as pl.when does.
        return pl.when(to_polars(expr.cond)).then(to_polars(expr.then)).otherwise(to_polars(expr.orelse))
    if isinstance(expr, Call):
        return _call(expr)
    raise AssertionError(f"unexpected node {expr!r}")


def _binary(expr: Binary) -> pl.Expr:
    left, right = to_polars(expr.left), to_polars(expr.right)
    if expr.op == "+":
        return left + right
    if expr.op == "-":
        return left - right
    if expr.op == "*":
        return left * right
    if expr.op == "/":
        result = left.cast(pl.Float64) / _row_wise(right, expr.right, left)
    elif expr.t.kind is Kind.INTEGER:  # "%" of integers: Polars, like Python, takes the sign of the divisor
        result = left % right
    else:
        # "%" with a number: a - b * floor(a / b), spelt out so that the reference (float_mod) can do the very
        # same float64 operations; Polars computes exactly this today, but does not promise it.
        dividend = left.cast(pl.Float64)
        result = dividend - right * (dividend / _row_wise(right, expr.right, left)).floor()
    if isinstance(expr.right, Literal) and expr.right.value != 0:
        return result
    return pl.when(right != 0).then(result)


def _row_wise(divisor: pl.Expr, node: Expr, like: pl.Expr) -> pl.Expr:
    # A column is divided row by row already; anything else may be folded to a scalar (see functions.row_wise).
    return divisor if isinstance(node, Name) else row_wise(divisor, like)


def _text_side(expr: Expr, other: Expr) -> pl.Expr:
    # An Enum compared with a plain string column must be compared as text.
    compiled = to_polars(expr)
    if expr.t.kind is Kind.CATEGORY and other.t.kind is Kind.STRING and not isinstance(other, Literal):
        return compiled.cast(pl.String)
    return compiled


def _compare(expr: Compare) -> pl.Expr:
    left, right = _text_side(expr.left, expr.right), _text_side(expr.right, expr.left)
    match expr.op:
        case "==":
            return left == right
        case "!=":
            return left != right
        case "<":
            return left < right
        case "<=":
            return left <= right
        case ">":
            return left > right
        case _:
            return left >= right


def _in_list(expr: InList) -> pl.Expr:
    operand = to_polars(expr.operand)
    values = [item.value for item in expr.items]
    if expr.operand.t.is_numeric:
        integral = all(isinstance(v, int) or float(v).is_integer() for v in values)
        if expr.operand.t.kind is Kind.INTEGER and integral:
            values = [int(v) for v in values]
        else:
            operand = operand.cast(pl.Float64)
            values = [float(v) for v in values]
    found = operand.is_in(values)
    return ~found if expr.negated else found


def _call(expr: Call) -> pl.Expr:
    if expr.func == "has_tag":
        tag = expr.args[0]
        assert isinstance(tag, Literal)
        return pl.col(tag_column(str(tag.value)))
    builder = FUNCTIONS[expr.func].polars
    assert builder is not None
    return builder([to_polars(a) for a in expr.args], expr.args)
