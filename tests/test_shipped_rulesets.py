"""The rulesets we ship are the product's first impression: they load cleanly, their tests pass, they run on
the synthetic cohort, and the German Credit tiers order the real bad rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from decide.demo import german_credit_bad_rates
from engine import Cohort, evaluate_record, load_ruleset, run_tests
from simulations.synthetic_cohort import COHORT_FIELDS, generate_cohort

ROOT = Path(__file__).resolve().parents[1]
RULESETS = ROOT / "rulesets"
SHIPPED = sorted(RULESETS.rglob("*.yaml"))
GERMAN_CREDIT = ROOT.parent / "shared" / "data" / "german-credit" / "german_credit.csv"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(RULESETS)))
def test_loads_without_warnings_and_its_tests_pass(path: Path) -> None:
    ruleset = load_ruleset(path)
    assert ruleset.warnings == ()
    results = run_tests(ruleset)
    assert results, f"{path.name} has no tests"
    assert [r.title for r in results if not r.passed] == []


def test_pipeline_shape() -> None:
    ruleset = load_ruleset(RULESETS / "marketing.yaml")
    assert [s.name for s in ruleset.stages] == ["fraud", "risk_tiers", "tags", "contact_policy", "channel_eligibility"]
    assert ruleset.outputs["tier"].values == ("reject", "watch", "potential", "prime")
    assert len(ruleset.tags) >= 21
    assert set(ruleset.schema) <= set(COHORT_FIELDS)


def test_synthetic_cohort_fits_the_pipeline_and_batch_equals_reference() -> None:
    ruleset = load_ruleset(RULESETS / "marketing.yaml")
    frame = generate_cohort(3_000, np.random.default_rng(11))
    cohort = Cohort.from_frame(frame, ruleset.schema, ruleset.id_field)
    decisions = ruleset.apply(cohort)
    summary = decisions.summary()
    assert summary.users == 3_000
    assert all(count > 0 for count in summary.tiers.values()), summary.tiers
    for record, row in zip(cohort.frame.head(600).iter_rows(named=True), decisions.frame.iter_rows(named=True),
                           strict=False):
        expected = evaluate_record(ruleset, record)
        assert row["tier"] == expected.values["tier"]
        assert row["tier_rule"] == expected.rules["tier_rule"]
        assert {t for t in ruleset.tags if row[f"tag_{t}"]} == expected.tags
        assert {a for a in ruleset.action_ids if row[f"eligible_{a}"]} == expected.eligible


def test_generator_is_seeded() -> None:
    a = generate_cohort(500, np.random.default_rng(5))
    b = generate_cohort(500, np.random.default_rng(5))
    c = generate_cohort(500, np.random.default_rng(6))
    assert a.equals(b)
    assert not a.equals(c)


@pytest.mark.skipif(not GERMAN_CREDIT.exists(), reason="../shared/data/german-credit is not beside the project")
def test_german_credit_tiers_order_the_real_bad_rate() -> None:
    rates = german_credit_bad_rates(RULESETS / "german_credit" / "german_credit.yaml", GERMAN_CREDIT)
    by_tier = {tier: (n, bad) for tier, n, bad in rates.iter_rows()}
    assert sum(n for n, _ in by_tier.values()) == 1_000
    ordered = [by_tier[t][1] for t in ("prime", "potential", "watch", "reject")]
    assert ordered == sorted(ordered), by_tier
    assert all(n >= 50 for n, _ in by_tier.values())
    # The file's overall bad rate is 30 %: prime must be well below it and reject well above it.
    assert by_tier["prime"][1] < 0.15 < 0.5 < by_tier["reject"][1]
