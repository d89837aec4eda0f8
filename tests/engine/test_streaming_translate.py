"""Rule conditions → durable_rules JSON: what is native, what is computed, how missing values are kept out."""

from __future__ import annotations

import math
import sys
from typing import Any

import pytest

from engine.evaluate_durable import DurableMatcher
from engine.expression_ast import BOOLEAN, INTEGER, NUMBER, STRING, Expr, Kind, Type
from engine.expression_parser import parse_expression
from engine.expression_types import Scope, check
from engine.streaming_host import StreamingHost
from engine.streaming_translate import (
    MAX_ALPHA_NODES,
    alpha_nodes,
    fact_value,
    translate_conditions,
)

SCOPE: dict[str, Type] = {
    "credit_score": NUMBER, "overdue_12m": INTEGER, "income": NUMBER, "debt": NUMBER, "on_blacklist": BOOLEAN,
    "city": STRING, "tier": Type(Kind.CATEGORY, ("reject", "watch", "prime")), "id": INTEGER,
}


def _when(text: str) -> Expr:
    return check(parse_expression(text), Scope(SCOPE, None))


def _condition(text: str) -> Any:
    return translate_conditions("t", [("r", _when(text))]).definition["r"]["all"][0]["m"]


@pytest.mark.parametrize(("text", "condition"), [
    pytest.param("credit_score >= 700 and overdue_12m == 0",
                 {"$and": [{"$gte": {"credit_score": 700.0}}, {"overdue_12m": 0.0}]}, id="and-of-literals"),
    pytest.param("not (income > 5000)", {"$lte": {"income": 5000.0}}, id="not-flips-the-comparison"),
    pytest.param("not (on_blacklist or city == '北京')",
                 {"$and": [{"on_blacklist": False}, {"$neq": {"city": "北京"}}]}, id="de-morgan"),
    pytest.param("5000 < income", {"$gt": {"income": 5000.0}}, id="literal-on-the-left"),
    pytest.param("tier in ['watch', 'prime']", {"$or": [{"tier": "watch"}, {"tier": "prime"}]}, id="in"),
    pytest.param("tier not in ['reject']", {"$neq": {"tier": "reject"}}, id="not-in"),
    pytest.param("300 <= credit_score < 700",
                 {"$and": [{"$gte": {"credit_score": 300.0}}, {"$lt": {"credit_score": 700.0}}]}, id="chained"),
    pytest.param("is_missing(credit_score)", {"credit_score": None}, id="is-missing"),
    pytest.param("not is_missing(credit_score)", {"$neq": {"credit_score": None}}, id="is-present"),
    pytest.param("debt > income * 0.8",
                 {"$and": [{"$gt": {"debt": {"$mul": {"$l": {"$m": "income"}, "$r": 0.8}}}},
                           {"$neq": {"debt": None}}, {"$neq": {"income": None}}]}, id="arithmetic-with-guards"),
    pytest.param("debt / income <= 0.4", {"$lte": {"__e0": 0.4}}, id="left-side-computed"),
    pytest.param("income >= -debt",
                 {"$and": [{"$gte": {"income": {"$mul": {"$l": {"$m": "debt"}, "$r": -1.0}}}},
                           {"$neq": {"income": None}}, {"$neq": {"debt": None}}]}, id="unary-minus"),
    pytest.param("id == 3", {"__f_id": 3.0}, id="durable-reserved-name"),
    pytest.param("true", {"__fact": True}, id="always"),
    pytest.param("false and on_blacklist", {"__fact": False}, id="never"),
    pytest.param("has_tag('多头') or on_blacklist", {"$or": [{"__tag_多头": True}, {"on_blacklist": True}]},
                 id="has-tag"),
])
def test_translation(text: str, condition: Any) -> None:
    assert _condition(text) == condition


def test_computed_parts_are_evaluated_into_the_fact() -> None:
    program = translate_conditions("t", [
        ("prime", _when("income >= (8000 if overdue_12m == 0 else 5000) and log(income) > 8")),
        ("tagged", _when("has_tag('vip')")),
        ("again", _when("log(income) > 9")),
    ])
    assert [a.key for a in program.computed] == ["__e0", "__e1", "__tag_vip"]  # log(income) is sent once
    fact = program.parts[0].fact({"income": 9000, "overdue_12m": None}, {"vip"})
    assert fact == {"__fact": True, "income": 9000.0, "__e0": 5000.0, "__e1": math.log(9000), "__tag_vip": True}


def test_fact_values() -> None:
    assert fact_value(3, Kind.INTEGER) == 3.0 and isinstance(fact_value(3, Kind.INTEGER), float)
    assert fact_value(float("nan"), Kind.NUMBER) is None
    assert fact_value(-math.inf, Kind.NUMBER) == -sys.float_info.max
    assert fact_value(None, Kind.STRING) is None
    assert fact_value("风险", Kind.STRING) == "风险"


def test_many_rules_are_split_into_parts(streaming_host: StreamingHost) -> None:
    """durable's alpha walk holds 64 nodes: 150 distinct tests that all match one fact need several parts."""
    program = translate_conditions("t", [(f"r{i}", _when(f"income > {i}")) for i in range(150)])
    assert len(program.parts) == 3
    assert all(sum(alpha_nodes(r["all"][0]["m"]) for r in p.definition.values()) <= MAX_ALPHA_NODES
               for p in program.parts)
    matcher = DurableMatcher(program, streaming_host)
    assert matcher.fired({"income": 1000.0}) == {f"r{i}" for i in range(150)}
    assert matcher.fired({"income": 99.5}) == {f"r{i}" for i in range(100)}
    assert matcher.fired({"income": None}) == frozenset()
