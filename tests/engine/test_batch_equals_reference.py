"""Random rulesets × random records: the batch evaluator (one Polars plan) equals the reference interpreter.

Hypothesis writes whole rule files (and 2–3-stage pipelines whose later stages read `tier` and `has_tag` of
earlier ones) as YAML, loads them with `load_ruleset`, and compares every decision column, row by row, with
`evaluate_record`. Missing values are everywhere: None in any nullable field, NaN in number fields, whole
optional columns left out.

Why every number stays small: field values are within ±1000 (numbers on a 0.005 grid) and every generated
numeric expression carries a bound on its magnitude (`Num.hi`, `Num.lo`). An operation is only generated when
its result stays below 1e15 for integers and 1e300 for numbers. Beyond that the two evaluators are *meant* to
differ and the language says nothing: Polars' int64 wraps around at 9.2e18 where Python's int grows, and a
float64 beyond 1.8e308 is inf, whence inf - inf = NaN, which Polars orders above every number (and equal to
itself) while Python's comparisons with NaN are all false.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from engine.cohort import Cohort
from engine.evaluate_reference import evaluate_record
from engine.expression_ast import BOOLEAN, INTEGER, NUMBER, STRING, Expr, Kind, Literal, Type
from engine.expression_parser import parse_expression
from engine.expression_polars import tag_column, to_polars
from engine.expression_scalar import evaluate
from engine.expression_types import Scope, check
from engine.pipeline import CompiledRuleset, load_ruleset

Draw = Callable[[st.SearchStrategy[Any]], Any]

INT_LIMIT = 15.0  # log10 of the largest |integer| generated: far below int64's 9.2e18
NUM_LIMIT = 300.0  # log10 of the largest |number| generated: far below float64's 1.8e308
TINY = -324.0  # log10 of the smallest positive float64 (5e-324): a bound for every non-zero |value|
LOG2 = math.log10(2.0)
LOG10_E = math.log10(math.e)

# Constants whose quotients and products are not exact in binary (unlike 0.25 or 4): where float64 evaluators
# that take different paths to the same number part ways in the last bit.
AWKWARD_INTEGERS = (3, 7, 10, 12, 100, -3)
AWKWARD_FLOATS = (0.1, 0.3, 1.1, 0.35, 2.675, -0.7, 1000.5)
CATEGORY_VALUES = ("a", "b", "c", "d")
STRING_VALUES = ("x", "y", "zz", "")
TIERS = ("low", "mid", "high", "top")
TAGS = ("t0", "t1", "t2")
ID = "user_id"
# Number values are multiples of 1 / GRID: half-cents, so that round(x, 2) meets its ties (12.345).
GRID = 200


# ---- expressions ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Num:
    """A numeric expression and a bound on its magnitude, in log10: |value| <= 10**hi, and |value| >= 10**lo
    unless it is 0. hi = -inf: always 0; lo = inf: never anything but 0."""

    text: str
    integer: bool
    hi: float
    lo: float

    def fits(self) -> bool:
        return self.hi <= (INT_LIMIT if self.integer else NUM_LIMIT)


def int_literal(k: int) -> Num:
    return Num(f"({k})" if k < 0 else str(k), True, math.log10(abs(k)) if k else -math.inf, 0.0 if k else math.inf)


def float_literal(v: float) -> Num:
    bound = math.log10(abs(v)) if v else -math.inf
    return Num(f"({v!r})" if v < 0 else repr(v), False, bound, bound if v else math.inf)


def _low(value: float) -> float:
    return max(TINY, value)


def _combine(texts: str, integer: bool, parts: list[Num]) -> Num:
    """min, max, clip, coalesce, if-else: the value is one of the parts."""
    return Num(texts, integer, max(p.hi for p in parts), min(p.lo for p in parts))


def _arithmetic(op: str, a: Num, b: Num) -> Num | None:
    text = f"({a.text} {op} {b.text})"
    integer = a.integer and b.integer and op != "/"
    if op in "+-":
        hi = max(a.hi, b.hi) + LOG2
        # Cancellation leaves at least one ulp of the smaller operand: 2**-52 * 10**lo > 10**(lo - 16).
        lo = 0.0 if integer else _low(min(a.lo, b.lo) - 16)
        return Num(text, integer, hi, lo)
    if op == "*":
        return Num(text, integer, a.hi + b.hi, _low(a.lo + b.lo))
    quotient_hi = a.hi - b.lo
    if quotient_hi > NUM_LIMIT:  # a / b, also computed inside a % b
        return None
    if op == "/":
        return Num(text, False, quotient_hi, _low(a.lo - b.hi))
    return Num(text, integer, b.hi, 0.0 if integer else TINY)  # %: |a % b| <= |b|


@dataclass
class Names:
    """What an expression may read: every numeric name with its bound, and the others by type."""

    numbers: list[Num] = field(default_factory=list)
    booleans: list[str] = field(default_factory=list)
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)
    strings: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)  # given by earlier stages: has_tag() may read them


NUMBER_OPS = ("leaf", "leaf", "leaf", "+", "-", "*", "/", "/", "%", "neg", "abs", "round", "round_n", "min", "max",
              "clip", "coalesce", "log", "exp", "sqrt", "if")
INTEGER_OPS = ("leaf", "leaf", "+", "-", "*", "%", "neg", "abs", "round", "min", "max", "clip", "coalesce", "if")
BOOLEAN_OPS = ("compare", "compare", "chain", "and", "or", "not", "category", "string", "boolean", "is_missing",
               "between", "if", "coalesce", "has_tag", "literal")


class Grammar:
    """Random, well-typed expressions over `names`, drawn with hypothesis (so failures shrink)."""

    def __init__(self, draw: Draw, names: Names) -> None:
        self.draw = draw
        self.names = names

    def pick(self, options: list[Any] | tuple[Any, ...]) -> Any:
        return self.draw(st.sampled_from(options))

    def depth(self) -> int:
        return int(self.draw(st.integers(0, 3)))

    # -- numbers --

    def leaf(self, integer: bool) -> Num:
        named = [n for n in self.names.numbers if n.integer or not integer]
        choice = self.draw(st.integers(0, 4))
        if named and choice <= 2:
            return self.pick(named)  # type: ignore[no-any-return]
        if integer or choice == 3:
            return int_literal(self.draw(st.one_of(st.integers(-20, 20), st.sampled_from(AWKWARD_INTEGERS))))
        return float_literal(self.draw(st.one_of(st.integers(-80, 80).map(lambda q: q / 4),
                                                 st.sampled_from(AWKWARD_FLOATS))))

    def divisor(self, depth: int, integer: bool) -> Num:
        choice = self.draw(st.integers(0, 4))
        if choice == 0:
            return int_literal(0) if integer or self.draw(st.booleans()) else float_literal(0.0)
        if choice == 1:  # a constant divisor: Polars once multiplied by its reciprocal instead of dividing
            return self.leaf(integer) if integer else float_literal(self.pick(AWKWARD_FLOATS))
        return self.number(depth, integer)

    def number(self, depth: int, integer: bool = False) -> Num:
        op = self.pick(INTEGER_OPS if integer else NUMBER_OPS) if depth > 0 else "leaf"
        d = depth - 1
        if op == "leaf":
            return self.leaf(integer)
        first = self.number(d, integer)
        out: Num | None
        if op in ("+", "-", "*", "/", "%"):
            second = self.divisor(d, integer) if op in "/%" else self.number(d, integer)
            out = _arithmetic(op, first, second)
        elif op == "neg":
            out = Num(f"(-{first.text})", first.integer, first.hi, first.lo)
        elif op == "abs":
            out = Num(f"abs({first.text})", first.integer, first.hi, first.lo)
        elif op == "round":
            if first.integer:
                out = Num(f"round({first.text})", True, first.hi, first.lo)
            else:
                out = Num(f"round({first.text})", False, max(first.hi, 0.0) + LOG2, 0.0)
        elif op == "round_n":
            digits = self.pick((0, 1, 2, 2, 3, 12))
            hi = first.hi if first.integer else max(first.hi, -digits) + LOG2
            out = Num(f"round({first.text}, {digits})", first.integer, hi, min(first.lo, -digits - 1))
        elif op in ("min", "max", "coalesce"):
            parts = [first] + [self.number(d, integer) for _ in range(self.draw(st.integers(1, 2)))]
            text = f"{op}({', '.join(p.text for p in parts)})"
            out = _combine(text, all(p.integer for p in parts), parts)
        elif op == "clip":
            bounds = [self.leaf(integer) if self.draw(st.booleans()) else self.number(d, integer) for _ in range(2)]
            parts = [first, *bounds]
            out = _combine(f"clip({', '.join(p.text for p in parts)})", all(p.integer for p in parts), parts)
        elif op == "log":
            magnitudes = [abs(b) for b in (first.hi, first.lo) if math.isfinite(b)]
            out = Num(f"log({first.text})", False, math.log10(2.31 * max([1.0, *magnitudes])), -17.0)
        elif op == "exp":
            largest = 10 ** min(first.hi, 3.0)  # |x| <= largest; exp(x) is missing above 709
            out = Num(f"exp({first.text})", False, min(largest, 709.0) * LOG10_E, _low(-largest * LOG10_E))
        elif op == "sqrt":
            out = Num(f"sqrt({first.text})", False, first.hi / 2, first.lo / 2)
        else:  # if
            cond = self.boolean(d)
            other = self.number(d, integer)
            text = f"({first.text} if {cond} else {other.text})"
            out = _combine(text, first.integer and other.integer, [first, other])
        return out if out is not None and out.fits() else first

    # -- booleans --

    def boolean(self, depth: int) -> str:
        op = self.pick(BOOLEAN_OPS)
        d = max(depth - 1, 0)
        if depth <= 0 and op in ("chain", "and", "or", "not", "is_missing", "between", "if", "coalesce"):
            op = "compare"
        names = self.names
        if op == "category" and names.categories:
            return self.category_test(d)
        if op == "string" and names.strings:
            s = self.pick(names.strings)
            form = self.draw(st.integers(0, 2))
            if form == 0:
                return f"({s} {self.pick(('==', '!='))} {self.pick((*STRING_VALUES, 'w'))!r})"
            values = self.draw(st.lists(st.sampled_from(STRING_VALUES), min_size=1, max_size=3, unique=True))
            return f"({s} {'not in' if form == 2 else 'in'} {list(values)!r})"
        if op == "boolean" and names.booleans:
            b = str(self.pick(names.booleans))
            form = self.draw(st.integers(0, 3))
            if form == 0:
                return b
            if form == 1:
                return f"({b} {self.pick(('==', '!='))} {self.pick(('true', 'false', *names.booleans))})"
            if form == 2:
                return f"({b} in [{self.pick(('true', 'false'))}])"
            return f"(not {b})"
        if op == "has_tag" and names.tags:
            return f"has_tag({self.pick(names.tags)!r})"
        if op == "literal":
            return str(self.pick(("true", "false", "True", "False")))
        if op == "chain":
            first, middle, last = (self.number(d).text for _ in range(3))
            return f"({first} {self.comparison()} {middle} {self.comparison()} {last})"
        if op in ("and", "or"):
            parts = [self.boolean(d) for _ in range(self.draw(st.integers(2, 3)))]
            return "(" + f" {op} ".join(parts) + ")"
        if op == "not":
            return f"(not {self.boolean(d)})"
        if op == "is_missing":
            return f"is_missing({self.anything(d)})"
        if op == "between":
            return f"between({', '.join(self.number(d).text for _ in range(3))})"
        if op == "if":
            return f"({self.boolean(d)} if {self.boolean(d)} else {self.boolean(d)})"
        if op == "coalesce":
            return f"coalesce({self.boolean(d)}, {self.boolean(d)})"
        return f"({self.number(d).text} {self.comparison()} {self.number(d).text})"

    def comparison(self) -> str:
        return str(self.pick(("==", "!=", "<", "<=", ">", ">=")))

    def category_test(self, depth: int) -> str:
        name = self.pick(list(self.names.categories))
        values = self.names.categories[name]
        same = [n for n, v in self.names.categories.items() if v == values]
        form = self.draw(st.integers(0, 5))
        if form == 0:
            return f"({name} {self.pick(('==', '!='))} {self.pick(values)!r})"
        if form == 1:
            chosen = self.draw(st.lists(st.sampled_from(values), min_size=1, max_size=len(values), unique=True))
            return f"({name} {self.pick(('in', 'not in'))} {list(chosen)!r})"
        if form == 2:
            return f"({name} {self.pick(('==', '!='))} {self.pick(same)})"
        if form == 3 and self.names.strings:  # a category compared with a plain string field: as text
            return f"({name} {self.pick(('==', '!='))} {self.pick(self.names.strings)})"
        if form == 4:
            return f"(coalesce({name}, {self.pick(same)}) == {self.pick(values)!r})"
        return f"(({name} if {self.boolean(depth)} else {self.pick(same)}) == {self.pick(values)!r})"

    def anything(self, depth: int) -> str:
        kinds = ["number", "boolean"] + (["category"] if self.names.categories else []) + (
            ["string"] if self.names.strings else [])
        kind = self.pick(kinds)
        if kind == "number":
            return self.number(depth).text
        if kind == "boolean":
            return self.boolean(depth)
        if kind == "category":
            return str(self.pick(list(self.names.categories)))
        return str(self.pick(self.names.strings))


# ---- rule files ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    values: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    nullable: bool = True
    required: bool = True
    pii: bool = False

    def spec(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.values:
            out["values"] = list(self.values)
        if self.minimum is not None:
            out["min"] = self.minimum
        if self.maximum is not None:
            out["max"] = self.maximum
        if not self.nullable:
            out["nullable"] = False
        if not self.required:
            out["required"] = False
        if self.pii:
            out["pii"] = True
        return out

    def bounds(self) -> tuple[int, int]:
        return (-1000 if self.minimum is None else self.minimum, 1000 if self.maximum is None else self.maximum)

    def leaf(self) -> Num:
        low, high = self.bounds()
        hi = math.log10(max(abs(low), abs(high), 1))
        return Num(self.name, self.type == "integer", hi, 0.0 if self.type == "integer" else math.log10(1 / GRID))


@st.composite
def field_defs(draw: Draw) -> list[FieldDef]:
    kinds = draw(st.lists(st.sampled_from(["number", "integer", "boolean", "category", "string"]),
                          min_size=2, max_size=6))
    if not {"number", "integer"} & set(kinds):
        kinds[0] = draw(st.sampled_from(["number", "integer"]))
    out = []
    for i, kind in enumerate(kinds):
        values: tuple[str, ...] = ()
        minimum = maximum = None
        if kind == "category":
            values = CATEGORY_VALUES[: draw(st.integers(2, 4))]
        if kind in ("number", "integer"):
            minimum = draw(st.sampled_from([None, -1000, -10, 0, 1]))
            maximum = draw(st.sampled_from([None, 10, 100, 1000]))
        out.append(FieldDef(
            f"{kind[0]}{i}", kind, values, minimum, maximum,
            nullable=draw(st.integers(0, 4)) > 0,
            required=draw(st.integers(0, 5)) > 0,
            pii=kind == "string" and draw(st.integers(0, 3)) == 0,
        ))
    return out


@dataclass
class Upstream:
    """What the stages so far produce, for the next stage to read."""

    names: Names = field(default_factory=Names)
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)  # declaration of each bound output
    tier_values: tuple[str, ...] = ()


def action_names(actions: list[dict[str, str]]) -> list[str]:
    names: dict[str, None] = {}
    for action in actions:
        for key in ("id", "channel", "incentive"):
            if key in action:
                names.setdefault(action[key], None)
    return list(names)


@st.composite
def stage_file(draw: Draw, name: str, policy: str, with_tier: bool, fields: list[FieldDef], upstream: Upstream,
               actions: list[str]) -> tuple[dict[str, Any], Upstream]:
    """One ruleset (as the data of its YAML file), and what the pipeline produces once it has run."""
    declared = [f for f in fields if draw(st.integers(0, 4)) > 0] if upstream.fields else fields
    names = Names(
        numbers=[f.leaf() for f in declared if f.type in ("number", "integer")] + list(upstream.names.numbers),
        booleans=[f.name for f in declared if f.type == "boolean"] + list(upstream.names.booleans),
        categories={f.name: f.values for f in declared if f.type == "category"} | upstream.names.categories,
        strings=[f.name for f in declared if f.type == "string"],
        tags=list(upstream.names.tags),
    )
    grammar = Grammar(draw, names)
    derived: dict[str, str] = {}
    for k in range(draw(st.integers(0, 2))):
        derived_name = f"{name}_d{k}"
        if draw(st.booleans()):
            num = grammar.number(grammar.depth())
            names.numbers.append(Num(derived_name, num.integer, num.hi, num.lo))
            derived[derived_name] = num.text
        else:
            derived[derived_name] = grammar.boolean(grammar.depth())
            names.booleans.append(derived_name)

    value, count, flag = f"{name}_v", f"{name}_n", f"{name}_f"
    outputs: dict[str, Any] = {}
    if with_tier:
        tiers = TIERS[: draw(st.integers(2, 4))]
        outputs["tier"] = {"type": "category", "values": list(tiers)}
    outputs[value] = {"type": "number"}
    if draw(st.booleans()):
        outputs[count] = {"type": "integer"}
    if draw(st.booleans()):
        outputs[flag] = {"type": "boolean"}
    produced: dict[str, list[Num]] = {value: [], count: []}

    def then(is_default: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if with_tier and (is_default or draw(st.integers(0, 4)) > 0):
            out["tier"] = draw(st.sampled_from(tiers))
        for output, integer in ((value, False), (count, True)):
            if output in outputs and draw(st.integers(0, 2)) > 0:
                if draw(st.integers(0, 3)) == 0:  # a YAML literal rather than an expression
                    literal = draw(st.integers(-100, 100)) if integer or draw(st.booleans()) else (
                        draw(st.integers(-400, 400)) / 4)
                    produced[output].append(int_literal(literal) if isinstance(literal, int)
                                            else float_literal(literal))
                    out[output] = literal
                else:
                    num = grammar.number(grammar.depth(), integer)
                    produced[output].append(num)
                    out[output] = num.text
        if flag in outputs and draw(st.booleans()):
            out[flag] = grammar.boolean(grammar.depth())
        for key, pool in (("tags", TAGS), ("allow", actions), ("block", actions)):
            chosen = draw(st.lists(st.sampled_from(pool), max_size=2, unique=True))
            if chosen:
                out[key] = chosen
        return out

    rules = []
    for k in range(draw(st.integers(1, 4))):
        rule: dict[str, Any] = {"id": f"r{k}", "when": grammar.boolean(grammar.depth()), "then": then(False)}
        if policy == "priority":
            rule["priority"] = draw(st.integers(0, 3))
        rules.append(rule)
    data: dict[str, Any] = {
        "ruleset": name,
        "hit_policy": policy,
        "fields": {f.name: f.spec() for f in declared} | upstream.fields,
    }
    if derived:
        data["derived"] = derived
    data["outputs"] = outputs
    data["rules"] = rules
    if policy != "collect" or draw(st.booleans()):
        data["default"] = then(True)

    after = Upstream(
        Names(list(upstream.names.numbers), list(upstream.names.booleans), dict(upstream.names.categories), [],
              list(upstream.names.tags)),
        dict(upstream.fields),
        upstream.tier_values,
    )
    if with_tier:
        after.names.categories["tier"] = tiers
        after.fields["tier"] = {"type": "category", "values": list(tiers)}
        after.tier_values = tiers
    for output, integer in ((value, False), (count, True)):
        if output in outputs:
            parts = produced[output] or [int_literal(0)]
            after.names.numbers.append(_combine(output, integer, parts))
            after.fields[output] = {"type": "integer" if integer else "number"}
    if flag in outputs:
        after.names.booleans.append(flag)
        after.fields[flag] = {"type": "boolean"}
    given_tags = {t for r in rules for t in r["then"].get("tags", [])} | set(data.get("default", {}).get("tags", []))
    after.names.tags = sorted(set(after.names.tags) | given_tags)
    return data, after


@dataclass(frozen=True)
class Case:
    """Rule files to write (name → YAML data; the first one is loaded), the cohort's fields and rows."""

    files: dict[str, dict[str, Any]]
    fields: list[FieldDef]
    rows: list[dict[str, Any]]  # NaN stands for missing in number fields

    def write(self, folder: Path) -> Path:
        for name, data in self.files.items():
            (folder / name).write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
        return folder / next(iter(self.files))

    def describe(self) -> str:
        return "\n".join(f"--- {name}\n{yaml.safe_dump(data, sort_keys=False)}" for name, data in self.files.items())


