"""`decide optimize`: rules → allocation problem → solve → check → write, with a summary a planner reads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich import box
from rich.console import Console
from rich.table import Table

from decide import render
from engine import Cohort
from engine.atomic_write import atomic_path
from engine.cohort import CohortError, CohortProblem
from optimizer import solvers
from optimizer.allocation import Allocation, SolveStatus
from optimizer.build_problem import PlanModel, build_problem, load_plan
from optimizer.feasibility import check_feasible
from optimizer.frontier import FrontierPoint, frontier, grid
from optimizer.model_export import export_model
from optimizer.plan_conflicts import explain_plan
from optimizer.plan_file import Objective
from optimizer.plan_summary import PlanSummary, allocation_frame, summarize_plan
from optimizer.problem import AllocationProblem
from optimizer.ratio_objective import solve_ratio
from optimizer.solve_lagrangian import LagrangianOptions, LagrangianSolver, Progress
from optimizer.solvers import AUTO, EXACT_MAX_USERS


class PlanNotSolved(Exception):
    pass


def _solver(problem: AllocationProblem, method: str, time_limit: float, gap: float,
            progress: Progress) -> Callable[[AllocationProblem], Allocation]:
    """The Lagrangian with the planner's gap target, or a registered solver (auto: exact under the watchdog)."""
    if method == "lagrangian" or (method == AUTO and problem.users > EXACT_MAX_USERS):
        return LagrangianSolver(LagrangianOptions(gap=gap, time_limit=time_limit), progress).solve
    name = solvers.auto_method(problem, time_limit) if method == AUTO else method
    progress(f"solving exactly with {name} ({problem.users:,} users, at most {time_limit:,.0f} s)")
    return lambda p: solvers.solve(p, method, time_limit)


def solve_plan(model: PlanModel, method: str, time_limit: float, gap: float,
               progress: Progress | None = None) -> tuple[PlanSummary, pl.DataFrame]:
    problem = model.problem
    solve = _solver(problem, method, time_limit, gap, progress or (lambda _: None))
    if model.loaded.plan.objective is Objective.ROI:
        allocation = solve_ratio(problem, model.measures.spend, solve).allocation
    else:
        allocation = solve(problem)
    if allocation.status in (SolveStatus.INFEASIBLE, SolveStatus.NO_SOLUTION):
        raise PlanNotSolved(_why_not(model, allocation.status, allocation.message))
    violations = check_feasible(problem, allocation.action)
    if violations:  # never write a plan our own checker rejects, whatever the solver said
        raise PlanNotSolved("the solver's plan fails the feasibility check: " +
                            "; ".join(v.message for v in violations))
    frame = allocation_frame(model, allocation)
    return summarize_plan(model, allocation, frame), frame


def _why_not(model: PlanModel, status: SolveStatus, message: str) -> str:
    """The conflicting constraints, each at its place in the plan file, or the solver's own words."""
    lines = explain_plan(model)
    if not lines:
        reason = message or "the constraints conflict jointly; no pair of them alone explains it"
        return f"{model.loaded.path}: {status.value}: {reason}"
    return "\n".join(lines)


def print_headline(console: Console, summary: PlanSummary) -> None:
    console.print(
        f"{summary.plan}: {summary.users:,} users, {summary.method} → {summary.status}; objective "
        f"{summary.objective:,.0f}, bound {summary.bound:,.0f}, gap {summary.gap:.4%}, {summary.seconds:.2f} s",
        markup=False)


def print_summary(console: Console, summary: PlanSummary) -> None:
    print_headline(console, summary)
    channels = Table(title="per channel", title_justify="left")
    for column in ("channel", "contacts", "spend", "exp. responses", "exp. loans", "exp. profit"):
        channels.add_column(column, justify="left" if column == "channel" else "right")
    for line in summary.channels:
        channels.add_row(line.channel, f"{line.contacts:,}", f"{line.spend:,.0f}", f"{line.responses:,.1f}",
                         f"{line.loans:,.1f}", f"{line.profit:,.0f}")
    console.print(channels)
    limits = Table(title="constraints: use and price (marginal value of one more unit)", title_justify="left")
    for column in ("constraint", "used", "limit", "use", "price"):
        limits.add_column(column, justify="left" if column == "constraint" else "right")
    for c in summary.constraints:
        if c.share:
            limits.add_row(c.name, f"{c.used:.1%} share", f"{c.sense} {c.limit:.1%}", "-", f"{c.price:,.4g}")
            continue
        use = f"{c.used / c.limit:.1%}" if c.limit else "-"
        limits.add_row(c.name, f"{c.used:,.1f}", f"{c.sense} {c.limit:,.1f}", use, f"{c.price:,.4g}")
    console.print(limits)
    if summary.shifts:
        console.print(shift_table(summary))
    if summary.unknown_terms:
        console.print(f"note: {summary.unknown_terms:,} (user, action) pairs had a missing term and were not "
                      "offered", markup=False)


