"""`decide optimize`: rules → allocation problem → solve → check → write, with a summary a planner reads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
import polars as pl
import typer
from rich import box
from rich.console import Console
from rich.table import Table

from decide import options, render
from engine import Cohort, CohortError, CohortProblem
from engine.atomic_write import atomic_path
from engine.cohort import NO_COLUMN, cohort_columns
from engine.decisions_file import load_decisions
from optimizer import solvers
from optimizer.allocation import Allocation, SolveStatus
from optimizer.build_problem import LoadedPlan, PlanModel, build_problem, load_plan
from optimizer.feasibility import check_feasible
from optimizer.frontier import FrontierPoint, grid
from optimizer.infeasibility import amount
from optimizer.model_export import export_model
from optimizer.plan_conflicts import explain_plan
from optimizer.plan_file import Objective
from optimizer.plan_policy import PricesUnavailable, price_file
from optimizer.plan_solve import QUICK_SECONDS, plan_frontier, share_row, solve_objective, warm_solver
from optimizer.plan_summary import (
    ConstraintLine,
    Headline,
    PlanSummary,
    allocation_frame,
    headline,
    limit_prices,
    summarize_plan,
)
from optimizer.solve_exact_highs import LEFT_BEHIND
from optimizer.solve_lagrangian import Progress
from optimizer.solvers import AUTO


class PlanNotSolved(Exception):
    """No plan to write: the plan is infeasible (exit 2), no plan was found in the time limit (exit 3), or the
    solver's plan failed our own check (exit 1: a bug in decide or a solver, never the planner's mistake)."""

    def __init__(self, message: str, exit_code: int = render.USER_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class SolvedPlan:
    summary: PlanSummary
    frame: pl.DataFrame  # one row per user: allocation_frame
    allocation: Allocation


def solve_plan(model: PlanModel, method: str, time_limit: float, gap: float,
               progress: Progress | None = None) -> SolvedPlan:
    problem = model.problem
    solve = warm_solver(problem, method, time_limit, gap, progress)
    allocation = solve_objective(model, problem, solve, quick_seconds=min(QUICK_SECONDS, 0.1 * time_limit))
    if allocation.status is SolveStatus.NO_SOLUTION:  # no plan found: infeasible only if a conflict is proven
        out_of_time = allocation.seconds >= 0.9 * time_limit or "deadline" in allocation.message
        lines = [] if out_of_time else explain_plan(model, integer_proven=False)
        if lines:
            raise PlanNotSolved("\n".join(lines))
        raise PlanNotSolved(_no_plan(model, allocation, time_limit, out_of_time), render.NO_PLAN_IN_TIME)
    if allocation.status is SolveStatus.INFEASIBLE:
        raise PlanNotSolved(_why_not(model, allocation.status, allocation.message))
    violations = check_feasible(problem, allocation.action)
    if violations:  # never write a plan our own checker rejects, whatever the solver said
        raise PlanNotSolved(f"{allocation.method}'s plan fails decide's own feasibility check, so it was not "
                            "written (a bug in the solver or in decide: please report it): " +
                            "; ".join(v.message for v in violations), render.INTERNAL_ERROR)
    frame = allocation_frame(model, allocation.action)
    summary = summarize_plan(model, allocation, frame)
    return SolvedPlan(summary.model_copy(update={"notes": answer_notes(allocation, gap, time_limit)}), frame,
                      allocation)


def answer_notes(allocation: Allocation, gap: float, time_limit: float) -> list[str]:
    """What the headline alone would hide: auto's fallback from an exact method, an exact run left behind past
    its limit, a Lagrangian gap short of the one asked for."""
    notes = []
    first = allocation.message.split(". ")[0]
    if first.startswith("auto:") or first.startswith(LEFT_BEHIND):
        notes.append(first)
    if allocation.method == "lagrangian" and np.isfinite(allocation.gap) and allocation.gap > gap:
        notes.append(f"the gap asked for ({gap:.4%}) was not reached in the time limit ({time_limit:g} s): the "
                     f"plan is certified to {allocation.gap:.4%}; more time (--time-limit) may close it")
    return notes


def _no_plan(model: PlanModel, allocation: Allocation, time_limit: float, out_of_time: bool) -> str:
    """A solver found no plan and no conflict is proven: say so, and what to try; never that it is infeasible."""
    if allocation.method == "lagrangian":
        hint = "give it more time (--time-limit)" if out_of_time else "try an exact method (--method exact-highs)"
    else:
        hint = ("give it more time (--time-limit), or use --method lagrangian, which finds plans for millions of "
                "users in seconds and certifies how far they are from the best")
    why = f" ({allocation.message})" if allocation.message else ""
    stopped = (f"stopped at the time limit of {time_limit:g} s before it found any plan" if out_of_time
               else "found no plan")
    return (f"{model.loaded.path}: no plan found: {allocation.method} {stopped}{why}. That does not prove the plan "
            f"infeasible (no conflict between its limits was found): {hint}")


def _why_not(model: PlanModel, status: SolveStatus, message: str) -> str:
    """The conflicting constraints, each at its place in the plan file, or the solver's own words."""
    lines = explain_plan(model)
    if not lines:
        reason = message or "the constraints conflict jointly; no pair of them alone explains it"
        return f"{model.loaded.path}: {status.value}: {reason}"
    return "\n".join(lines)


