"""The online policy of a solved plan: users who arrive after the plan was made get an action at its prices.

`decide optimize --prices prices.json` keeps what the policy needs: the price of each of the plan's rows as
the solver saw it (per unit of the row: a yuan, a minute, a contact; a share row Σ (num − s·den)·x per unit of
that sum) and, for ROI, the plan's ratio q. A new user then goes through the same rules and the same plan
terms as the cohort did, and takes the action with the best

    v − q·spend − Σ_k λ_k·sign_k·w_k        (q = 0 unless the objective is ROI)

or nothing when no action pays for what it uses (optimizer/online_policy.py): no solver, one vectorised pass.
A price file belongs to one plan: its constraints, in order, must be the plan's, so that a price is never
charged against another limit.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine import RuleFileError
from engine.compiler import Reporter
from engine.diagnostics import Diagnostic, display_path
from engine.yaml_positions import YamlSyntaxError, load_positioned
from optimizer.allocation import Allocation, SolveStatus
from optimizer.build_problem import PlanModel
from optimizer.online_policy import PricePolicy
from optimizer.plan_file import Objective
from optimizer.plan_summary import allocation_frame


class RowPrice(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    sense: Literal["≤", "≥"]
    price: float = Field(ge=0, allow_inf_nan=False)  # per unit of the row as the problem states it


class PriceFile(BaseModel):
    """What `decide optimize --prices` writes and `decide policy` reads (JSON)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    plan: str
    version: str
    objective: Objective
    ratio: float = Field(default=0.0, allow_inf_nan=False)  # ROI: the plan's profit / spend; 0 otherwise
    method: str = ""
    gap: float | None = None  # the plan's certified gap, for the record
    constraints: list[RowPrice]


class PricesUnavailable(Exception):
    """The solve gave no prices (an exact method out of time): there is no policy to write."""


def price_file(model: PlanModel, allocation: Allocation) -> PriceFile:
    """The prices of a solved plan, per unit of each row; for ROI, the last Dinkelbach step's λ and ratio q."""
    problem = model.problem
    if allocation.status in (SolveStatus.INFEASIBLE, SolveStatus.NO_SOLUTION):
        raise PricesUnavailable(f"the solve found no plan ({allocation.status.value})")
    if not allocation.has_prices or allocation.prices.size != problem.constraints:
        raise PricesUnavailable(allocation.prices_note or "the method gave no prices")
    prices = allocation.prices.astype(np.float64)
    ratio = 0.0
    objective = model.loaded.plan.objective
    if objective is Objective.ROI:  # the answer's prices are marginal ROI, λ / D(x): back to λ, and q = N / D
        spend = problem.objective_of_rows(model.measures.spend, allocation.action)
        ratio = allocation.objective / spend if spend > 0 else 0.0
        prices = prices * spend
    rows = [RowPrice(name=name, sense="≤" if sense < 0 else "≥", price=max(float(p), 0.0))
            for name, sense, p in zip(problem.constraint_names, problem.sense, prices, strict=True)]
    gap = allocation.gap if math.isfinite(allocation.gap) else None
    plan = model.loaded.plan
    return PriceFile(plan=plan.plan, version=plan.version, objective=objective, ratio=ratio,
                     method=allocation.method, gap=gap, constraints=rows)


def read_prices(path: str | Path) -> PriceFile:
    """Read a price file; a file that is not one raises RuleFileError at its line and column."""
    shown = display_path(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RuleFileError((Diagnostic("file-not-found", f"no such file: {shown}", shown),)) from None
    try:
        doc = load_positioned(text, shown)  # JSON is YAML: the same positions as a plan file's errors
    except YamlSyntaxError as err:
        raise RuleFileError((err.diagnostic,), {shown: text}) from None
    try:
        return PriceFile.model_validate(doc.data)
    except ValidationError as err:
        report = Reporter(doc)
        report.pydantic(err, PriceFile)
        raise RuleFileError(tuple(report.diagnostics), {shown: text}) from None


def check_prices(model: PlanModel, prices: PriceFile, source: str) -> None:
    """The prices must be this plan's: the same constraints in the same order and senses, the same objective."""
    plan = model.loaded.plan
    problem = model.problem
    expected = [(name, "≤" if sense < 0 else "≥") for name, sense in zip(problem.constraint_names, problem.sense,
                                                                          strict=True)]
    given = [(row.name, row.sense) for row in prices.constraints]
    problems = []
    if prices.objective is not plan.objective:
        problems.append(f"they are for the objective '{prices.objective.value}', the plan's is "
                        f"'{plan.objective.value}'")
    if given != expected:
        problems.append("they price the constraints " + _rows(given) + ", the plan has " + _rows(expected))
    if problems:
        why = "; ".join(problems)
        raise RuleFileError((Diagnostic(
            "prices-not-for-this-plan", f"these prices are not for plan '{plan.plan}' ({model.loaded.path}): {why}",
            source, hint="solve the plan again with `decide optimize --prices`"),))


def _rows(rows: Sequence[tuple[str, str]]) -> str:
    return "[" + ", ".join(f"{name} {sense}" for name, sense in rows) + "]"


def decide_users(model: PlanModel, prices: PriceFile) -> pl.DataFrame:
    """One row per user of the model: the action at the prices (allocation_frame's columns) and its reduced
    value, the margin by which it beat doing nothing at those prices."""
    problem = model.problem
    if prices.ratio:  # ROI: the users' value at the plan's ratio, as in the last Dinkelbach step
        problem = dataclasses.replace(problem, value=problem.value - prices.ratio * model.measures.spend)
    lam = np.asarray([row.price for row in prices.constraints], dtype=np.float64)
    policy = PricePolicy(lam, problem.sense.copy(), problem.action_names)
    action, reduced = policy.best_actions(problem)
    return allocation_frame(model, action).with_columns(pl.Series("reduced_value", reduced))
