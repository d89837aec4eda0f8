"""What a planner reads after a solve: objective, bound, gap, per channel figures, capacity use and prices."""

from __future__ import annotations

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict

from optimizer.allocation import Allocation
from optimizer.build_problem import PlanModel

NONE = "none"


class ChannelLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    channel: str
    contacts: int
    spend: float
    responses: float
    loans: float
    profit: float


class ConstraintLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    sense: str  # "≤" or "≥"
    used: float
    limit: float
    price: float  # the marginal value of one more unit of the limit (0 when slack)
    share: bool = False  # used and limit are shares (0-1) of the measure, not amounts


class PlanSummary(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    plan: str
    users: int
    status: str
    method: str
    objective: float
    bound: float
    gap: float
    seconds: float
    channels: list[ChannelLine]
    constraints: list[ConstraintLine]
    unknown_terms: int


def allocation_frame(model: PlanModel, allocation: Allocation) -> pl.DataFrame:
    """One row per user: the action taken (or "none") and its expected figures."""
    problem, m = model.problem, model.measures
    action = allocation.action
    taken = action >= 0
    rows = np.arange(problem.users)
    col = np.where(taken, action, 0)

    def pick(matrix: np.ndarray) -> np.ndarray:
        return np.where(taken, matrix[rows, col], 0.0) if problem.actions else np.zeros(problem.users)

    names = [*problem.action_names, NONE]
    channels = sorted({*model.channels, NONE})
    return pl.DataFrame({
        model.user_ids.name: model.user_ids,
        "action": pl.Series(np.asarray(names, dtype=object)[np.where(taken, action, len(names) - 1)],
                            dtype=pl.Enum(names)),
        "channel": pl.Series(np.asarray([*model.channels, NONE], dtype=object)[np.where(taken, action, -1)],
                             dtype=pl.Enum(channels)),
        "expected_responses": pick(m.responses),
        "expected_loans": pick(m.loans),
        "spend": pick(m.spend),
        "expected_loss": pick(m.loss),
        "expected_profit": pick(m.profit),
    })


def summarize_plan(model: PlanModel, allocation: Allocation, frame: pl.DataFrame) -> PlanSummary:
    by_channel = (
        frame.filter(pl.col("channel") != NONE)
        .group_by("channel")
        .agg(pl.len().alias("contacts"), pl.col("spend").sum(), pl.col("expected_responses").sum(),
             pl.col("expected_loans").sum(), pl.col("expected_profit").sum())
        .sort("channel")
    )
    problem = model.problem
    usage = problem.usage_of(allocation.action)
    prices = allocation.prices if allocation.prices.size == problem.constraints else np.zeros(problem.constraints)
    lines = [ConstraintLine(name=name, sense="≤" if sense < 0 else "≥", used=float(u), limit=float(b),
                            price=float(price))
             for name, sense, u, b, price in zip(problem.constraint_names, problem.sense, usage, problem.rhs, prices,
                                                 strict=True)]
    for parts in model.shares:
        top, bottom = problem.objective_of_rows(parts.numerator, allocation.action), problem.objective_of_rows(
            parts.denominator, allocation.action)
        line = lines[parts.constraint]
        lines[parts.constraint] = line.model_copy(update={
            "used": top / bottom if bottom else 0.0, "limit": parts.limit, "share": True})
    return PlanSummary(
        plan=model.loaded.plan.plan,
        users=problem.users,
        status=allocation.status.value,
        method=allocation.method,
        objective=allocation.objective,
        bound=allocation.bound,
        gap=allocation.gap,
        seconds=allocation.seconds,
        channels=[ChannelLine(channel=str(c), contacts=int(n), spend=float(s), responses=float(r), loans=float(ln),
                              profit=float(p)) for c, n, s, r, ln, p in by_channel.iter_rows()],
        constraints=lines,
        unknown_terms=model.unknown_terms,
    )