_OBJECTIVE_LABEL = {"profit": "profit", "loans": "expected loans", "roi": "ROI"}


def objective_amount(objective: str, x: float) -> str:
    """Yuan to the yuan, loans to a tenth, a ratio to six significant digits."""
    if not np.isfinite(x):
        return "unknown"
    return {"profit": f"{x:,.0f}", "loans": f"{x:,.1f}"}.get(objective, f"{x:,.6g}")


def headline_text(head: Headline) -> str:
    """"profit 26,065 (bound 26,070, gap 0.0192%); spend 558, loans 12.6": the objective with its certificate,
    then the other totals. An unknown bound reads "bound unknown, gap unknown", never inf."""
    certificate = ("bound unknown, gap unknown" if head.bound is None or head.gap is None else
                   f"bound {objective_amount(head.objective, head.bound)}, gap {head.gap:.4%}")
    others = {"profit": f"profit {head.profit:,.0f}", "spend": f"spend {head.spend:,.0f}",
              "loans": f"loans {head.loans:,.1f}"}
    others.pop(head.objective, None)
    return (f"{_OBJECTIVE_LABEL.get(head.objective, head.objective)} {objective_amount(head.objective, head.value)} "
            f"({certificate}); {', '.join(others.values())}")


def apart_text(users: int) -> str:
    """"; 4 lumpy users decided apart" for a headline, "" when none were."""
    return f"; {render.count(users, 'lumpy user')} decided apart" if users else ""


def print_headline(console: Console, summary: PlanSummary) -> None:
    console.print(f"{summary.plan}: {render.count(summary.users, 'user')}, {summary.method} → {summary.status}; "
                  f"{headline_text(summary.headline)}{apart_text(summary.apart)}; {summary.seconds:.2f} s",
                  markup=False)
    for note in summary.notes:
        console.print(f"  note: {note}", markup=False)


def _price(price: float | None, share: bool = False) -> str:
    if price is None:
        return "-"
    return f"{price / 100:,.4g}/pp" if share else f"{price:,.4g}"  # a share's price per percentage point


def print_summary(console: Console, summary: PlanSummary) -> None:
    print_headline(console, summary)
    channels = Table(title="per channel", title_justify="left")
    for column in ("channel", "contacts", "spend", "exp. responses", "exp. loans", "exp. profit"):
        channels.add_column(column, justify="left" if column == "channel" else "right")
    for line in summary.channels:
        channels.add_row(line.channel, f"{line.contacts:,}", f"{line.spend:,.0f}", f"{line.responses:,.1f}",
                         f"{line.loans:,.1f}", f"{line.profit:,.0f}")
    console.print(channels)
    worth = "ROI" if summary.headline.objective == "roi" else "value"
    title = (f"constraints: use and price (marginal {worth} of one more unit)" if not summary.prices_note
             else f"constraints: use ({summary.prices_note})")
    console.print(limits_table(summary.constraints, title))
    if summary.shifts:
        console.print(shift_table(summary))
    if summary.unknown_terms:
        console.print(f"note: {summary.unknown_terms:,} (user, action) pairs had a missing term and were not "
                      "offered", markup=False)
    if summary.headline.objective == "roi" and not any(c.sense == "≥" for c in summary.constraints):
        # Right, and rarely what was meant: with nothing to reach, the best ratio is the best few users' alone.
        contacts = sum(line.contacts for line in summary.channels)
        console.print(f"note: the plan sets no minimum, so the best ROI is that of the few best users ({contacts:,} "
                      "contacts); add a min on spend, contacts or expected loans to ask for the best ROI at a "
                      "scale", markup=False)