def value_strategy(f: FieldDef) -> st.SearchStrategy[Any]:
    low, high = f.bounds()
    edges = sorted({low, high, max(low, min(high, 0))})  # the bounds, and 0 (a divisor) when it is allowed
    if f.type == "number":
        inside = st.integers(GRID * low, GRID * high)
        steps = st.one_of(st.sampled_from([GRID * e for e in edges]), inside, inside, inside)
        values: st.SearchStrategy[Any] = steps.map(lambda k: k / GRID)
    elif f.type == "integer":
        values = st.one_of(st.sampled_from(edges), *[st.integers(low, high)] * 3)
    elif f.type == "boolean":
        values = st.booleans()
    elif f.type == "category":
        values = st.sampled_from(f.values)
    else:
        values = st.sampled_from(STRING_VALUES)
    if not f.nullable:
        return values
    missing = st.sampled_from([None, math.nan]) if f.type == "number" else st.just(None)
    return st.one_of(values, values, values, missing)


@st.composite
def records(draw: Draw, fields: list[FieldDef]) -> list[dict[str, Any]]:
    present = [f for f in fields if f.required or draw(st.booleans())]  # an optional column may be left out
    row = st.fixed_dictionaries({f.name: value_strategy(f) for f in present})
    size = draw(st.integers(1, 40))  # drawn first: st.lists alone keeps most cohorts at a row or two
    return draw(st.lists(row, min_size=size, max_size=size))  # type: ignore[no-any-return]


