"""The surprising corners of docs/rule-language.md ("Missing values: one meaning everywhere"), one at a time.

Every case states the expected value by hand and checks both evaluators against it: the batch one (Polars) and
the reference one (plain Python). Types count too: a `number` is a float in both, an `integer` an int.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from engine.cohort import Cohort
from engine.evaluate_reference import evaluate_record
from engine.expression_ast import BOOLEAN, INTEGER, NUMBER, STRING, Kind, Type
from engine.expression_parser import parse_expression
from engine.expression_polars import tag_column, to_polars
from engine.expression_scalar import evaluate
from engine.expression_types import Scope, check
from engine.functions import Value
from engine.pipeline import load_ruleset

CATEGORY = Type(Kind.CATEGORY, ("a", "b", "c"))
NAMES: dict[str, Type] = {"x": NUMBER, "y": NUMBER, "i": INTEGER, "j": INTEGER, "b": BOOLEAN, "s": STRING,
                          "c": CATEGORY}
SCHEMA: dict[str, pl.DataType] = {"x": pl.Float64(), "y": pl.Float64(), "i": pl.Int64(), "j": pl.Int64(),
                                  "b": pl.Boolean(), "s": pl.String(), "c": pl.Enum(list(CATEGORY.values)),
                                  tag_column("vip"): pl.Boolean()}


def batch_and_reference(text: str, record: dict[str, Any], tags: frozenset[str] = frozenset()) -> tuple[Value, Value]:
    expr = check(parse_expression(text), Scope(NAMES))
    full = {name: record.get(name) for name in NAMES}
    # Two identical rows, and a lazy with_columns as the batch plan does: one value per row, even for constants.
    frame = pl.DataFrame([{**full, tag_column("vip"): "vip" in tags}] * 2, schema=SCHEMA)
    values = frame.lazy().with_columns(to_polars(expr).alias("value")).collect()["value"].to_list()
    assert values[0] == values[1] or values == [None, None], values
    return values[0], evaluate(expr, full, tags)


def typed(value: Value) -> tuple[str, Value]:
    return type(value).__name__, value


MISSING = [
    pytest.param("not (x > 5)", {}, None, id="not-of-missing-is-missing"),
    pytest.param("x > 5 or true", {}, True, id="missing-or-true-is-true"),
    pytest.param("x > 5 or false", {}, None, id="missing-or-false-is-missing"),
    pytest.param("x > 5 and false", {}, False, id="missing-and-false-is-false"),
    pytest.param("x > 5 and true", {}, None, id="missing-and-true-is-missing"),
    pytest.param("not is_missing(x)", {}, False, id="is-missing-is-never-missing"),
    pytest.param("x + 1", {}, None, id="arithmetic-with-missing"),
    pytest.param("-x", {}, None, id="negative-of-missing"),
    pytest.param("min(x, 1)", {}, None, id="min-does-not-skip-missing"),
    pytest.param("max(1, 2, x)", {}, None, id="max-does-not-skip-missing"),
    pytest.param("abs(x)", {}, None, id="abs-of-missing"),
    pytest.param("round(x, 2)", {}, None, id="round-of-missing"),
    pytest.param("clip(x, 0, 1)", {}, None, id="clip-of-missing"),
    pytest.param("clip(5, 0, y)", {}, None, id="clip-with-a-missing-bound"),
    pytest.param("x == x", {}, None, id="missing-equals-nothing-not-even-itself"),
    pytest.param("x in [1, 2]", {}, None, id="in-of-missing"),
    pytest.param("x not in [1, 2]", {}, None, id="not-in-of-missing-is-missing-not-true"),
    pytest.param("c not in ['a']", {}, None, id="category-not-in-of-missing"),
    pytest.param("c == s", {"c": "a"}, None, id="category-equals-missing-string"),
    pytest.param("has_tag('vip')", {}, False, id="has-tag-is-never-missing"),
]

CHAINS = [
    pytest.param("1 < x < 3", {}, None, id="chain-missing-middle"),
    pytest.param("5 < x < 3", {}, None, id="chain-missing-middle-even-if-impossible"),
    pytest.param("x < 1 < y", {"x": 5.0}, False, id="chain-false-first-part-missing-last"),
    pytest.param("1 < x < y", {"x": 2.0}, None, id="chain-true-first-part-missing-last"),
    pytest.param("2 < 1 < x", {}, False, id="chain-false-constant-part"),
    pytest.param("0 <= i < 10 <= j", {"i": 3, "j": 12}, True, id="chain-three-comparisons"),
]

BETWEEN = [
    pytest.param("between(x, 1, 3)", {}, None, id="between-missing-x"),
    # "between of a missing argument is missing": not the three-valued lo <= x and x <= hi, which is false
    # as soon as one known bound excludes x
    pytest.param("between(5, 1, y)", {}, None, id="between-missing-upper-bound"),
    pytest.param("between(0, 1, y)", {}, None, id="between-missing-upper-bound-below-the-lower"),
    pytest.param("between(5, y, 3)", {}, None, id="between-missing-lower-bound-above-the-upper"),
    pytest.param("not between(0, 1, y)", {}, None, id="not-between-missing-bound"),
    pytest.param("between(3, 1, 3)", {}, True, id="between-is-inclusive"),
    pytest.param("between(x, y, 1)", {"x": 0.5, "y": 2.0}, False, id="between-empty-range"),
]

ARITHMETIC = [
    pytest.param("x / 0", {"x": 1.0}, None, id="division-by-zero"),
    pytest.param("i / j", {"i": 1, "j": 0}, None, id="integer-division-by-zero"),
    pytest.param("x / (y - y)", {"x": 1.0, "y": 2.5}, None, id="division-by-computed-zero"),
    pytest.param("x % 0", {"x": 1.0}, None, id="modulo-by-zero"),
    pytest.param("i % j", {"i": 7, "j": 0}, None, id="integer-modulo-by-zero"),
    pytest.param("-7 % 3", {}, 2, id="modulo-takes-sign-of-divisor"),
    pytest.param("7 % -3", {}, -2, id="modulo-negative-divisor"),
    pytest.param("i % j", {"i": -7, "j": 3}, 2, id="integer-modulo-columns"),
    pytest.param("-7.5 % 2", {}, 0.5, id="number-modulo-sign-of-divisor"),
    pytest.param("x % -2", {"x": 7.5}, -0.5, id="number-modulo-negative-divisor"),
    # a - b * floor(a / b), in float64 (Python's own -3.0 % 0.01 is 6.245004513516506e-17)
    pytest.param("x % 0.01", {"x": -3.0}, 0.0, id="number-modulo-is-a-minus-b-floor-a-over-b"),
    pytest.param("i / j", {"i": 7, "j": 2}, 3.5, id="integer-division-gives-a-number"),
    pytest.param("i * j + 1", {"i": 7, "j": 2}, 15, id="integer-arithmetic-stays-integer"),
    # x / 100 must divide, not multiply by 0.01: 35 * 0.01 is 0.35000000000000003
    pytest.param("x / 100", {"x": 35.0}, 0.35, id="division-by-a-constant-is-exact"),
    pytest.param("x / 100 <= 0.35", {"x": 35.0}, True, id="division-by-a-constant-at-the-boundary"),
    pytest.param("i / 12", {"i": 1}, 1 / 12, id="integer-by-constant"),
    pytest.param("log(0)", {}, None, id="log-of-zero"),
    pytest.param("log(x)", {"x": -1.0}, None, id="log-of-negative"),
    pytest.param("sqrt(x)", {"x": -0.01}, None, id="sqrt-of-negative"),
    pytest.param("sqrt(i)", {"i": 9}, 3.0, id="sqrt-of-integer-is-number"),
    pytest.param("exp(709)", {}, math.exp(709), id="exp-at-the-edge"),
    pytest.param("exp(x)", {"x": 709.5}, None, id="exp-above-709-is-missing"),
    pytest.param("is_missing(x / 0)", {"x": 1.0}, True, id="is-missing-of-division-by-zero"),
]

ROUNDING = [
    pytest.param("round(2.5)", {}, 2.0, id="round-half-to-even-down"),
    pytest.param("round(3.5)", {}, 4.0, id="round-half-to-even-up"),
    pytest.param("round(x)", {"x": -2.5}, -2.0, id="round-negative-half"),
    pytest.param("round(x)", {"x": 0.5}, 0.0, id="round-half-to-zero"),
    pytest.param("round(i)", {"i": 7}, 7, id="round-of-integer-stays-integer"),
    pytest.param("round(i, 2)", {"i": 7}, 7, id="round-digits-of-integer-stays-integer"),
    pytest.param("round(x, 2)", {"x": 0.125}, 0.12, id="round-digits-half-to-even"),
    # half to even of x * 100 = 267.5, not Python's round(2.675, 2) == 2.67 (2.675 is stored as 2.67499999...)
    pytest.param("round(x, 2)", {"x": 2.675}, 2.68, id="round-digits-of-scaled-value"),
    pytest.param("round(x, 1)", {"x": 12.35}, 12.4, id="round-digits-money-like"),
    # no digits left to round: x itself (Polars' own round(1e17, 6) is 99999999999999980)
    pytest.param("round(x, 6)", {"x": 1e17}, 1e17, id="round-digits-of-a-huge-number"),
]

PROMOTION = [
    pytest.param("coalesce(i, 2.5)", {"i": 3}, 3.0, id="coalesce-integer-with-number-is-number"),
    pytest.param("coalesce(i, 2.5)", {}, 2.5, id="coalesce-takes-the-first-present"),
    pytest.param("coalesce(i, j)", {"j": 4}, 4, id="coalesce-of-integers-stays-integer"),
    pytest.param("coalesce(x, y)", {}, None, id="coalesce-all-missing"),
    pytest.param("coalesce(x / 0, 1)", {"x": 1.0}, 1.0, id="coalesce-after-division-by-zero"),
    pytest.param("coalesce(b, false)", {}, False, id="coalesce-boolean"),
    pytest.param("min(i, 2.5)", {"i": 1}, 1.0, id="min-mixed-is-number"),
    pytest.param("max(i, j)", {"i": 1, "j": 2}, 2, id="max-of-integers-stays-integer"),
    pytest.param("clip(x, 3, 1)", {"x": 2.0}, 1.0, id="clip-with-crossed-bounds-is-min-of-max"),
    pytest.param("clip(i, 1, 3.5)", {"i": 7}, 3.5, id="clip-integer-to-number-bound"),
    pytest.param("i in [1, 2.0]", {"i": 2}, True, id="integer-in-whole-number-list"),
    pytest.param("i in [1, 2.5]", {"i": 2}, False, id="integer-in-number-list"),
    pytest.param("i == x", {"i": 2, "x": 2.0}, True, id="integer-equals-number"),
]

IF_ELSE = [
    pytest.param("1 if x > 0 else 2", {}, 2, id="if-missing-condition-takes-else"),
    pytest.param("1 if b else 2", {}, 2, id="if-missing-boolean-takes-else"),
    pytest.param("x if b else 2", {"b": True}, None, id="if-missing-then-stays-missing"),
    pytest.param("1 if b else 2.5", {"b": True}, 1.0, id="if-branches-unify-to-number"),
    pytest.param("0 == (0 if x > 0 else x)", {"x": 1.0}, True, id="constant-compared-with-if-else"),
    pytest.param("(c if b else c) == 'a'", {"c": "a"}, True, id="category-if-else"),
    pytest.param("'a' if b else s", {"s": "z"}, "z", id="string-if-else"),
]

TEXT = [
    pytest.param("c == s", {"c": "a", "s": "a"}, True, id="category-equals-string-as-text"),
    pytest.param("c != s", {"c": "a", "s": "zz"}, True, id="category-differs-from-string-not-a-category"),
    pytest.param("c in ['a', 'b']", {"c": "b"}, True, id="category-in-list"),
    pytest.param("s in ['x', '']", {"s": ""}, True, id="empty-string-is-a-value"),
    pytest.param("b == true", {"b": False}, False, id="boolean-equals"),
    pytest.param("b in [true]", {"b": True}, True, id="boolean-in"),
]


@pytest.mark.parametrize(("text", "record", "expected"),
                         MISSING + CHAINS + BETWEEN + ARITHMETIC + ROUNDING + PROMOTION + IF_ELSE + TEXT)
def test_expression_value(text: str, record: dict[str, Any], expected: Value) -> None:
    batch, reference = batch_and_reference(text, record)
    assert typed(batch) == typed(expected)
    assert typed(reference) == typed(expected)


def test_has_tag_reads_the_given_tags() -> None:
    assert batch_and_reference("has_tag('vip')", {}, frozenset({"vip"})) == (True, True)


RULESET = """\
ruleset: corners
hit_policy: first
fields:
  x: {type: number}
  y: {type: number}
  b: {type: boolean}