def shift_table(summary: PlanSummary) -> Table:
    """Per shift: the contacts of each channel scheduled in it, and how full each of its capacities is.

    The amounts and prices of the capacities are the `resource@shift` rows of the constraints table.
    """
    # No vertical rules, so that three channels and two capacities still fit 80 columns (like the frontier).
    table = Table(title="per shift: contacts, and use of each capacity", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("shift")
    table.add_column("hours")
    for channel in summary.shifts[0].channels:
        table.add_column(channel.channel, justify="right")
    for capacity in summary.shifts[0].capacity:
        table.add_column(capacity.resource, justify="right")
    for line in summary.shifts:
        table.add_row(line.shift, line.hours, *(f"{c.contacts:,}" for c in line.channels),
                      *(f"{c.used / c.limit:.1%}" if c.limit else "-" for c in line.capacity))
    return table


def optimize(
    plan: Annotated[Path, typer.Option(help="plan file (YAML)", show_default=False)],
    cohort: Annotated[Path, typer.Option(help="cohort: .csv, .parquet or a folder of .parquet", show_default=False)],
    out: Annotated[Path | None, typer.Option(help="allocation to write: .parquet or .csv", show_default=False)] = None,
    method: Annotated[str, typer.Option(
        help="auto, lagrangian, exact-highs, exact-scip, exact-cpsat or exact-pulp")] = AUTO,
    time_limit: Annotated[float, typer.Option(help="seconds")] = 300.0,
    gap: Annotated[float, typer.Option(help="target certified gap for the lagrangian method")] = 1e-4,
    export: Annotated[Path | None, typer.Option(
        help="also write the integer program to this .lp or .mps file, for a planner's own solver",
        show_default=False)] = None,
) -> None:
    """Allocate channel budget and call-centre capacity across users to maximise expected profit.

    Applies the plan's rules to the cohort (eligibility, tiers, tags), builds the integer program, solves it
    (exactly up to 20,000 users, by Lagrangian decomposition with a certified gap beyond), checks the plan
    with an independent feasibility checker, and writes one row per user.

    Example: decide optimize --plan plans/spring_campaign.yaml --cohort out/demo/cohort.parquet --out allocation.parquet

    Example: decide optimize --plan plans/spring_campaign.yaml --cohort cohort.parquet --export model.mps
    """
    console = render.console()
    with render.user_errors(console):
        methods = [AUTO, *(info.name for info in solvers.REGISTRY)]
        if method not in methods:
            raise CohortError("--method", [CohortProblem("bad-option", "method", (
                f"unknown method '{method}'; methods: {', '.join(methods)}"))])
        if out is None and export is None:
            raise CohortError("decide optimize", [CohortProblem("bad-option", "out", "give --out, --export or both")])
        if out is not None and out.suffix.lower() not in (".parquet", ".csv"):
            raise CohortError(str(out), [CohortProblem("bad-output", "-", "the output must end in .parquet or .csv")])
        if export is not None and export.suffix.lower() not in (".lp", ".mps"):
            raise CohortError(str(export), [CohortProblem("bad-output", "-", "the model must end in .lp or .mps")])
        with render.console(stderr=True).status("loading the plan") as status:
            loaded = load_plan(plan)
            status.update(f"loading {cohort}")
            users = Cohort.load(cohort, loaded.schema, loaded.rules.id_field)
            status.update(f"applying {loaded.rules.path} to {users.height:,} users")
            decisions = loaded.rules.apply(users)
            status.update("building the integer program")
            model = build_problem(loaded, users, decisions)
            if export is not None:
                with atomic_path(export) as tmp:
                    export_model(model.problem, tmp)
                console.print(f"wrote {export} ({model.problem.users:,} users × {model.problem.actions} actions, "
                              f"{model.problem.constraints} constraints)", markup=False)
            if out is None:  # only the model was asked for
                return
            summary, frame = _solve_or_exit(console, model, method, time_limit, gap, status.update)
        with atomic_path(out) as tmp:
            if out.suffix.lower() == ".csv":
                frame.with_columns(pl.col(pl.Enum).cast(pl.String)).write_csv(tmp)
            else:
                frame.write_parquet(tmp)
    print_summary(console, summary)
    console.print(f"wrote {out}", markup=False)


def _solve_or_exit(console: Console, model: PlanModel, method: str, time_limit: float, gap: float,
                   progress: Progress) -> tuple[PlanSummary, pl.DataFrame]:
    try:
        return solve_plan(model, method, time_limit, gap, progress)
    except PlanNotSolved as err:
        console.print(str(err), markup=False)
        console.print("no plan was written", markup=False)
        raise typer.Exit(render.USER_ERROR) from None


def frontier_command(
    plan: Annotated[Path, typer.Option(help="plan file (YAML)", show_default=False)],
    cohort: Annotated[Path, typer.Option(help="cohort: .csv, .parquet or a folder of .parquet", show_default=False)],
    constraint: Annotated[str, typer.Option(help="the limit to vary, by its name in the plan", show_default=False)],
    low: Annotated[float, typer.Option("--from", help="first limit", show_default=False)],
    high: Annotated[float, typer.Option("--to", help="last limit", show_default=False)],
    steps: Annotated[int, typer.Option(help="points on the grid")] = 6,
    gap: Annotated[float, typer.Option(help="target certified gap per point")] = 1e-4,
) -> None:
    """Expected profit, loans and loss against one limit (a budget, a capacity) over a grid: the what-if.

    Each point is solved with its own certified gap; each warm-starts the next from its prices.

    Example: decide frontier --plan plans/spring_campaign.yaml --cohort out/demo/cohort.parquet
    --constraint total_budget --from 50000 --to 300000 --steps 6
    """
    console = render.console()
    with render.user_errors(console):
        loaded = load_plan(plan)
        names = list(loaded.constraint_names)  # the plan's constraints, then each shift's capacities
        if constraint not in names:
            raise CohortError("--constraint", [CohortProblem("bad-option", "constraint", (
                f"no constraint '{constraint}' in {loaded.path}; constraints: {', '.join(names)}"))])
        users = Cohort.load(cohort, loaded.schema, loaded.rules.id_field)
        model = build_problem(loaded, users, loaded.rules.apply(users))
        points = frontier(model.problem, names.index(constraint), grid(low, high, steps),
                          LagrangianOptions(gap=gap))
    console.print(frontier_table(model, constraint, names.index(constraint), points))


def frontier_table(model: PlanModel, name: str, k: int, points: list[FrontierPoint]) -> Table:
    """Profit with its certified gap, loans, loss, contacts and the limit's price at each point."""
    table = Table(title=f"{model.loaded.plan.plan}: expected figures against the limit of {name}",
                  title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    # The gap certifies each profit (bound = profit / (1 − gap)); the bound itself would not fit 80 columns.
    for column in ("limit", "profit", "gap", "loans", "loss", "contacts", "price"):
        table.add_column(column, justify="right")
    for point in points:
        a = point.allocation
        if a.status in (SolveStatus.INFEASIBLE, SolveStatus.NO_SOLUTION):
            table.add_row(f"{point.limit:,.0f}", a.status.value, "", "", "", "", "")
            continue
        loans = model.problem.objective_of_rows(model.measures.loans, a.action)
        loss = model.problem.objective_of_rows(model.measures.loss, a.action)
        table.add_row(f"{point.limit:,.0f}", f"{a.objective:,.0f}", f"{a.gap:.3%}",
                      f"{loans:,.1f}", f"{loss:,.0f}", f"{int((a.action >= 0).sum()):,}", f"{a.prices[k]:.4g}")
    return table
