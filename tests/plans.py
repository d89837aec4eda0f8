"""The shipped plans as tests use them: written next to a test's files with their rules found from there, and
with a few pieces of text replaced; and the model a plan builds on a cohort."""

from __future__ import annotations

from pathlib import Path

from engine import Cohort
from optimizer.build_problem import PlanModel, build_problem, load_plan

ROOT = Path(__file__).resolve().parents[1]
SPRING = ROOT / "plans" / "spring_campaign.yaml"
SHIFTS = ROOT / "plans" / "spring_campaign_shifts.yaml"
RULES = ROOT / "rulesets" / "marketing.yaml"


def write_plan(folder: Path, *replacements: tuple[str, str], source: Path = SPRING, name: str = "plan.yaml",
               small: bool = True) -> Path:
    """`source` in `folder`, each (old, new) replacing the first `old`, which must be there. The shipped plans are
    sized for 200,000 users; `small` scales their minimum of 3,000 prime telesales contacts to 40, for the
    tests' cohorts of a few thousand."""
    text = source.read_text(encoding="utf-8").replace("rules: ../rulesets/marketing.yaml", f"rules: {RULES}")
    for old, new in ((("    min: 3000", "    min: 40"),) if small else ()) + replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def plan_model(plan: Path, cohort: Path) -> PlanModel:
    loaded = load_plan(plan)
    users = Cohort.load(cohort, loaded.schema, loaded.rules.id_field)
    return build_problem(loaded, users, loaded.rules.apply(users))
