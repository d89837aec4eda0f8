"""`decide policy`: users who arrive after the plan was made get the action at its prices, without a solve."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import numpy as np
import polars as pl
import typer
from rich.table import Table

from decide import options, render
from decide.optimize_commands import limits_table, plan_model, write_frame
from engine.diagnostics import display_path
from optimizer.allocation import Allocation, SolveStatus
from optimizer.build_problem import PlanModel, load_plan
from optimizer.plan_policy import PriceFile, check_prices, decide_users, read_prices
from optimizer.plan_summary import NONE, ConstraintLine, summarize_plan

SHOWN = 20  # users listed one by one; beyond that, only the counts per action


def policy_command(
    plan: Annotated[Path, typer.Option(help="plan file (YAML): the one the prices were made for",
                                       show_default=False)],
    prices: Annotated[Path, typer.Option(help="the plan's prices: decide optimize --prices prices.json",
                                         show_default=False)],
    cohort: Annotated[Path, typer.Option(help="the new users: .csv, .parquet or a folder of .parquet",
                                         show_default=False)],
    out: Annotated[Path | None, typer.Option(help="actions to write: .parquet or .csv", show_default=False,
                                             callback=options.suffixes(".parquet", ".csv"))] = None,
    decisions: Annotated[Path | None, typer.Option(
        help="the new users' decisions already made, instead of applying the plan's rules", show_default=False)
                         ] = None,
) -> None:
    """Decide for users who arrive after the plan was made, at the plan's prices, without solving.

    Each user gets the action with the best value at the plan's prices (value − Σ price × use), or nothing when
    no action pays for the budget and capacity it takes. This is the plan's online policy (effect-based channel
    pricing): no solver runs, so it takes microseconds per user, and it follows the plan's rules, terms and prices
    exactly. It does not count what earlier arrivals
    used: the prices are what keeps the total near the limits, as long as the arrivals look like the cohort
    the plan was solved for.

    Example: decide optimize --plan plans/spring_campaign.yaml --cohort cohort.parquet --out allocation.parquet
    --prices prices.json

    Example: decide policy --plan plans/spring_campaign.yaml --prices prices.json --cohort new_users.csv
    """
    console = render.console()
    options.not_an_input(out, "--out", {"cohort (--cohort)": cohort, "plan (--plan)": plan,
                                        "prices (--prices)": prices, "decisions (--decisions)": decisions})
    with render.user_errors():
        loaded = load_plan(plan)
        policy = read_prices(prices)
        with render.console(stderr=True).status("loading the new users") as status:
            model = plan_model(loaded, cohort, decisions, status.update)
        check_prices(model, policy, display_path(prices))
        started = time.perf_counter()
        frame = decide_users(model, policy)
        seconds = time.perf_counter() - started
        if out is not None:
            write_frame(frame, out)
    users = frame.height
    gap = f", certified gap {policy.gap:.4%}" if policy.gap is not None else ""
    console.print(f"{users:,} user(s) decided at the prices of {policy.plan} (version {policy.version}, "
                  f"{policy.method or 'solver unknown'}{gap}) in {seconds * 1e3:,.1f} ms", markup=False)
    console.print(action_table(frame))
    lines = limit_lines(model, frame, policy)
    console.print(limits_table(lines, "the new users' use of the plan's limits, and the plan's prices"))
    over = [line.name for line in lines
            if line.sense == "≤" and line.used > line.limit + 1e-9 * max(abs(line.limit), 1.0)]
    if over:
        # A trial's 30,000 arrivals took 2,233 night agent-minutes of the plan's 2,000, and nothing said so.
        console.print(f"note: the new users alone go over the plan's {', '.join(over)}: the prices keep totals near "
                      "the limits only for arrivals like the plan's own cohort, and do not count earlier arrivals; "
                      "decide optimize plans within every limit", markup=False)
    if users <= SHOWN:
        console.print(user_table(frame, model.user_ids.name))
    if out is not None:
        console.print(f"wrote {out}", markup=False)


def limit_lines(model: PlanModel, frame: pl.DataFrame, prices: PriceFile) -> list[ConstraintLine]:
    """What the decided users use of each of the plan's limits (shares as shares), with the plan's prices."""
    problem = model.problem
    index = {name: i for i, name in enumerate(problem.action_names)}
    action = frame["action"].replace_strict(index, default=-1, return_dtype=pl.Int64).to_numpy()
    lam = np.asarray([row.price for row in prices.constraints], dtype=np.float64)
    decided = Allocation(action, problem.objective_of(action), float("inf"), SolveStatus.FEASIBLE, "policy", 0.0, lam)
    return summarize_plan(model, decided, frame).constraints


def action_table(frame: pl.DataFrame) -> Table:
    counts = (frame.group_by("action").agg(pl.len().alias("users"), pl.col("spend").sum(),
                                           pl.col("expected_loans").sum(), pl.col("expected_profit").sum())
              .sort("action"))
    table = Table(title="per action", title_justify="left")
    for column in ("action", "users", "spend", "exp. loans", "exp. profit"):
        table.add_column(column, justify="left" if column == "action" else "right")
    for action, n, spend, loans, profit in counts.iter_rows():
        table.add_row(str(action), f"{n:,}", f"{spend:,.2f}", f"{loans:,.3f}", f"{profit:,.2f}")
    return table


def user_table(frame: pl.DataFrame, id_column: str) -> Table:
    """Each user's action and by how much it beat doing nothing at the prices (its reduced value)."""
    table = Table(title="per user", title_justify="left")
    for column in ("user", "action", "exp. profit", "value at prices"):
        table.add_column(column, justify="left" if column in ("user", "action") else "right")
    for user, action, profit, reduced in frame.select(id_column, "action", "expected_profit",
                                                      "reduced_value").iter_rows():
        table.add_row(str(user), str(action), f"{profit:,.2f}" if action != NONE else "-",
                      f"{reduced:,.2f}" if action != NONE else "-")
    return table
