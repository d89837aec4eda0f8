"""durable_rules (through DurableEvaluator) decides exactly what the reference evaluator decides.

Two oracles: whole rulesets (collect, first, priority, tags, allow/block, derived values, a pipeline of the
three) on a few hundred seeded random records with missing values everywhere; and seeded random rule
conditions, each with its negation, so that durable must tell true, false and missing apart for every
operator, nesting and null pattern.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from engine.compiled import FieldInfo
from engine.evaluate_durable import DurableEvaluator, DurableMatcher
from engine.evaluate_reference import RecordDecision, evaluate_record
from engine.expression_ast import BOOLEAN, INTEGER, NUMBER, STRING, Expr, Kind, Type, Unary
from engine.expression_parser import parse_expression
from engine.expression_scalar import evaluate
from engine.expression_types import Scope, check
from engine.functions import Value
from engine.pipeline import CompiledRuleset, load_ruleset
from engine.streaming_host import StreamingHost
from engine.streaming_translate import MAX_GATES, gate_count, translate_conditions

RULESETS = Path(__file__).parent / "rulesets"
SEED = 20261124
RECORDS = 400
UPSTREAM_TAGS = ("blocked", "heavy_debt", "shopping_around", "student", "unverified", "big_city")

# Values near the rules' thresholds, so that boundaries and equalities are hit often.
POOLS: dict[str, list[Value]] = {
    "age": [18, 24, 25, 29, 30, 35, 36, 60],
    "monthly_income": [0.0, 999.5, 3000.0, 5000.0, 7999.99, 8000.0, 12000.0, 30000.0],
    "monthly_debt": [0.0, 400.0, 2400.0, 3200.0, 4000.0, 6400.0, 9000.0],
    "loan_inquiries_30d": [0, 2, 3, 7, 8, 10, 20, 21],
    "credit_score": [300.0, 449.9, 450.0, 599.0, 600.0, 679.5, 680.0, 720.0, 800.0],
    "overdue_12m": [0, 0, 0, 1, 3, 4],
    "city_tier": [1, 2, 3, 4],
    "debt_ratio": [0.0, 0.3, 0.4, 0.41, 0.5, 0.6, 0.61, 1.2],
    "credit_limit": [0.0, 1000.0, 2999.0, 3000.0, 5000.0, 36000.0],
    "city": ["北京", "上海", "深圳", "成都", "Beijing"],
    "on_blacklist": [False, False, False, False, False, True],
    "phone_verified": [True, True, True, True, False],
}


def random_value(name: str, info: FieldInfo, rng: random.Random) -> Value:
    if info.nullable and rng.random() < 0.15:
        return None
    pool = POOLS.get(name)
    if pool is not None and rng.random() < 0.7:
        return rng.choice(pool)
    kind = info.type.kind
    if kind is Kind.BOOLEAN:
        return rng.random() < 0.5
    if kind is Kind.CATEGORY:
        return rng.choice(info.type.values)
    if kind is Kind.STRING:
        return rng.choice(POOLS.get(name, ["甲", "乙"]))
    low = info.minimum if info.minimum is not None else 0.0
    high = info.maximum if info.maximum is not None else max(low + 100.0, 50000.0)
    if kind is Kind.INTEGER:
        allowed = [v for v in info.allowed or () if isinstance(v, int)]
        return rng.choice(allowed) if allowed else rng.randint(int(low), int(min(high, low + 40)))
    return round(rng.uniform(low, high), 2)


def random_records(ruleset: CompiledRuleset, count: int, seed: int) -> list[tuple[dict[str, Value], frozenset[str]]]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        record = {name: random_value(name, info, rng) for name, info in ruleset.schema.items()}
        tags = frozenset(t for t in UPSTREAM_TAGS if rng.random() < 0.1)
        out.append((record, tags))
    return out


def _decision(d: RecordDecision) -> dict[str, Any]:
    return {"values": d.values, "rules": d.rules, "tags": d.tags, "eligible": d.eligible, "derived": d.derived,
            "defaults_applied": d.defaults_applied}


@pytest.mark.parametrize("file", ["screening.yaml", "tiers.yaml", "offers.yaml", "pipeline.yaml"])
def test_durable_decides_as_the_reference(file: str, streaming_host: StreamingHost) -> None:
    ruleset = load_ruleset(RULESETS / file)
    evaluator = DurableEvaluator(ruleset, streaming_host)
    seen_rules: set[str] = set()
    for record, tags in random_records(ruleset, RECORDS, SEED):
        expected = evaluate_record(ruleset, record, tags)
        got = evaluator.evaluate_record(record, tags)
        assert _decision(got) == _decision(expected), f"{file}: record {record}, tags {sorted(tags)}"
        seen_rules.update(expected.rules.values())
        seen_rules.update(t for t in expected.tags if t not in tags)
    # The records reach most outcomes: every rule of a first/priority ruleset decides at least once.
    for stage in ruleset.stages:
        if stage.decides_one:
            assert {r.id for r in stage.rules} | {"default"} <= seen_rules, f"{stage.name}: outcomes never reached"


def test_durable_on_two_users_checked_by_hand(streaming_host: StreamingHost) -> None:
    ruleset = load_ruleset(RULESETS / "pipeline.yaml")
    evaluator = DurableEvaluator(ruleset, streaming_host)
    prime: dict[str, Value] = {"age": 28, "monthly_income": 12000.0, "monthly_debt": 1200.0, "on_blacklist": False,
                               "phone_verified": True, "occupation": "office", "city": "上海",
                               "loan_inquiries_30d": 1, "credit_score": 720.0, "overdue_12m": 0, "city_tier": 1,
                               "channel_pref": "phone"}
    decision = evaluator.evaluate_record(prime)
    assert decision.values == {"risk_note": "无", "inquiry_score": None, "tier": "prime", "credit_limit": 36000.0,
                               "offer_rate": 0.059, "offer_name": "尊享"}
    assert decision.rules == {"tier_rule": "prime", "offers_rule": "vip_phone"}
    assert decision.tags == {"big_city", "vip"}
    assert decision.eligible == {"sms", "telesales", "telesales_coupon", "app_push"}
    # Missing evidence never fires a rule: no blacklist answer, no verification answer, no score.
    unknown: dict[str, Value] = dict.fromkeys(ruleset.schema)
    unknown.update(age=40, channel_pref="sms")
    decision = evaluator.evaluate_record(unknown)
    assert decision.tags == set()
    assert decision.rules == {"tier_rule": "thin_file", "offers_rule": "default"}
    assert decision.values["tier"] == "potential"
    assert decision.eligible == {"app_push"}  # only the screening default allowed something


# ---- random conditions -----------------------------------------------------------------------------------

SCOPE: dict[str, Type] = {
    "x": NUMBER, "y": NUMBER, "n": INTEGER, "m": INTEGER, "p": BOOLEAN, "q": BOOLEAN,
    "c": Type(Kind.CATEGORY, ("a", "b", "丙")), "s": STRING,
}
DOMAIN: dict[str, list[Value]] = {
    "x": [None, -2.0, 0.0, 1.5, 2.0, 3.0, 7.25], "y": [None, -2.0, 0.0, 1.5, 2.0, 3.0, 7.25],
    "n": [None, -1, 0, 1, 2, 3, 4], "m": [None, -1, 0, 1, 2, 3, 4],
    "p": [None, True, False], "q": [None, True, False],
    "c": [None, "a", "b", "丙"], "s": [None, "甲", "乙", "a"],
}
NUMERIC_TERMS = ["x", "y", "n", "m", "-2", "0", "1.5", "3", "x + y", "n * 2", "x - n", "y / x", "x / 2", "n % 3",
                 "-x", "abs(x - 1)", "coalesce(x, 0)", "min(x, n)", "(x if p else y)", "round(y)", "y * x - n",
                 "n / m", "x / (y - 2)"]
LEAVES = ["c == 'a'", "c != '丙'", "c in ['a', '丙']", "c not in ['b']", "s == '甲'", "s in ['甲', '乙']",
          "c == s", "s != c", "p", "q", "p == q", "p != true", "is_missing(x)", "is_missing(x + n)",
          "between(n, 0, 3)", "between(x, y, 5)", "has_tag('t1')", "true", "false", "0 <= n < 3",
          "-1 < x <= y", "n in [0, 2, 4]", "n not in [1, 3]", "x in [1.5, 3]", "coalesce(p, false)"]


def _numeric_comparison(rng: random.Random) -> str:
    return f"{rng.choice(NUMERIC_TERMS)} {rng.choice(['<', '<=', '>', '>=', '==', '!='])} {rng.choice(NUMERIC_TERMS)}"


def random_condition(rng: random.Random, depth: int) -> str:
    if depth == 0 or rng.random() < 0.25:
        return _numeric_comparison(rng) if rng.random() < 0.55 else rng.choice(LEAVES)
    shape = rng.random()
    if shape < 0.2:
        return f"not ({random_condition(rng, depth - 1)})"
    op = "and" if shape < 0.6 else "or"
    parts = [random_condition(rng, depth - 1) for _ in range(rng.choice([2, 2, 3]))]
    return "(" + f" {op} ".join(parts) + ")"


def deep_condition(levels: int) -> str:
    """and/or alternating `levels` deep: deeper than durable accepts, so the translator must compute some."""
    text = "x > 1"
    for level in range(levels):
        text = f"({text} {'or' if level % 2 else 'and'} {NUMERIC_TERMS[level % len(NUMERIC_TERMS)]} != {level})"
    return text


def compile_condition(text: str) -> Expr:
    return check(parse_expression(text), Scope(SCOPE, None))


def _truth(value: Value) -> str:
    return {True: "true", False: "false"}.get(value, "missing")  # type: ignore[arg-type]


def test_random_conditions_true_false_and_missing(streaming_host: StreamingHost) -> None:
    rng = random.Random(SEED)
    texts = [random_condition(rng, depth=4) for _ in range(120)] + [deep_condition(MAX_GATES + 6)] + LEAVES
    conditions = [compile_condition(t) for t in texts]
    rules: list[tuple[str, Expr]] = []
    for i, expr in enumerate(conditions):
        rules += [(f"t{i}", expr), (f"f{i}", Unary("not", expr, type=BOOLEAN))]
    program = translate_conditions("random_conditions", rules)
    assert program.computed, "some sub-expressions (min, if-else, %, has_tag, …) are computed in Python"
    assert len(program.parts) > 1, "more attributes than one durable fact holds: the rules are split"
    matcher = DurableMatcher(program, streaming_host)
    outcomes: dict[str, set[str]] = {"true": set(), "false": set(), "missing": set()}
    for _ in range(300):
        record: dict[str, Value] = {k: rng.choice(v) for k, v in DOMAIN.items()}
        tags = frozenset({"t1"}) if rng.random() < 0.5 else frozenset()
        fired = matcher.fired(record, tags)
        for i, (text, expr) in enumerate(zip(texts, conditions, strict=True)):
            expected = _truth(evaluate(expr, record, tags))
            got = {(True, False): "true", (False, True): "false", (False, False): "missing"}.get(
                (f"t{i}" in fired, f"f{i}" in fired), "both")
            assert got == expected, f"{text} on {record}, tags {sorted(tags)}: durable {got}, reference {expected}"
            outcomes[expected].add(text)
    assert all(len(texts_seen) > 40 for texts_seen in outcomes.values()), {k: len(v) for k, v in outcomes.items()}


def test_big_conditions_stay_under_durables_gate_limit(streaming_host: StreamingHost) -> None:
    """durable refuses a rule with a 16th $and/$or (error 113): the largest parts are computed in Python."""
    rng = random.Random(SEED + 1)
    texts = [deep_condition(MAX_GATES + 6)] + [random_condition(rng, depth=5) for _ in range(30)]
    program = translate_conditions("big", [(f"r{i}", compile_condition(t)) for i, t in enumerate(texts)])
    assert max(gate_count(rule) for rule in program.definition.values()) <= MAX_GATES
    assert any(a.expr.t.kind is Kind.BOOLEAN and a.computed for a in program.attributes)
    assert DurableMatcher(program, streaming_host).registered  # durable accepted every part
