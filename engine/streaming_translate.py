"""Rule conditions → durable_rules JSON conditions, plus the recipe for the fact they are matched against.

A rule fires only when its `when` is **true** (docs/rule-language.md): missing never fires. durable_rules has
no three-valued logic, so we never translate an expression "as is"; we translate two questions about it:

    T(e): a durable condition that matches exactly when e is true
    F(e): a durable condition that matches exactly when e is false

and the rule is `{"all": [{"m": T(when)}]}`. Under Kleene logic these compose without ever naming "missing":

    T(a and b) = T(a) $and T(b)      F(a and b) = F(a) $or F(b)
    T(a or b)  = T(a) $or T(b)       F(a or b)  = F(a) $and F(b)
    T(not a)   = F(a)                F(not a)   = T(a)          (De Morgan, pushed down to the leaves)
    T(x < y)   = x < y               F(x < y)   = x >= y        (every comparison flips: == ↔ !=, < ↔ >=, …)
    T(x in L)  = $or of x == l       F(x in L)  = $and of x != l
    T(b)       = b == true           F(b)       = b == false    (a boolean field)
    T(is_missing(x)) = x == null     F(is_missing(x)) = x != null
    T(between(x, lo, hi)) = x >= lo $and x <= hi; F = (x < lo $or x > hi) $and all three present

This is exact because a comparison with a missing operand is neither true nor false, and durable never
matches a comparison of `null` with a literal (not even `$neq`, measured). Between two attributes durable
does match `null == null` and `x != null`, and its arithmetic on `null` reads garbage, so whenever the right
side of a comparison is not a literal we add presence guards `{"$neq": {"a": null}}` for every attribute it
reads (and `{"$neq": {"d": 0.0}}` for a field divisor: division by zero is missing).

What durable expresses natively (docs/json/reference.md, "Simple Filter" and "Facts and Events as
rvalues"; src/rules/rete.c): an attribute on the left, compared ($lt $lte $gt $gte $neq, equality as
`{"a": v}`) with a literal, another attribute of the same fact (`{"$m": "b"}`), or arithmetic
`$add $sub $mul $div` with `$l`/`$r` operands; `$and`/`$or`. So `x > y * 2 + z` stays native; `-y` is
`y * -1`; `x / d` is native when `d` is a field or a non-zero literal.

Everything else is computed in Python with the reference scalar evaluator and sent as an extra attribute
of the fact, so that durable still does the matching: function calls (min, log, coalesce, …), `if-else`,
`%`, has_tag (as `__tag_<name>`), any comparison whose left side is not a field (`a + b > 100` sends
`__e0 = a + b` and matches `__e0 > 100.0`), and, when a rule needs more than MAX_GATES `$and`/`$or`, its
largest and/or sub-expressions (durable appends two entries per gate to a rule's expression sequence of at
most 32, MAX_SEQUENCE_EXPRESSIONS in rete.h: a 16th gate is error 113). Derived values and earlier outputs
are in the record's scope already: they are plain attributes.

The fact holds only the attributes the conditions read, missing ones as explicit `null`; durable refuses a
fact of more than 254 properties (error 302), and its matching walks the alpha network (one node per test,
one per `$or`) with a stack of 64 (error 303 when more tests match at once): rules are packed into as many
durable rulesets (DurableProgram.parts) as these limits need, each matched against its own fact; a stage is
usually one part.

Numbers are all sent as floats and numeric literals written as floats, so durable always compares doubles
(its integer `$div` by zero kills the process). Integers are exact up to 2**53, as in Polars' Float64 casts;
NaN is sent as missing (as the cohort loader does) and ±infinity as ±max float (JSON has no infinity).
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.compiled import RulesetStage
from engine.expression_ast import (
    BOOLEAN,
    Binary,
    BoolOp,
    Call,
    Compare,
    Expr,
    InList,
    Kind,
    Literal,
    Name,
    Unary,
)
from engine.expression_scalar import evaluate
from engine.functions import Value

FactValue = float | str | bool | None
Json = dict[str, Any]

MAX_GATES = 15  # $and/$or per rule condition: durable refuses a 16th (error 113, measured)
MAX_FACT_ATTRIBUTES = 250  # durable refuses a fact of more than 254 properties (error 302); id, sid, __fact
MAX_ALPHA_NODES = 64  # durable's matching walks the alpha network with a 64-entry stack (error 303, measured)
CONSTANT_KEY = "__fact"  # every fact has "__fact": true, for conditions that always or never match
_RESERVED_KEYS = frozenset({"id", "sid", CONSTANT_KEY})  # durable's message id and session id

_OPERATORS = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte", "!=": "$neq"}  # "==" is {"a": v}
_MIRRORED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}  # a < b  ⇔  b > a
_NEGATED = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}  # not (a < b) ⇔ a >= b
_ARITHMETIC = {"+": "$add", "-": "$sub", "*": "$mul", "/": "$div"}
_NUMERIC = (Kind.NUMBER, Kind.INTEGER)


# ---- durable conditions, simplified as they are built -----------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Test:
    json: Json


@dataclass(frozen=True, slots=True)
class _Gate:
    op: str  # "$and" | "$or"
    parts: tuple[_Cond, ...]


_Cond = _Test | _Gate
ALWAYS = _Gate("$and", ())  # the empty conjunction; never written as such (an empty $and hangs durable)
NEVER = _Gate("$or", ())


def _gate(op: str, parts: Sequence[_Cond]) -> _Cond:
    unit, zero = (ALWAYS, NEVER) if op == "$and" else (NEVER, ALWAYS)
    flat: list[_Cond] = []
    for part in parts:
        if part == zero:
            return zero
        if part == unit:
            continue
        if isinstance(part, _Gate) and part.op == op:
            flat.extend(part.parts)
        elif part not in flat:
            flat.append(part)
    if not flat:
        return unit
    return flat[0] if len(flat) == 1 else _Gate(op, tuple(flat))


def _to_json(cond: _Cond) -> Json:
    if cond == ALWAYS:
        return {CONSTANT_KEY: True}
    if cond == NEVER:
        return {CONSTANT_KEY: False}
    if isinstance(cond, _Test):
        return cond.json
    return {cond.op: [_to_json(part) for part in cond.parts]}


def gate_count(cond: _Cond | Json | list[Any]) -> int:
    """The `$and`/`$or` gates of a condition (a _Cond, or its JSON)."""
    if isinstance(cond, _Gate):
        return (1 if cond.parts else 0) + sum(gate_count(p) for p in cond.parts)
    if isinstance(cond, dict):
        return sum(gate_count(v) + (1 if k in ("$and", "$or") else 0) for k, v in cond.items())
    if isinstance(cond, list):
        return sum(gate_count(v) for v in cond)
    return 0


def alpha_nodes(condition: Json) -> int:
    """An upper bound on the alpha nodes durable builds for a condition: one per test and one per `$or`
    (its forward node). Nodes are shared between identical tests, so the real count may be lower."""
    for op in ("$and", "$or"):
        if op in condition:
            return (op == "$or") + sum(alpha_nodes(part) for part in condition[op])
    return 1


def _present(key: str) -> _Cond:
    return _Test({"$neq": {key: None}})


# ---- the fact --------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Attribute:
    """One attribute of the fact: a field, derived value or earlier output read from the record's scope (a
    Name), or a sub-expression durable cannot express, computed with the reference scalar evaluator."""

    key: str
    expr: Expr

    @property
    def computed(self) -> bool:
        return not isinstance(self.expr, Name)


def fact_value(value: Value, kind: Kind) -> FactValue:
    """A value as durable must see it: numbers as finite floats, missing (and NaN) as None."""
    if value is None:
        return None
    if kind in _NUMERIC:
        number = float(value)
        if math.isnan(number):
            return None
        if math.isinf(number):
            return math.copysign(sys.float_info.max, number)
        return number
    return value


@dataclass(frozen=True)
class DurableRuleset:
    """One durable_rules ruleset definition, and how to build the fact its conditions read."""

    name: str
    definition: dict[str, Json]  # rule key → {"all": [{"m": condition}]}
    attributes: tuple[Attribute, ...]

    def fact(self, scope: Mapping[str, Value], tags: frozenset[str] | set[str] = frozenset()) -> dict[str, FactValue]:
        out: dict[str, FactValue] = {CONSTANT_KEY: True}
        for attribute in self.attributes:
            expr = attribute.expr
            raw = scope.get(expr.name) if isinstance(expr, Name) else evaluate(expr, scope, tags)
            out[attribute.key] = fact_value(raw, expr.t.kind)
        return out


@dataclass(frozen=True)
class DurableProgram:
    """Conditions translated for durable_rules: usually one ruleset; more when the conditions read more
    attributes than one fact can hold (MAX_FACT_ATTRIBUTES), each with the rules whose attributes fit."""

    name: str
    rule_keys: tuple[str, ...]  # in the order of the conditions given
    parts: tuple[DurableRuleset, ...]

    @property
    def definition(self) -> dict[str, Json]:
        """Every rule's durable antecedent, whichever part holds it."""
        return {key: rule for part in self.parts for key, rule in part.definition.items()}

    @property
    def attributes(self) -> tuple[Attribute, ...]:
        return tuple({a.key: a for part in self.parts for a in part.attributes}.values())

    @property
    def computed(self) -> tuple[Attribute, ...]:
        """The sub-expressions durable could not express natively (evaluated in Python, matched by durable)."""
        return tuple(a for a in self.attributes if a.computed)


