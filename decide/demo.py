"""`decide demo`: everything decide does so far, end to end, on shipped rules and generated data."""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl
from rich.console import Console
from rich.table import Table

from decide import render
from decide.example_data import write_cohort
from engine import Cohort, apply_file, explain_user, load_ruleset, run_tests
from engine.explain import render_text

PROJECT = Path(__file__).resolve().parent.parent
RULESETS = PROJECT / "rulesets"
GERMAN_CREDIT = PROJECT.parent / "shared" / "data" / "german-credit" / "german_credit.csv"


def run_demo(console: Console, rows: int, out: Path, seed: int) -> None:
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    cohort_path = out / "cohort.parquet"
    console.rule("1. a synthetic cohort")
    seconds = write_cohort(cohort_path, rows, seed)
    console.print(f"generated {rows:,} users (seed {seed}) → {cohort_path} in {seconds:.2f} s", markup=False)

    console.rule("2. check and test the shipped rules")
    pipeline_path = RULESETS / "marketing.yaml"
    ruleset = load_ruleset(pipeline_path)
    results = run_tests(ruleset)
    failed = [r for r in results if not r.passed]
    rules = sum(len(s.rules) for s in ruleset.stages)
    console.print(
        f"{pipeline_path.name}: {' → '.join(s.name for s in ruleset.stages)}; {rules} rules, "
        f"{len(ruleset.tags)} tags, {len(ruleset.actions)} actions; rule tests: "
        f"{len(results) - len(failed)} passed, {len(failed)} failed",
        markup=False,
    )
    for result in failed:
        console.print(f"FAIL {result.title}: {'; '.join(result.failures)}", style="red", markup=False)

    console.print()
    console.rule("3. apply the pipeline")
    decisions_path = out / "decisions.parquet"
    applied = apply_file(ruleset, cohort_path, decisions_path)
    for table in render.summary_tables(applied.summary):
        console.print(table)
    console.print(f"wrote {decisions_path} ({applied.rows:,} users, {applied.seconds:.2f} s, "
                  f"{applied.rows / max(applied.seconds, 1e-9):,.0f} users/s)", markup=False)

    console.rule("4. explain one user")
    decisions = pl.scan_parquet(decisions_path)
    pick = decisions.filter(pl.col("tier") == "watch").select(ruleset.id_field).head(1).collect()
    if pick.height:
        user = str(pick.item())
        sample = Cohort.from_frame(
            pl.scan_parquet(cohort_path).filter(pl.col(ruleset.id_field) == user).collect(),
            ruleset.schema, ruleset.id_field, str(cohort_path))
        console.print(render_text(explain_user(ruleset, sample, user), ruleset), markup=False)

    if GERMAN_CREDIT.exists():
        console.rule("5. real data: German Credit (UCI), tiers against the observed bad rate")
        german = load_ruleset(RULESETS / "german_credit" / "german_credit.yaml")
        cohort = Cohort.load(GERMAN_CREDIT, german.schema, german.id_field) if german.id_field in pl.read_csv(
            GERMAN_CREDIT, n_rows=0).columns else Cohort.from_frame(
            pl.read_csv(GERMAN_CREDIT).with_row_index(german.id_field).with_columns(
                pl.col(german.id_field).cast(pl.String)), german.schema, german.id_field, str(GERMAN_CREDIT))
        tiers = german.apply(cohort).frame.with_columns(
            bad=pl.read_csv(GERMAN_CREDIT)["class"] == 2)
        table = Table(title="German Credit: applicants and bad rate per tier", title_justify="left")
        for column in ("tier", "applicants", "bad rate"):
            table.add_column(column, justify="right" if column != "tier" else "left")
        for tier, count, bad in tiers.group_by("tier").agg(pl.len(), pl.col("bad").mean()).sort("tier").iter_rows():
            table.add_row(str(tier), f"{count:,}", f"{bad:.1%}")
        console.print(table)
    console.print(f"demo finished in {time.perf_counter() - started:.1f} s; files in {out}/", markup=False)