@st.composite
def single_rulesets(draw: Draw) -> Case:
    fields = draw(field_defs())
    policy = draw(st.sampled_from(["first", "collect", "priority"]))
    with_tier = policy != "collect" and draw(st.booleans())
    actions = ["sms", "call", "app"][: draw(st.integers(2, 3))]
    # has_tag() of a tag no earlier ruleset gives (or this one gives: it is not given yet) is false.
    alone = Upstream(Names(tags=list(TAGS)))
    data, _ = draw(stage_file("rs", policy, with_tier, fields, alone, actions))
    return Case({"rs.yaml": data}, fields, draw(records(fields)))


@st.composite
def pipelines(draw: Draw) -> Case:
    fields = draw(field_defs())
    actions = [{"id": "sms", "channel": "sms"}, {"id": "call", "channel": "tele"},
               {"id": "call_coupon", "channel": "tele", "incentive": "coupon"}][: draw(st.integers(2, 3))]
    upstream = Upstream()
    files: dict[str, dict[str, Any]] = {}
    for index in range(draw(st.integers(2, 3))):
        # The first stage decides the tier; later ones read it (and the tags, values and flags so far).
        policy = draw(st.sampled_from(["first", "priority"] if index == 0 else ["first", "collect", "priority"]))
        data, upstream = draw(stage_file(f"s{index}", policy, index == 0, fields, upstream, action_names(actions)))
        files[f"s{index}.yaml"] = data
    pipeline = {"pipeline": "p", "id_field": ID, "rulesets": list(files), "actions": actions}
    return Case({"pipeline.yaml": pipeline, **files}, fields, draw(records(fields)))