# ---- translation -----------------------------------------------------------------------------------------

def _literal_value(value: Value, kind: Kind) -> FactValue:
    return fact_value(value, Kind.NUMBER if kind in _NUMERIC else kind)


def _shape(expr: Expr) -> tuple[Any, ...]:
    """What an expression computes, hashable, whatever its position in the text (spans are left out), so that
    `x + y` written twice is sent once."""
    out: list[Any] = [type(expr).__name__]
    for item in dataclasses.fields(expr):
        if item.name in ("span", "type"):
            continue
        value = getattr(expr, item.name)
        if isinstance(value, Expr):
            out.append(_shape(value))
        elif isinstance(value, tuple):
            out.append(tuple(_shape(v) if isinstance(v, Expr) else v for v in value))
        else:
            out.append((type(value).__name__, value))  # 1, 1.0 and True are different literals
    return tuple(out)


def _is_constant(expr: Expr) -> bool:
    return not any(isinstance(n, Name) or (isinstance(n, Call) and n.func == "has_tag") for n in expr.walk())


def _between(expr: Call, want: bool) -> Expr:
    """between(x, lo, hi) is missing when any argument is; as comparisons: T = x >= lo and x <= hi, and
    F = (x < lo or x > hi) and "x, lo are present" and "x, hi are present", where "x, lo are present" is
    exactly "x < lo or x >= lo" (a comparison is true or false only when both sides are present)."""
    x, lo, hi = expr.args

    def both(op: str, left: Expr, right: Expr) -> Expr:
        return Compare(op, left, right, type=BOOLEAN)

    def gate(op: str, *operands: Expr) -> Expr:
        return BoolOp(op, operands, type=BOOLEAN)

    if want:
        return gate("and", both(">=", x, lo), both("<=", x, hi))
    below, above = both("<", x, lo), both(">", x, hi)
    return gate("and", gate("or", below, above), gate("or", below, both(">=", x, lo)),
                gate("or", above, both("<=", x, hi)))


