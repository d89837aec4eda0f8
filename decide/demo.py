"""`decide demo`: everything decide does so far, end to end, on shipped rules and generated data."""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl
from rich.console import Console
from rich.table import Table

from decide import render
from decide.example_data import write_cohort
from decide.optimize_commands import (
    apart_text,
    frontier_table,
    plan_model,
    print_headline,
    print_summary,
    shift_table,
    solve_plan,
    write_frame,
)
from decide.policy_commands import action_table
from engine import Cohort, apply_file, explain_user, load_ruleset, run_tests
from engine.atomic_write import atomic_path
from engine.explain import render_text
from optimizer.build_problem import load_plan
from optimizer.feasibility import check_feasible
from optimizer.frontier import grid
from optimizer.plan_policy import decide_users, price_file
from optimizer.plan_solve import plan_frontier
from optimizer.solve_lagrangian import LagrangianOptions, solve_lagrangian
from simulations.lender_book import lender_book

PROJECT = Path(__file__).resolve().parent.parent
RULESETS = PROJECT / "rulesets"
PLANS = PROJECT / "plans"
ARRIVALS = 1_000  # users who arrive after the plan: step 8
BOOK = (100_000, 4, 20_000.0)  # step 9: users, business clients among them, how many times a retail borrower
BOOK_PLAIN_SECONDS = 10.0  # step 9's comparison: the same solve without deciding them apart, this long
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
    # A prime user a telesales agent may call: the most rules and tags to show.
    pick = decisions.filter((pl.col("tier") == "prime") & pl.col("eligible_telesales")).select(
        ruleset.id_field).head(1).collect()
    if pick.height:
        user = str(pick.item())
        sample = Cohort.from_frame(
            pl.scan_parquet(cohort_path).filter(pl.col(ruleset.id_field) == user).collect(),
            ruleset.schema, ruleset.id_field, str(cohort_path))
        console.print(render_text(explain_user(ruleset, sample, user), ruleset), markup=False)

    console.rule("5. allocate the spring campaign's budget and call-centre capacity")
    plan_path = PLANS / "spring_campaign.yaml"
    loaded = load_plan(plan_path)
    # The decisions of step 3, read back as `decide optimize --decisions` does: the rules are not applied twice.
    model = plan_model(loaded, cohort_path, decisions_path, lambda _: None)
    read = [name for name in loaded.plan_schema() if name != loaded.rules.id_field]
    console.print(f"the plan reads the decisions of step 3 ({decisions_path}) and, of the cohort, "
                  f"{', '.join(read) or 'only the user ids'}", markup=False)
    solved = solve_plan(model, "auto", time_limit=120.0, gap=1e-4)
    allocation_path, prices_path = out / "allocation.parquet", out / "prices.json"
    write_frame(solved.frame, allocation_path)
    prices = price_file(model, solved.allocation)
    with atomic_path(prices_path) as tmp:
        tmp.write_text(prices.model_dump_json(indent=2), encoding="utf-8")
    print_summary(console, solved.summary)
    console.print(f"wrote {allocation_path} and {prices_path}", markup=False)

    console.rule("6. what if the budget were different? the frontier, each point certified")
    budget = loaded.constraint_names.index("total_budget")
    limit = float(model.problem.rhs[budget])
    points = plan_frontier(model, budget, grid(0.5 * limit, 1.5 * limit, 5), "lagrangian", 120.0, 1e-4,
                           candidates=[solved.allocation.action])  # step 5's plan is one of the points
    console.print(frontier_table(model, "total_budget", budget, points))

    console.rule("7. the same campaign with agents and voice-bot lines staffed per shift")
    shifts = load_plan(PLANS / "spring_campaign_shifts.yaml")
    shift_model = plan_model(shifts, cohort_path, decisions_path, lambda _: None)
    shift_summary = solve_plan(shift_model, "auto", time_limit=120.0, gap=1e-4).summary
    print_headline(console, shift_summary)
    console.print(shift_table(shift_summary))

    console.rule("8. users who arrive later, decided at the plan's prices (decide policy)")
    arrivals_path = out / "arrivals.parquet"
    write_cohort(arrivals_path, ARRIVALS, seed + 1)
    arrivals = plan_model(loaded, arrivals_path, None, lambda _: None)
    deciding = time.perf_counter()
    decided = decide_users(arrivals, prices)
    console.print(f"{ARRIVALS:,} new users (seed {seed + 1}) through the rules and the plan's terms, decided at "
                  f"the prices of step 5 in {(time.perf_counter() - deciding) * 1e3:,.1f} ms", markup=False)
    console.print(action_table(decided))

    console.rule("9. your own value model through the Python API: a lender's book with a few business clients")
    lender_book_step(console, seed)

    if GERMAN_CREDIT.exists():
        console.rule("10. real data: German Credit (UCI), tiers against the observed bad rate")
        console.print(german_credit_table(RULESETS / "german_credit" / "german_credit.yaml", GERMAN_CREDIT))
    console.print(f"demo finished in {time.perf_counter() - started:.1f} s; files in {out}/", markup=False)