# ---- running both evaluators ---------------------------------------------------------------------------------

POLARS_TYPES: dict[str, pl.DataType] = {
    "number": pl.Float64(), "integer": pl.Int64(), "boolean": pl.Boolean(), "category": pl.String(),
    "string": pl.String(),
}


def frame_of(case: Case, nan_as_none: bool = False) -> pl.DataFrame:
    present = [f for f in case.fields if case.rows and f.name in case.rows[0]]
    columns: dict[str, list[Any]] = {ID: [f"u{i}" for i in range(len(case.rows))]}
    for f in present:
        cells = [row[f.name] for row in case.rows]
        columns[f.name] = [None if nan_as_none and _is_nan(v) else v for v in cells]
    return pl.DataFrame(columns, schema={ID: pl.String(), **{f.name: POLARS_TYPES[f.type] for f in present}})


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def same_value(batch: Any, reference: Any) -> bool:
    if batch is None or reference is None:
        return batch is None and reference is None
    if isinstance(batch, float) or isinstance(reference, float):
        return math.isclose(batch, reference, rel_tol=1e-9, abs_tol=1e-9)
    return bool(batch == reference)


def mismatches(ruleset: CompiledRuleset, case: Case) -> list[str]:
    cohort = Cohort.from_frame(frame_of(case), ruleset.schema, ruleset.id_field)
    frame = ruleset.apply(cohort).frame
    found: list[str] = []
    for i, row in enumerate(case.rows):
        record = {f.name: None if _is_nan(row.get(f.name)) else row.get(f.name) for f in case.fields}
        ref = evaluate_record(ruleset, record)
        got = frame.row(i, named=True)
        where = f"row {i} {record}"
        for name in ruleset.outputs:
            if not same_value(got[name], ref.values[name]):
                found.append(f"{where}: {name} batch={got[name]!r} reference={ref.values[name]!r}")
        for column, rule in ref.rules.items():
            if got[column] != rule:
                found.append(f"{where}: {column} batch={got[column]!r} reference={rule!r}")
        tags = {t for t in ruleset.tags if got[f"tag_{t}"]}
        if tags != ref.tags:
            found.append(f"{where}: tags batch={sorted(tags)} reference={sorted(ref.tags)}")
        eligible = {a for a in ruleset.action_ids if got[f"eligible_{a}"]}
        if eligible != ref.eligible:
            found.append(f"{where}: eligible batch={sorted(eligible)} reference={sorted(ref.eligible)}")
    return found