class _Translator:
    def __init__(self) -> None:
        self.attributes: dict[str, Attribute] = {}
        self._keys: dict[tuple[Any, ...], str] = {}  # _shape(expr) → its attribute
        self._computed: set[tuple[Any, ...]] = set()  # boolean parts sent as attributes, to stay under MAX_GATES
        self._used: set[str] = set()  # the attribute keys of the rule being translated

    def _save(self) -> tuple[dict[str, Attribute], dict[tuple[Any, ...], str], set[str]]:
        return dict(self.attributes), dict(self._keys), set(self._used)

    def _restore(self, saved: tuple[dict[str, Attribute], dict[tuple[Any, ...], str], set[str]]) -> None:
        self.attributes, self._keys, self._used = saved

    def rule(self, when: Expr) -> tuple[_Cond, frozenset[str]]:
        """T(when), with as few sub-expressions computed in Python as durable's gate limit allows, and the
        attribute keys it reads."""
        self._computed = set()
        while True:
            self._used = set()
            saved = self._save()
            cond = self.condition(when, True)
            if gate_count(cond) <= MAX_GATES:
                return cond, frozenset(self._used)
            self._restore(saved)
            self._computed.add(_shape(self._largest_part(when)))

    def _largest_part(self, when: Expr) -> Expr:
        """The proper boolean sub-expression of `when` whose translation has the most gates."""
        best: tuple[int, Expr] | None = None
        pending = list(when.children())
        while pending:
            node = pending.pop(0)
            if _shape(node) in self._computed or node.t.kind is not Kind.BOOLEAN:
                continue
            saved = self._save()
            gates = max(gate_count(self.condition(node, want)) for want in (True, False))
            self._restore(saved)
            if best is None or gates > best[0]:
                best = (gates, node)
            pending.extend(node.children())
        assert best is not None and best[0] > 0, "a condition over the gate limit has a part with gates"
        return best[1]

    # -- attributes
    def key_of(self, expr: Expr) -> str:
        """The fact attribute holding `expr`: a field under its own name, anything else computed."""
        if isinstance(expr, Name):
            key = f"__f_{expr.name}" if expr.name in _RESERVED_KEYS else expr.name
            self.attributes.setdefault(key, Attribute(key, expr))
            self._used.add(key)
            return key
        shape = _shape(expr)
        found = self._keys.get(shape)
        if found is not None:
            self._used.add(found)
            return found
        if isinstance(expr, Call) and expr.func == "has_tag" and isinstance(expr.args[0], Literal):
            key = f"__tag_{expr.args[0].value}"
        else:
            key = f"__e{sum(1 for a in self.attributes.values() if a.computed)}"
        self._keys[shape] = key
        self.attributes[key] = Attribute(key, expr)
        self._used.add(key)
        return key

    # -- conditions
    def condition(self, expr: Expr, want: bool) -> _Cond:
        """T(expr) when `want` is True, F(expr) otherwise (see the module docstring)."""
        if _shape(expr) in self._computed:
            return _Test({self.key_of(expr): want})
        if _is_constant(expr):
            value = evaluate(expr, {}, frozenset())
            return ALWAYS if value is want else NEVER
        if isinstance(expr, Unary) and expr.op == "not":
            return self.condition(expr.operand, not want)
        if isinstance(expr, BoolOp):
            conjunction = (expr.op == "and") == want
            parts = [self.condition(o, want) for o in expr.operands]
            return _gate("$and" if conjunction else "$or", parts)
        if isinstance(expr, Compare):
            return self._compare(expr.op if want else _NEGATED[expr.op], expr.left, expr.right)
        if isinstance(expr, InList):
            return self._in_list(expr, want)
        if isinstance(expr, Call) and expr.func == "between":
            return self.condition(_between(expr, want), True)
        if isinstance(expr, Call) and expr.func == "is_missing" and isinstance(expr.args[0], Name):
            key = self.key_of(expr.args[0])
            return _Test({key: None}) if want else _present(key)
        # A boolean field, or anything durable cannot express: an attribute that must be true (or false).
        return _Test({self.key_of(expr): want})

    def _compare(self, op: str, left: Expr, right: Expr) -> _Cond:
        if isinstance(left, Literal) or (not isinstance(left, Name) and isinstance(right, Name)):
            op, left, right = _MIRRORED[op], right, left
        key = self.key_of(left)
        if _is_constant(right):
            value = evaluate(right, {}, frozenset())
            if value is None:
                return NEVER  # compared with a missing constant (1 / 0): never true, never false
            rvalue: Any = _literal_value(value, left.t.kind)
            guards: list[_Cond] = []
        else:
            rvalue, guards = self._operand(right)
            guards = [_present(key), *guards]
        test = _Test({key: rvalue} if op == "==" else {_OPERATORS[op]: {key: rvalue}})
        return _gate("$and", [test, *guards])

    def _operand(self, expr: Expr) -> tuple[Any, list[_Cond]]:
        """The right side of a comparison as durable JSON, and the guards that make it present."""
        if _is_constant(expr):
            value = evaluate(expr, {}, frozenset())
            if value is not None:
                return _literal_value(value, expr.t.kind), []
        elif isinstance(expr, Binary) and expr.op in _ARITHMETIC:
            native = expr.op != "/" or isinstance(expr.right, Name) or (
                _is_constant(expr.right) and evaluate(expr.right, {}, frozenset()) not in (None, 0))
            if native:
                left, left_guards = self._operand(expr.left)
                right, right_guards = self._operand(expr.right)
                guards = left_guards + right_guards
                if expr.op == "/" and isinstance(expr.right, Name):
                    guards.append(_Test({"$neq": {self.key_of(expr.right): 0.0}}))
                return {_ARITHMETIC[expr.op]: {"$l": left, "$r": right}}, guards
        elif isinstance(expr, Unary) and expr.op in "+-" and expr.t.kind in _NUMERIC:
            operand, guards = self._operand(expr.operand)
            return (operand if expr.op == "+" else {"$mul": {"$l": operand, "$r": -1.0}}), guards
        key = self.key_of(expr)
        return {"$m": key}, [_present(key)]

    def _in_list(self, expr: InList, want: bool) -> _Cond:
        key = self.key_of(expr.operand)
        kind = expr.operand.t.kind
        values = list(dict.fromkeys(_literal_value(item.value, kind) for item in expr.items))
        if want != expr.negated:  # "is in the list" is the question
            return _gate("$or", [_Test({key: v}) for v in values])
        return _gate("$and", [_Test({"$neq": {key: v}}) for v in values])