def limits_table(constraints: list[ConstraintLine], title: str) -> Table:
    """Each constraint's use against its limit, and its price."""
    limits = Table(title=title, title_justify="left")
    for column in ("constraint", "used", "limit", "use", "price"):
        limits.add_column(column, justify="left" if column == "constraint" else "right")
    for c in constraints:
        if c.share:
            limits.add_row(c.name, f"{c.used:.1%} share", f"{c.sense} {c.limit:.1%}", "-", _price(c.price, share=True))
            continue
        use = f"{c.used / c.limit:.1%}" if c.limit else "-"
        limits.add_row(c.name, f"{c.used:,.1f}", f"{c.sense} {c.limit:,.1f}", use, _price(c.price))
    return limits


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


def _method(value: str) -> str:
    methods = [AUTO, *(info.name for info in solvers.REGISTRY)]
    if value not in methods:
        raise typer.BadParameter(f"unknown method '{value}'; methods: {', '.join(methods)}")
    return value


def optimize(
    plan: Annotated[Path, typer.Option(help="plan file (YAML)", show_default=False)],
    cohort: Annotated[Path, typer.Option(help="cohort: .csv, .parquet or a folder of .parquet", show_default=False)],
    out: Annotated[Path | None, typer.Option(help="allocation to write: .parquet or .csv", show_default=False,
                                             callback=options.suffixes(".parquet", ".csv"))] = None,
    method: Annotated[str, typer.Option(
        help="auto, lagrangian, exact-highs, exact-scip, exact-cpsat or exact-pulp", callback=_method)] = AUTO,
    time_limit: Annotated[float, typer.Option(help="seconds for solving, above 0 (reading the cohort and building "
                                              "the model come on top)", callback=options.seconds)] = 300.0,
    gap: Annotated[float, typer.Option(help="target certified gap for the lagrangian method, between 0 and 1",
                                       callback=options.gap)] = 1e-4,
    export: Annotated[Path | None, typer.Option(
        help="also write the integer program to this .lp or .mps file, for a planner's own solver",
        show_default=False, callback=options.suffixes(".lp", ".mps"))] = None,
    decisions: Annotated[Path | None, typer.Option(
        help="decisions already made (decide rules apply --out): used instead of applying the plan's rules again; "
        "the cohort then needs only the columns the plan reads", show_default=False)] = None,
    prices: Annotated[Path | None, typer.Option(
        help="also write the plan's prices (.json), the online policy for users who arrive later: decide policy",
        show_default=False, callback=options.suffixes(".json"))] = None,
) -> None:
    """Allocate channel budget and call-centre capacity across users to maximise expected profit.

    Applies the plan's rules to the cohort (eligibility, tiers, tags), builds the integer program, solves it
    (exactly up to 5,000 users, by Lagrangian decomposition with a certified gap beyond), checks the plan
    with an independent feasibility checker, and writes one row per user.

    Example: decide optimize --plan plans/spring_campaign.yaml --cohort out/demo/cohort.parquet --out allocation.parquet

    Example: decide optimize --plan plans/spring_campaign.yaml --cohort cohort.parquet --export model.mps

    Exit codes: 0 the plan was written; 2 a mistake in a file or an option, or a plan no allocation can meet
    (the conflicting limits are named); 3 no plan was found within --time-limit (more time, or another method).
    """
    console = render.console()
    if out is None and export is None:
        raise typer.BadParameter("give --out (the allocation), --export (the integer program) or both",
                                 param_hint="'--out' / '--export'")
    if prices is not None and out is None:
        raise typer.BadParameter("the prices come from solving the plan: give --out too", param_hint="'--prices'")
    for option, path in (("--out", out), ("--export", export), ("--prices", prices)):
        options.not_an_input(path, option, {"cohort (--cohort)": cohort, "plan (--plan)": plan,
                                            "decisions (--decisions)": decisions})
    with render.user_errors():
        with render.console(stderr=True).status("loading the plan") as status:
            loaded = load_plan(plan)
            model = plan_model(loaded, cohort, decisions, status.update)
            if export is not None:
                lines = export_comment(model)
                with atomic_path(export) as tmp:
                    export_model(model.problem, tmp, model.user_ids.to_list(), lines)
                console.print(f"wrote {export} ({model.problem.users:,} users × {model.problem.actions} actions, "
                              f"{model.problem.constraints} constraints)", markup=False)
                if model.loaded.plan.objective is Objective.ROI:
                    render.console(stderr=True).print(f"note: {lines[-1]}", markup=False)
            if out is None:  # only the model was asked for
                return
            solved = _solve_or_exit(console, model, method, time_limit, gap, status.update)
        policy = None
        if prices is not None:
            try:
                policy = price_file(model, solved.allocation)
            except PricesUnavailable as err:
                render.console(stderr=True).print(f"no prices were written to {prices}: {err}", markup=False)
        write_frame(solved.frame, out)
        if policy is not None and prices is not None:
            with atomic_path(prices) as tmp:
                tmp.write_text(policy.model_dump_json(indent=2), encoding="utf-8")
    print_summary(console, solved.summary)
    console.print(f"wrote {out}" + (f" and {prices}" if policy is not None else ""), markup=False)


