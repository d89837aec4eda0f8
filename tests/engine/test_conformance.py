"""The conformance corpus (GoRules ZEN style): every line run through the three evaluators.

A line of conformance/expressions.csv is `expression;record;expected[;types]`: the record is JSON (a missing
value is null; `"__tags": [...]` gives the user's tags), the expected value is JSON written by hand from
docs/rule-language.md, and the optional types column declares fields the values cannot tell (a null, a
string that is a category): {"a": "number" | "integer" | "boolean" | "string" | "category:v1,v2,…"}.
Otherwise an int is an integer, a float a number, a bool a boolean and a str a string.

(a) the reference scalar evaluator, (b) the Polars compiler on a one-row frame, (c) durable_rules, for the
boolean lines: a rule for the expression and one for its negation, so that true, false and missing are told
apart (exactly one fires, or neither).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from engine.cohort import target_dtype
from engine.compiled import FieldInfo
from engine.evaluate_durable import DurableMatcher
from engine.expression_ast import BOOLEAN, Expr, Kind, Type, Unary, tags_in
from engine.expression_parser import parse_expression
from engine.expression_polars import tag_column, to_polars
from engine.expression_scalar import evaluate
from engine.expression_types import Scope, check
from engine.streaming_host import StreamingHost
from engine.streaming_translate import translate_conditions

CORPUS = Path(__file__).parent / "conformance" / "expressions.csv"
KINDS = {"number": Kind.NUMBER, "integer": Kind.INTEGER, "boolean": Kind.BOOLEAN, "string": Kind.STRING}


@dataclass(frozen=True)
class Case:
    line: int
    expression: str
    record: dict[str, Any]
    tags: frozenset[str]
    expected: Any
    types: dict[str, Type]

    def compile(self) -> Expr:
        return check(parse_expression(self.expression), Scope(self.types, None))


def _type(spec: str) -> Type:
    if spec.startswith("category:"):
        return Type(Kind.CATEGORY, tuple(spec.removeprefix("category:").split(",")))
    return Type(KINDS[spec])


def _inferred(value: Any) -> Type:
    if isinstance(value, bool):
        return Type(Kind.BOOLEAN)
    if isinstance(value, int):
        return Type(Kind.INTEGER)
    if isinstance(value, str):
        return Type(Kind.STRING)
    return Type(Kind.NUMBER)  # a float, or a null nobody declared


def load_corpus(path: Path = CORPUS) -> list[Case]:
    cases: list[Case] = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip() or text.startswith(("#", "expression;")):
            continue
        parts = text.split(";")
        assert len(parts) in (3, 4), f"{path.name}:{number}: expected 3 or 4 ';'-separated columns, got {len(parts)}"
        expression, record_text, expected_text = parts[:3]
        record = json.loads(record_text)
        tags = frozenset(record.pop("__tags", []))
        declared = {k: _type(v) for k, v in json.loads(parts[3]).items()} if len(parts) == 4 else {}
        types = {name: declared.get(name) or _inferred(value) for name, value in record.items()}
        types.update(declared)
        cases.append(Case(number, expression, record, tags, json.loads(expected_text), types))
    return cases


CASES = load_corpus()


def _param(case: Case) -> Any:
    return pytest.param(case, id=f"L{case.line}:{case.expression}")


def _is_boolean(case: Case) -> bool:
    try:
        return case.compile().t.kind is Kind.BOOLEAN
    except Exception:
        return True  # let the durable test report the compile error


def assert_same(got: Any, expected: Any, case: Case, evaluator: str) -> None:
    where = f"line {case.line}: {case.expression} with {case.record}, tags {sorted(case.tags)} ({evaluator})"
    if expected is None or isinstance(expected, bool | str):
        assert got is expected or (isinstance(expected, str) and got == expected), \
            f"{where}: got {got!r}, expected {expected!r}"
    elif isinstance(expected, int):
        assert isinstance(got, int) and not isinstance(got, bool) and got == expected, \
            f"{where}: got {got!r}, expected the integer {expected!r}"
    else:
        assert isinstance(got, float) and math.isclose(got, expected, rel_tol=1e-12, abs_tol=1e-300), \
            f"{where}: got {got!r}, expected the number {expected!r}"


def test_corpus_is_large_and_covers_every_function() -> None:
    assert len(CASES) >= 120
    text = " ".join(c.expression for c in CASES)
    for function in ("min(", "max(", "abs(", "round(", "log(", "exp(", "sqrt(", "clip(", "coalesce(",
                     "is_missing(", "between(", "has_tag("):
        assert function in text, f"no conformance line calls {function})"
    for operator in (" + ", " - ", " * ", " / ", " % ", " == ", " != ", " < ", " <= ", " > ", " >= ", " and ",
                     " or ", "not ", " in [", " not in [", " if "):
        assert operator in text, f"no conformance line uses '{operator.strip()}'"


def test_corpus_states_its_types() -> None:
    """The expected value's JSON type is the expression's checked type (3 is an integer, 3.0 a number)."""
    for case in CASES:
        if case.expected is None:
            continue
        kind = case.compile().t.kind
        wanted = {bool: {Kind.BOOLEAN}, int: {Kind.INTEGER}, float: {Kind.NUMBER},
                  str: {Kind.STRING, Kind.CATEGORY}}[type(case.expected)]
        assert kind in wanted, f"line {case.line}: {case.expression} is {kind.value}, expected {case.expected!r}"


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_reference(case: Case) -> None:
    assert_same(evaluate(case.compile(), case.record, case.tags), case.expected, case, "reference")


def _one_row(case: Case, expr: Expr) -> pl.DataFrame:
    columns = [
        pl.Series(name, [case.record.get(name)], dtype=target_dtype(FieldInfo(name, typ)), strict=False)
        for name, typ in case.types.items()
    ]
    columns += [pl.Series(tag_column(t), [t in case.tags], dtype=pl.Boolean) for t in tags_in(expr)]
    return pl.DataFrame(columns or [pl.Series("__row", [0])])


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_polars(case: Case) -> None:
    expr = case.compile()
    out = _one_row(case, expr).select(to_polars(expr).alias("out"))
    assert out.height == 1
    assert_same(out["out"][0], case.expected, case, "polars")


@pytest.mark.parametrize("case", [_param(c) for c in CASES if _is_boolean(c)])
def test_durable(case: Case, streaming_host: StreamingHost) -> None:
    expr = case.compile()
    program = translate_conditions("conformance", [("true", expr), ("false", Unary("not", expr, type=BOOLEAN))])
    fired = DurableMatcher(program, streaming_host).fired(case.record, case.tags)
    got = {frozenset({"true"}): True, frozenset({"false"}): False, frozenset(): None}.get(fired, fired)
    assert_same(got, case.expected, case, f"durable_rules, conditions {program.definition}")