def check_case(case: Case, folder: Path) -> None:
    ruleset = load_ruleset(case.write(folder))
    found = mismatches(ruleset, case)
    assert not found, case.describe() + "\n" + "\n".join(found[:10])


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], Path]:
    # tmp_path is per test, not per hypothesis example: each example gets a fresh folder from the factory.
    return lambda: tmp_path_factory.mktemp("case")


@given(case=single_rulesets())
def test_random_ruleset_batch_equals_reference(case: Case, folders: Callable[[], Path]) -> None:
    check_case(case, folders())


@given(case=pipelines())
def test_random_pipeline_batch_equals_reference(case: Case, folders: Callable[[], Path]) -> None:
    check_case(case, folders())


def test_has_tag_of_an_unknown_tag_in_an_output_value(folders: Callable[[], Path]) -> None:
    case = Case({"rs.yaml": {
        "ruleset": "rs", "hit_policy": "first", "fields": {"n0": {"type": "number"}},
        "outputs": {"flag": {"type": "boolean"}},
        "rules": [{"id": "r0", "when": "n0 > 0", "then": {"flag": "has_tag('vip')"}}],
        "default": {"flag": "not has_tag('vip')"},
    }}, [FieldDef("n0", "number")], [{"n0": 1.0}, {"n0": -1.0}])
    check_case(case, folders())