def lender_book_step(console: Console, seed: int) -> None:
    """Arrays in, a plan out (AllocationProblem, solve_lagrangian): a book whose few business clients each take a
    visible share of the limits, the case the LP's rounding splits and the solver decides apart."""
    users, clients, factor = BOOK
    problem, business = lender_book(users, clients, factor, seed)
    allocation = solve_lagrangian(problem, LagrangianOptions(time_limit=120.0))
    if check_feasible(problem, allocation.action):  # the solver checks its plans; the demo shows it does
        raise RuntimeError("the lender's book plan failed the feasibility check")
    console.print(f"lender_book({users:,}, clients={clients}, factor={factor:,.0f}, seed={seed}): "
                  f"{problem.actions} actions, {problem.constraints} limits; {allocation.status.value}, profit "
                  f"{allocation.objective:,.0f} (bound {allocation.bound:,.0f}, gap {allocation.gap:.4%})"
                  f"{apart_text(allocation.apart)}; {allocation.seconds:.2f} s", markup=False)
    table = Table(title="the business clients: the action each was given, and its share of each limit",
                  title_justify="left")
    for column in ("user", "action", "profit", *(name.replace("_", " ") for name in problem.constraint_names)):
        table.add_column(column, justify="left" if column in ("user", "action") else "right")  # names wrap
    for user in business:
        action = int(allocation.action[user])
        if action < 0:
            table.add_row(f"{user:,}", "none", "0", *("-" for _ in problem.constraint_names))
            continue
        shares = problem.weight[:, user, action] / problem.rhs
        table.add_row(f"{user:,}", problem.action_names[action], f"{problem.value[user, action]:,.0f}",
                      *(f"{share:.1%}" for share in shares))
    console.print(table)
    if allocation.apart:
        # What rounding the LP and the closing rounds make of the same book alone: the case for deciding apart.
        plain = solve_lagrangian(problem, LagrangianOptions(time_limit=BOOK_PLAIN_SECONDS, lumpy_share=0.0))
        gain = allocation.objective / plain.objective - 1
        console.print(f"the same without deciding them apart (lumpy_share=0, {BOOK_PLAIN_SECONDS:.0f} s): profit "
                      f"{plain.objective:,.0f} (gap {plain.gap:.4%}), {gain:+.2%} with them apart", markup=False)


def german_credit_bad_rates(rules: Path, data: Path) -> pl.DataFrame:
    """Applicants and observed bad rate (class == 2) per tier, tiers in their declared order."""
    ruleset = load_ruleset(rules)
    cohort = Cohort.load(data, ruleset.schema, ruleset.id_field, row_ids=True)
    outcome = pl.read_csv(data, columns=["class"])
    tiers = ruleset.apply(cohort).frame.select("tier").with_columns(bad=outcome["class"] == 2)
    return tiers.group_by("tier").agg(applicants=pl.len(), bad_rate=pl.col("bad").mean()).sort("tier")


def german_credit_table(rules: Path, data: Path) -> Table:
    table = Table(title="German Credit: applicants and observed bad rate per tier", title_justify="left")
    for column in ("tier", "applicants", "bad rate"):
        table.add_column(column, justify="left" if column == "tier" else "right")
    for tier, count, bad in german_credit_bad_rates(rules, data).iter_rows():
        table.add_row(str(tier), f"{count:,}", f"{bad:.1%}")
    return table
