"""The function table: for each name, its type rule, its Polars builder and its scalar kernel.

Both implementations live side by side so that their missing-value and domain rules can be read together:
a missing argument gives a missing result; log/sqrt/exp outside their domain give missing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from engine.expression_ast import BOOLEAN, INTEGER, NUMBER, Expr, Kind, Literal, Type

EXP_MAX = 709.0  # exp(709.78) overflows a float64; we call anything above 709 out of the domain
# From 2**52 on, every float64 is a whole number: x * 10**n is already whole, and x has no digits left to round.
# (Multiplying and dividing back would not even give x again: Polars' own round(1e17, 6) is 99999999999999980.)
ROUND_EXACT_FROM = 2.0**52

Value = int | float | str | bool | None


class SignatureError(Exception):
    def __init__(self, message: str, node: Expr | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.node = node
        self.hint = hint


def _numeric_args(name: str, args: Sequence[Expr], low: int, high: int | None) -> Type:
    if len(args) < low or (high is not None and len(args) > high):
        wanted = f"{low}" if high == low else f"{low} or more" if high is None else f"{low} to {high}"
        raise SignatureError(f"{name}() takes {wanted} arguments, got {len(args)}")
    for arg in args:
        if not arg.t.is_numeric:
            raise SignatureError(f"{name}() needs numbers, got {arg.t.describe()}", arg)
    return INTEGER if all(a.t.kind is Kind.INTEGER for a in args) else NUMBER


def _check_minmax(name: str) -> Callable[[Sequence[Expr]], Type]:
    return lambda args: _numeric_args(name, args, 2, None)


def _check_abs(args: Sequence[Expr]) -> Type:
    return _numeric_args("abs", args, 1, 1)


def _check_round(args: Sequence[Expr]) -> Type:
    _numeric_args("round", args, 1, 2)
    if len(args) == 2:
        digits = args[1]
        if not (isinstance(digits, Literal) and isinstance(digits.value, int) and not isinstance(digits.value, bool)
                and 0 <= digits.value <= 12):
            raise SignatureError("round(x, n) needs n to be a whole number from 0 to 12", digits)
    return args[0].t


def _check_float_fn(name: str) -> Callable[[Sequence[Expr]], Type]:
    def check(args: Sequence[Expr]) -> Type:
        _numeric_args(name, args, 1, 1)
        return NUMBER

    return check


def _check_clip(args: Sequence[Expr]) -> Type:
    return _numeric_args("clip", args, 3, 3)


def _check_between(args: Sequence[Expr]) -> Type:
    _numeric_args("between", args, 3, 3)
    return BOOLEAN


def _check_is_missing(args: Sequence[Expr]) -> Type:
    if len(args) != 1:
        raise SignatureError(f"is_missing() takes 1 argument, got {len(args)}")
    return BOOLEAN


def _check_has_tag(args: Sequence[Expr]) -> Type:
    if len(args) != 1 or not (isinstance(args[0], Literal) and isinstance(args[0].value, str)):
        raise SignatureError("has_tag() takes one tag name in quotes, e.g. has_tag('urgent_need')",
                             args[0] if args else None)
    return BOOLEAN


def unify(a: Type, b: Type) -> Type | None:
    """The common type of two values that may stand in the same place, or None if there is none."""
    if a == b:
        return a
    if a.is_numeric and b.is_numeric:
        return NUMBER
    return None


def _check_coalesce(args: Sequence[Expr]) -> Type:
    if len(args) < 2:
        raise SignatureError(f"coalesce() takes 2 or more arguments, got {len(args)}")
    result = args[0].t
    for arg in args[1:]:
        merged = unify(result, arg.t)
        if merged is None:
            raise SignatureError(f"coalesce() mixes {result.describe()} and {arg.t.describe()}", arg)
        result = merged
    return result


# ---- Polars builders -------------------------------------------------------------------------------------

def row_wise(divisor: pl.Expr, like: pl.Expr) -> pl.Expr:
    """`divisor` (a Float64) spread over the rows of `like`, so that Polars divides each row, correctly rounded.

    Polars divides a column by a scalar (`x / 100`, or anything its optimizer folds to a constant, such as
    `coalesce(3, x)`) by multiplying with the reciprocal: 35 / 100 gives 0.35000000000000003 there, and
    `x / 100 <= 0.35` would not fire for x = 35, while it does in Python (and for a human).
    """
    return like.is_null().cast(pl.Float64) * 0.0 + divisor.cast(pl.Float64)


def _guard_missing(args: Sequence[pl.Expr], nodes: Sequence[Expr], value: pl.Expr) -> pl.Expr:
    """`value` where every non-literal argument is present, else missing (literals are never missing)."""
    checks = [a.is_not_null() for a, n in zip(args, nodes, strict=True) if not isinstance(n, Literal)]
    if not checks:
        return value
    present = checks[0]
    for check in checks[1:]:
        present = present & check
    return pl.when(present).then(value)


def _pl_min(args: Sequence[pl.Expr], nodes: Sequence[Expr]) -> pl.Expr:
    # min_horizontal skips nulls; our meaning is "missing if any argument is missing".
    return _guard_missing(args, nodes, pl.min_horizontal(*args))


def _pl_max(args: Sequence[pl.Expr], nodes: Sequence[Expr]) -> pl.Expr:
    return _guard_missing(args, nodes, pl.max_horizontal(*args))


def _round_digits(nodes: Sequence[Expr]) -> int:
    return int(nodes[1].value) if len(nodes) == 2 and isinstance(nodes[1], Literal) else 0


def _pl_round(args: Sequence[pl.Expr], nodes: Sequence[Expr]) -> pl.Expr:
    if nodes[0].t.kind is Kind.INTEGER:
        return args[0]
    x = args[0].cast(pl.Float64)
    digits = _round_digits(nodes)
    if digits == 0:
        return x.round(0, mode="half_to_even")
    # round(x, n) is spelt out (see _sc_round) instead of relying on Expr.round(n), whose algorithm is Polars'
    # to change and differs from Python's round(x, n) (2.675 -> 2.68 in Polars, 2.67 in Python).
    scale = float(10**digits)
    scaled = x * scale
    rounded = scaled.round(0, mode="half_to_even") / row_wise(pl.lit(scale), x)
    return pl.when(scaled.abs() < ROUND_EXACT_FROM).then(rounded).otherwise(x)


def _pl_clip(args: Sequence[pl.Expr], nodes: Sequence[Expr]) -> pl.Expr:
    x, lo, hi = args
    lo_node, hi_node = nodes[1], nodes[2]
    if isinstance(lo_node, Literal) and isinstance(hi_node, Literal) and lo_node.value <= hi_node.value:  # type: ignore[operator]
        if not all(n.t.kind is Kind.INTEGER for n in nodes):
            x = x.cast(pl.Float64)
        return x.clip(lo_node.value, hi_node.value)
    # min(max(x, lo), hi): defined even when lo > hi, like the scalar kernel.
    raised = pl.when(x >= lo).then(x).otherwise(lo)
    clipped = pl.when(raised <= hi).then(raised).otherwise(hi)
    return _guard_missing(args, nodes, clipped)


def _pl_between(args: Sequence[pl.Expr], nodes: Sequence[Expr]) -> pl.Expr:
    # Missing if any argument is missing (docs: "between of a missing argument is missing"), so not the
    # three-valued (x >= lo) & (x <= hi), which is false for between(0, 1, missing).
    x, lo, hi = args
    return _guard_missing(args, nodes, (x >= lo) & (x <= hi))


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    check: Callable[[Sequence[Expr]], Type]
    polars: Callable[[Sequence[pl.Expr], Sequence[Expr]], pl.Expr] | None
    scalar: Callable[[Sequence[Value], Sequence[Expr]], Value] | None
    doc: str


# ---- scalar kernels --------------------------------------------------------------------------------------

def _sc_min(args: Sequence[Value], nodes: Sequence[Expr]) -> Value:
    return None if any(a is None for a in args) else min(args)  # type: ignore[type-var]


def _sc_max(args: Sequence[Value], nodes: Sequence[Expr]) -> Value:
    return None if any(a is None for a in args) else max(args)  # type: ignore[type-var]


def _sc_abs(args: Sequence[Value], nodes: Sequence[Expr]) -> Value:
    x = args[0]
    return None if x is None else abs(x)  # type: ignore[arg-type]


def _sc_round(args: Sequence[Value], nodes: Sequence[Expr]) -> Value:
    x = args[0]
    if x is None or nodes[0].t.kind is Kind.INTEGER:
        return x
    digits = _round_digits(nodes)
    if digits == 0:
        return float(round(float(x), 0))
    # Half to even of x * 10**n, divided back: the same three float64 operations as the batch evaluator.
    # Python's round(x, n) rounds the exact binary value instead (round(2.675, 2) == 2.67, as 2.675 is stored
    # as 2.67499999...), which Polars cannot do column-wise; so that is not our meaning.
    scale = float(10**digits)
    scaled = float(x) * scale
    if abs(scaled) >= ROUND_EXACT_FROM:
        return float(x)
    return round(scaled) / scale


def _sc_log(args: Sequence[Value], nodes: Sequence[Expr]) -> Value:
    x = args[0]
    return None if x is None or x <= 0 else math.log(x)  # type: ignore[operator,arg-type]


def _sc_exp(args: Sequence[Value], nodes: Sequence[Expr]) -> Value:
    x = args[0]
    return None if x is None or x > EXP_MAX else math.exp(x)  # type: ignore[operator,arg-type]


def _sc_sqrt(args: Sequence[Value], nodes: Sequence[Expr]) -> Value:
    x = args[0]
    return None if x is None or x < 0 else math.sqrt(x)  # type: ignore[operator,arg-type]


def _sc_between(args: Sequence[Value], nodes: Sequence[Expr]) -> Value:
    x, lo, hi = args
    if x is None or lo is None or hi is None:
        return None
    return lo <= x <= hi  # type: ignore[operator]


def _sc_clip(args: Sequence[Value], nodes: Sequence[Expr]) -> Value:
    x, lo, hi = args
    if x is None or lo is None or hi is None:
        return None
    raised = x if x >= lo else lo  # type: ignore[operator]
    return raised if raised <= hi else hi  # type: ignore[operator]


def _sc_coalesce(args: Sequence[Value], nodes: Sequence[Expr]) -> Value:
    return next((a for a in args if a is not None), None)


def _sc_is_missing(args: Sequence[Value], nodes: Sequence[Expr]) -> Value:
    return args[0] is None


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        Function("min", _check_minmax("min"), _pl_min, _sc_min, "smallest argument; missing if any is missing"),
        Function("max", _check_minmax("max"), _pl_max, _sc_max, "largest argument; missing if any is missing"),
        Function("abs", _check_abs, lambda a, n: a[0].abs(), _sc_abs, "absolute value"),
        Function("round", _check_round, _pl_round, _sc_round, "round(x) or round(x, n), half to even"),
        Function("log", _check_float_fn("log"), lambda a, n: pl.when(a[0] > 0).then(a[0].log()), _sc_log,
                 "natural logarithm; missing for x <= 0"),
        Function("exp", _check_float_fn("exp"), lambda a, n: pl.when(a[0] <= EXP_MAX).then(a[0].exp()), _sc_exp,
                 "e to the power x; missing for x > 709"),
        Function("sqrt", _check_float_fn("sqrt"), lambda a, n: pl.when(a[0] >= 0).then(a[0].sqrt()), _sc_sqrt,
                 "square root; missing for x < 0"),
        Function("clip", _check_clip, _pl_clip, _sc_clip, "clip(x, lo, hi) = min(max(x, lo), hi)"),
        Function("coalesce", _check_coalesce, lambda a, n: pl.coalesce(*a), _sc_coalesce,
                 "first argument that is not missing"),
        Function("is_missing", _check_is_missing, lambda a, n: a[0].is_null(), _sc_is_missing,
                 "true when x is missing"),
        Function("between", _check_between, _pl_between, _sc_between,
                 "lo <= x <= hi, inclusive; missing if any argument is missing"),
        # has_tag is bound by the evaluators themselves (see their modules).
        Function("has_tag", _check_has_tag, None, None, "true when an earlier ruleset gave the user this tag"),
    )
}