@given(case=st.one_of(single_rulesets(), pipelines()))
def test_nan_in_input_is_the_same_as_none(case: Case, folders: Callable[[], Path]) -> None:
    ruleset = load_ruleset(case.write(folders()))
    with_nan = ruleset.apply(Cohort.from_frame(frame_of(case), ruleset.schema, ruleset.id_field)).frame
    with_none = ruleset.apply(Cohort.from_frame(frame_of(case, nan_as_none=True), ruleset.schema,
                                                ruleset.id_field)).frame
    assert_frame_equal(with_nan, with_none)


# ---- expressions on their own: many per example, compared exactly ------------------------------------------

@dataclass(frozen=True)
class ExpressionCase:
    fields: list[FieldDef]
    texts: list[str]
    rows: list[dict[str, Any]]
    tags: list[frozenset[str]]  # each row's upstream tags


@st.composite
def expression_cases(draw: Draw) -> ExpressionCase:
    fields = [replace_required(f) for f in draw(field_defs())]
    names = Names(
        numbers=[f.leaf() for f in fields if f.type in ("number", "integer")],
        booleans=[f.name for f in fields if f.type == "boolean"],
        categories={f.name: f.values for f in fields if f.type == "category"},
        strings=[f.name for f in fields if f.type == "string"],
        tags=list(TAGS),
    )
    grammar = Grammar(draw, names)
    texts = []
    for _ in range(draw(st.integers(8, 16))):
        depth = draw(st.integers(1, 3))
        if draw(st.booleans()):
            texts.append(grammar.number(depth, integer=draw(st.integers(0, 3)) == 0).text)
        else:
            texts.append(grammar.boolean(depth))
    rows = draw(records(fields))
    tags = draw(st.lists(st.frozensets(st.sampled_from(TAGS)), min_size=len(rows), max_size=len(rows)))
    return ExpressionCase(fields, texts, rows, tags)