def export_comment(model: PlanModel) -> list[str]:
    """What the exported model is, at the top of the file: the plan, the sizes, the names, the objective."""
    plan, problem = model.loaded.plan, model.problem
    lines = [f"decide: plan {plan.plan} (version {plan.version}), {problem.users:,} users x {problem.actions} actions, "
             f"{problem.constraints} constraints",
             "columns x_<user id>_<action> (1: the user gets the action); rows one_<user id> (at most one action "
             "per user), then the plan's constraints by name"]
    if plan.objective is Objective.ROI:
        lines.append("objective: roi is profit / spend, a ratio that no .lp or .mps file can state: this model "
                     "maximises expected profit within the same constraints; decide optimize finds the best ratio "
                     "by Dinkelbach steps, each this model with value profit - q * spend")
    else:
        lines.append(f"objective: maximise expected {'loans' if plan.objective is Objective.LOANS else 'profit'}")
    return lines


def write_frame(frame: pl.DataFrame, out: Path) -> None:
    """Parquet, or CSV with categories as text; atomically."""
    with atomic_path(out) as tmp:
        if out.suffix.lower() == ".csv":
            frame.with_columns(pl.col(pl.Enum).cast(pl.String)).write_csv(tmp)
        else:
            frame.write_parquet(tmp)


def plan_model(loaded: LoadedPlan, cohort: Path, decisions: Path | None, progress: Progress) -> PlanModel:
    """The cohort, its decisions (the plan's rules applied, or read from `decisions`) and the integer program."""
    if decisions is None:
        progress(f"loading {cohort}")
        users = Cohort.load(cohort, loaded.schema, loaded.rules.id_field)
        progress(f"applying {loaded.rules.path} to {users.height:,} users")
        decided = loaded.rules.apply(users)
    else:
        progress(f"loading {cohort}")
        # With the rules' inputs in the cohort, the decisions are checked against them (engine/decisions_file.py);
        # without, the cohort needs only what the plan reads.
        inputs = {n for n, info in loaded.rules.schema.items() if info.required}
        whole = inputs <= cohort_columns(cohort)
        users = Cohort.load(cohort, loaded.schema if whole else loaded.plan_schema(), loaded.rules.id_field)
        progress(f"loading {decisions}")
        read = load_decisions(decisions, loaded.rules, users)
        notes = render.console(stderr=True)
        if read.ignored:
            notes.print(f"note: {read.ignored:,} decision(s) in {decisions} are for users not in {cohort}; they were "
                        "left out", markup=False)
        if read.unchecked:
            notes.print(f"note: {read.unchecked}", markup=False)
        decided = read.decisions
    if users.height == 0:
        raise CohortError(str(cohort), [CohortProblem("empty-cohort", NO_COLUMN, "the cohort has no users: there is "
                                                                                "nothing to plan")])
    progress("building the integer program")
    return build_problem(loaded, users, decided)


def _solve_or_exit(console: Console, model: PlanModel, method: str, time_limit: float, gap: float,
                   progress: Progress) -> SolvedPlan:
    try:
        return solve_plan(model, method, time_limit, gap, progress)
    except PlanNotSolved as err:
        errors = render.console(stderr=True)
        errors.print(str(err), markup=False)
        errors.print("no plan was written", markup=False)
        raise typer.Exit(err.exit_code) from None