outputs:
  tier: {type: category, values: ["no", "yes"]}
rules:
  - id: hit
    when: "WHEN"
    then: {tier: "yes"}
default: {tier: "no"}
"""


@pytest.mark.parametrize(("when", "record", "fires"), [
    pytest.param("not (x > 5)", {"x": None}, False, id="not-of-missing-does-not-fire"),
    pytest.param("not (x > 5)", {"x": 3.0}, True, id="not-of-false-fires"),
    pytest.param("x <= 5 or x > 5", {"x": None}, False, id="excluded-middle-does-not-fire-on-missing"),
    pytest.param("(x > 5) == false", {"x": None}, False, id="missing-compared-with-false-does-not-fire"),
    pytest.param("x > 5 or b", {"x": None, "b": True}, True, id="missing-or-true-fires"),
    pytest.param("not between(0, 1, y)", {"y": None}, False, id="not-between-missing-bound-does-not-fire"),
    pytest.param("true if x > 0 else false", {"x": None}, False, id="if-missing-condition-takes-else"),
    pytest.param("is_missing(x)", {"x": None}, True, id="is-missing-fires"),
    pytest.param("x / 100 <= 0.35", {"x": 35.0}, True, id="division-at-the-boundary-fires"),
])
def test_rule_fires_only_when_true(tmp_path: Path, when: str, record: dict[str, Any], fires: bool) -> None:
    path = tmp_path / "corners.yaml"
    path.write_text(RULESET.replace("WHEN", when), encoding="utf-8")
    ruleset = load_ruleset(path)
    frame = pl.DataFrame([{"user_id": "u1", **record}], schema={"user_id": pl.String(), "x": pl.Float64(),
                                                                 "y": pl.Float64(), "b": pl.Boolean()})
    batch = ruleset.apply(Cohort.from_frame(frame, ruleset.schema, ruleset.id_field)).frame
    reference = evaluate_record(ruleset, {"x": None, "y": None, "b": None} | record)
    expected = "hit" if fires else "default"
    assert batch["tier_rule"][0] == expected
    assert reference.rules["tier_rule"] == expected


def test_nan_in_the_cohort_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "corners.yaml"
    path.write_text(RULESET.replace("WHEN", "is_missing(x) and not (x > 5)"), encoding="utf-8")
    ruleset = load_ruleset(path)
    frame = pl.DataFrame({"user_id": ["nan", "none"], "x": [math.nan, None], "y": [1.0, 1.0], "b": [True, True]})
    batch = ruleset.apply(Cohort.from_frame(frame, ruleset.schema, ruleset.id_field)).frame
    assert batch["tier_rule"].to_list() == ["default", "default"]  # missing, so `not (x > 5)` is missing too
    assert evaluate_record(ruleset, {"x": None, "y": 1.0, "b": True}).rules["tier_rule"] == "default"