def translate_conditions(name: str, conditions: Sequence[tuple[str, Expr]]) -> DurableProgram:
    """Rule `key` fires exactly when its boolean expression is true."""
    translator = _Translator()
    rules: dict[str, tuple[Json, frozenset[str]]] = {}
    for key, when in conditions:
        if key in rules:
            raise ValueError(f"rule key '{key}' is given twice")
        cond, keys = translator.rule(when)
        condition = _to_json(cond)
        if len(keys) > MAX_FACT_ATTRIBUTES or alpha_nodes(condition) > MAX_ALPHA_NODES:
            computed = translator.key_of(when)  # too big for durable on its own: it matches the value only
            condition, keys = {computed: True}, frozenset({computed})
        rules[key] = (condition, keys)
    # Rules go to the first part where they fit: a fact holds at most MAX_FACT_ATTRIBUTES attributes, and a
    # part has at most MAX_ALPHA_NODES tests (all of them may match one fact).
    groups: list[tuple[list[str], set[str], int]] = []
    for key, (condition, keys) in rules.items():
        nodes = alpha_nodes(condition)
        index = next((i for i, (_, used, count) in enumerate(groups)
                      if len(used | keys) <= MAX_FACT_ATTRIBUTES and count + nodes <= MAX_ALPHA_NODES), None)
        if index is None:
            groups.append(([], set(), 0))
            index = len(groups) - 1
        members, used, count = groups[index]
        groups[index] = ([*members, key], used | keys, count + nodes)
    parts = tuple(
        DurableRuleset(
            name if len(groups) == 1 else f"{name}#{i}",
            {key: {"all": [{"m": rules[key][0]}]} for key in members},
            tuple(a for k, a in translator.attributes.items() if k in used),
        )
        for i, (members, used, _) in enumerate(groups)
    )
    return DurableProgram(name, tuple(rules), parts)


def translate_stage(stage: RulesetStage, prefix: str = "") -> DurableProgram:
    """A ruleset stage's rules, keyed by rule id, in the stage's evaluation order."""
    return translate_conditions(f"{prefix}{stage.name}", [(rule.id, rule.when) for rule in stage.rules])