def frontier_command(
    plan: Annotated[Path, typer.Option(help="plan file (YAML)", show_default=False)],
    cohort: Annotated[Path, typer.Option(help="cohort: .csv, .parquet or a folder of .parquet", show_default=False)],
    constraint: Annotated[str, typer.Option(help="the limit to vary, by its name in the plan", show_default=False)],
    low: Annotated[float, typer.Option("--from", help="first limit (a share as 0-1)", show_default=False,
                                       callback=options.finite)],
    high: Annotated[float, typer.Option("--to", help="last limit (a share as 0-1)", show_default=False,
                                        callback=options.finite)],
    steps: Annotated[int, typer.Option(help="points on the grid, 2 or more", min=2)] = 6,
    method: Annotated[str, typer.Option(
        help="auto, lagrangian, exact-highs, exact-scip, exact-cpsat or exact-pulp", callback=_method)] = AUTO,
    time_limit: Annotated[float, typer.Option(help="seconds per point", callback=options.seconds)] = 300.0,
    gap: Annotated[float, typer.Option(help="target certified gap per point (lagrangian), between 0 and 1",
                                       callback=options.gap)] = 1e-4,
    decisions: Annotated[Path | None, typer.Option(
        help="decisions already made (decide rules apply --out), instead of applying the plan's rules again",
        show_default=False)] = None,
) -> None:
    """The plan's objective (profit, loans or ROI), with profit, loans and loss, against one limit over a grid.

    The limit is a budget, a capacity, a loss cap, a minimum or maximum count, or a share (`max_share: 0.15`
    is varied as 0.05 … 0.25). Each point is solved for the plan's objective with its own certified gap; with
    the Lagrangian each warm-starts the next from its prices.

    Example: decide frontier --plan plans/spring_campaign.yaml --cohort out/demo/cohort.parquet
    --constraint total_budget --from 50000 --to 300000 --steps 6
    """
    console = render.console()
    with render.user_errors():
        loaded = load_plan(plan)
        names = list(loaded.constraint_names)  # the plan's constraints, then each shift's capacities
        if constraint not in names:
            raise typer.BadParameter(f"no constraint '{constraint}' in {loaded.path}; constraints: {', '.join(names)}",
                                     param_hint="'--constraint'")
        k = names.index(constraint)
        share = k < len(loaded.plan.constraints) and (loaded.plan.constraints[k].max_share is not None
                                                      or loaded.plan.constraints[k].min_share is not None)
        if share and not (0.0 <= low <= 1.0 and 0.0 <= high <= 1.0):
            raise typer.BadParameter(f"'{constraint}' is a share: give --from and --to between 0 and 1 (0.15 is 15%)",
                                     param_hint="'--from'/'--to'")
        measure = loaded.plan.constraints[k].measure if k < len(loaded.plan.constraints) else "capacity"
        if measure != "profit" and min(low, high) < 0:  # as a plan's own `max: -5` is: [negative-limit]
            raise typer.BadParameter(f"'{constraint}' counts {measure}, which is never negative: a limit below 0 "
                                     "can never be met (as a maximum) or constrains nothing (as a minimum)",
                                     param_hint="'--from'/'--to'")
        with render.console(stderr=True).status("loading the cohort") as status:
            model = plan_model(loaded, cohort, decisions, status.update)
        with render.console(stderr=True).status(f"solving {steps} points") as status:
            points = plan_frontier(model, k, grid(low, high, steps), method, time_limit, gap, status.update)
    console.print(frontier_table(model, constraint, k, points))


def _limit_text(limit: float, share: bool) -> str:
    return f"{limit:.2%}" if share else amount(limit)


def frontier_table(model: PlanModel, name: str, k: int, points: list[FrontierPoint]) -> Table:
    """The objective with its certified gap, the other totals, contacts and the limit's price at each point."""
    objective = model.loaded.plan.objective.value
    share = share_row(model, k) is not None
    table = Table(title=f"{model.loaded.plan.plan}: expected figures against the limit of {name}",
                  title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    # The gap certifies each value (bound = value / (1 − gap)); the bound itself would not fit 80 columns.
    others = {"profit": ("loans", "loss"), "loans": ("profit", "loss"),
              "roi": ("profit", "spend", "loans", "loss")}[objective]
    head = "ROI" if objective == "roi" else objective
    for column in ("limit", head, "gap", *others, "contacts", "price" + ("/pp" if share else "")):
        # "infeasible" and "no solution" go in the objective's column: never cut them to "infeasib…".
        table.add_column(column, justify="right", min_width=11 if column == head else None)
    for point in points:
        a = point.allocation
        if a.status in (SolveStatus.INFEASIBLE, SolveStatus.NO_SOLUTION):
            table.add_row(_limit_text(point.limit, share), a.status.value, *[""] * (len(others) + 3))
            continue
        figures = headline(model, a)
        prices = limit_prices(model, a)
        price = "-" if prices is None else f"{prices[k] / (100 if share else 1):.4g}"
        totals = {"profit": f"{figures.profit:,.0f}", "spend": f"{figures.spend:,.0f}",
                  "loans": f"{figures.loans:,.1f}", "loss": f"{figures.loss:,.0f}"}
        table.add_row(_limit_text(point.limit, share), objective_amount(objective, figures.value),
                      "unknown" if figures.gap is None else f"{figures.gap:.3%}", *(totals[c] for c in others),
                      f"{int((a.action >= 0).sum()):,}", price)
    return table