def replace_required(f: FieldDef) -> FieldDef:
    return FieldDef(f.name, f.type, f.values, f.minimum, f.maximum, f.nullable)


def field_type(f: FieldDef) -> Type:
    if f.type == "category":
        return Type(Kind.CATEGORY, f.values)
    return {"number": NUMBER, "integer": INTEGER, "boolean": BOOLEAN, "string": STRING}[f.type]


def exactly_equal(batch: Any, reference: Any) -> bool:
    if batch is None or reference is None:
        return batch is None and reference is None
    return type(batch) is type(reference) and bool(batch == reference)


@given(case=expression_cases())
def test_random_expressions_batch_equals_reference_exactly(case: ExpressionCase) -> None:
    """Every value, not only the decisions, and to the last bit (types included): both evaluators do the same
    float64 operations, so any difference, however small, is a rule that fires in one and not in the other
    (35 / 100 <= 0.35 is true in Python, and was false in Polars, which multiplied by 1 / 100)."""
    scope = Scope({f.name: field_type(f) for f in case.fields})
    typed = [check(parse_expression(text), scope) for text in case.texts]
    columns: dict[str, list[Any]] = {f.name: [None if _is_nan(r[f.name]) else r[f.name] for r in case.rows]
                                     for f in case.fields}
    schema: dict[str, pl.DataType] = {
        f.name: pl.Enum(list(f.values)) if f.type == "category" else POLARS_TYPES[f.type] for f in case.fields}
    for tag in TAGS:
        columns[tag_column(tag)] = [tag in row_tags for row_tags in case.tags]
        schema[tag_column(tag)] = pl.Boolean()
    frame = pl.DataFrame(columns, schema=schema)
    # Every sub-expression too: a difference inside `x / 7 > y` shows there long before it flips the comparison.
    nodes: dict[str, Expr] = {}  # source text → typed node
    for text, expr in zip(case.texts, typed, strict=True):
        for node in expr.walk():
            if not isinstance(node, Literal):
                nodes.setdefault(text[node.span.start:node.span.end], node)
    # Lazily, as the engine runs its plans: Polars 2.1's eager select can return one row instead of one per row
    # for `0 == (0 if x > 0 else x)` when every row takes the constant branch.
    batch = frame.lazy().select([to_polars(node).alias(f"e{k}") for k, node in enumerate(nodes.values())]).collect()
    found = []
    for i, row_tags in enumerate(case.tags):
        record = {name: values[i] for name, values in columns.items()}
        for k, (text, node) in enumerate(nodes.items()):
            got, want = batch[f"e{k}"][i], evaluate(node, record, row_tags)
            if not exactly_equal(got, want):
                found.append(f"{text}  with {record}: batch={got!r} reference={want!r}")
    assert not found, "\n".join(found[:10])
