"""What a planner reads after a solve: objective, bound, gap, per channel figures, capacity use and prices.

The headline figure is the plan's own objective: expected profit, expected loans, or ROI = profit / spend. For
ROI the ratio, its bound and its gap are the Dinkelbach solver's certificate (optimizer/ratio_objective.py:
the allocation's bound is the ratio's bound times the plan's spend). A bound no solver gave is None, shown as
"unknown", never as inf; prices no method computed are None, with the reason, never zeros.

Prices are per unit of each limit as the plan writes it: per yuan, per minute, per contact; for a share limit
(linearised as Σ (1[where] − s)·m ≤ 0) per unit of the share s itself, which is the row's price times the
denominator Σ m·x; for ROI they are marginal ROI, not yuan.

A plan with shifts also gets, per shift, the contacts of each channel scheduled in it and the use of each
capacity; the per channel figures add up a channel's shift variants.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict

from optimizer.allocation import Allocation
from optimizer.build_problem import PlanModel
from optimizer.plan_file import Objective
from optimizer.problem import FloatArray, IntArray

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
    price: float | None  # the marginal value of one more unit of the limit (0 when slack); None: not computed
    share: bool = False  # used and limit are shares (0-1) of the measure, not amounts; price per unit of share


class ShiftChannel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    channel: str
    contacts: int


class ShiftCapacity(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    resource: str
    used: float
    limit: float
    price: float | None  # the marginal value of one more unit of the resource in this shift


class ShiftLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    shift: str
    hours: str
    channels: list[ShiftChannel]  # every channel that can be scheduled in a shift, 0 when none was
    loans: float  # expected loans from the contacts scheduled in this shift
    capacity: list[ShiftCapacity]


class Headline(BaseModel):
    """The plan's objective with its certificate, and the expected totals a planner weighs it against."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    objective: str  # "profit", "loans" or "roi": what `value`, `bound` and `gap` measure
    value: float  # yuan of expected profit, expected loans, or the ratio profit / spend
    bound: float | None  # an upper bound on the best value any plan has; None when no solver gave one
    gap: float | None  # (bound − value) / |bound|; None when the bound is unknown
    profit: float
    spend: float
    loans: float
    loss: float


class PlanSummary(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    plan: str
    users: int
    status: str
    method: str
    headline: Headline
    seconds: float
    channels: list[ChannelLine]
    constraints: list[ConstraintLine]
    unknown_terms: int
    prices_note: str = ""  # why there are no prices ("prices not computed: time limit"); "" when there are
    shifts: list[ShiftLine] = []
    apart: int = 0  # lumpy users decided apart by an exact master MIP (optimizer.lumpy_users)
    notes: list[str] = []  # what the planner should know about how the answer was reached (a fallback, a gap
    # short of the one asked for)


def allocation_frame(model: PlanModel, action: IntArray) -> pl.DataFrame:
    """One row per user: the action taken (index, or −1 for "none") and its expected figures."""
    problem, m = model.problem, model.measures
    taken = action >= 0
    rows = np.arange(problem.users)
    col = np.where(taken, action, 0)

    def pick(matrix: np.ndarray) -> np.ndarray:
        return np.where(taken, matrix[rows, col], 0.0) if problem.actions else np.zeros(problem.users)

    names = [*problem.action_names, NONE]
    channels = sorted({*model.channels, NONE})
    shift_names = model.loaded.shifts.names
    shift_column: dict[str, pl.Series] = {}
    if shift_names:  # null for "none" and for actions without shifts
        shift = np.where(taken, np.asarray(model.shift_of, dtype=np.int64)[col], -1)
        shift_column["shift"] = pl.Series("shift", np.asarray(shift_names, dtype=object)[shift.clip(min=0)],
                                          dtype=pl.Enum(shift_names)).scatter(np.flatnonzero(shift < 0), None)
    return pl.DataFrame({
        model.user_ids.name: model.user_ids,
        "action": pl.Series(np.asarray(names, dtype=object)[np.where(taken, action, len(names) - 1)],
                            dtype=pl.Enum(names)),
        "channel": pl.Series(np.asarray([*model.channels, NONE], dtype=object)[np.where(taken, action, -1)],
                             dtype=pl.Enum(channels)),
        **shift_column,
        "expected_responses": pick(m.responses),
        "expected_loans": pick(m.loans),
        "spend": pick(m.spend),
        "expected_loss": pick(m.loss),
        "expected_profit": pick(m.profit),
    })


def limit_prices(model: PlanModel, allocation: Allocation) -> FloatArray | None:
    """(K,) the price of one more unit of each limit as the plan writes it (module docstring); None when the
    method computed no prices."""
    problem = model.problem
    if not allocation.has_prices or allocation.prices.size != problem.constraints:
        return None
    prices: FloatArray = allocation.prices.astype(np.float64)
    # A price whose limit is worth less than 1e-9 of the objective is the dual's rounding, not a value: 0.
    # (For ROI the prices are λ / spend: the test is on λ, the price of the step's own problem.)
    magnitude = np.maximum(np.maximum(np.abs(problem.rhs), np.abs(problem.usage_of(allocation.action))), 1.0)
    denominators = {parts.constraint: problem.objective_of_rows(parts.denominator, allocation.action)
                    for parts in model.shares}
    for k, denominator in denominators.items():
        magnitude[k] = max(magnitude[k], abs(denominator))
    per_step = problem.objective_of_rows(model.measures.spend, allocation.action) if (
        model.loaded.plan.objective is Objective.ROI) else 1.0
    prices[prices * abs(per_step) * magnitude <= 1e-9 * max(1.0, abs(allocation.objective))] = 0.0
    for k, denominator in denominators.items():  # d(row)/ds = −Σ den·x: one more unit of share frees that much
        prices[k] *= denominator
    return prices


def headline(model: PlanModel, allocation: Allocation) -> Headline:
    """The objective's name, value, bound and gap, and the plan's profit, spend, loans and loss."""
    problem, m, action = model.problem, model.measures, allocation.action
    profit, spend = problem.objective_of_rows(m.profit, action), problem.objective_of_rows(m.spend, action)
    objective = model.loaded.plan.objective
    known = bool(np.isfinite(allocation.bound))
    value, bound = allocation.objective, allocation.bound
    if objective is Objective.ROI:  # the allocation's bound is the ratio's bound × the plan's spend
        value, bound = (profit / spend, allocation.bound / spend) if spend > 0 else (float("nan"), float("inf"))
        known = known and spend > 0
    return Headline(objective=objective.value, value=value, bound=bound if known else None,
                    gap=allocation.gap if known else None, profit=profit, spend=spend,
                    loans=problem.objective_of_rows(m.loans, action), loss=problem.objective_of_rows(m.loss, action))


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
    prices = limit_prices(model, allocation)
    lines = [ConstraintLine(name=name, sense="≤" if sense < 0 else "≥", used=float(u), limit=float(b),
                            price=None if prices is None else float(prices[k]))
             for k, (name, sense, u, b) in enumerate(zip(problem.constraint_names, problem.sense, usage, problem.rhs,
                                                        strict=True))]
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
        headline=headline(model, allocation),
        seconds=allocation.seconds,
        channels=[ChannelLine(channel=str(c), contacts=int(n), spend=float(s), responses=float(r), loans=float(ln),
                              profit=float(p)) for c, n, s, r, ln, p in by_channel.iter_rows()],
        constraints=lines,
        unknown_terms=model.unknown_terms,
        prices_note=allocation.prices_note,
        shifts=_shift_lines(model, frame, lines),
        apart=allocation.apart,
    )


def _shift_lines(model: PlanModel, frame: pl.DataFrame, lines: list[ConstraintLine]) -> list[ShiftLine]:
    """Per shift: contacts per channel, expected loans, and the use of each capacity (rows after the plan's)."""
    shifts = model.loaded.shifts
    if not shifts.names:
        return []
    scheduled = sorted({c for c, s in zip(model.channels, model.shift_of, strict=True) if s >= 0})
    counts = {(str(s), str(c)): (int(n), float(loans)) for s, c, n, loans in frame.filter(
        pl.col("shift").is_not_null()).group_by("shift", "channel").agg(
        pl.len(), pl.col("expected_loans").sum()).iter_rows()}
    first = len(model.loaded.plan.constraints)
    result = []
    for s, name in enumerate(shifts.names):
        rows = lines[first + s * len(shifts.resources):first + (s + 1) * len(shifts.resources)]
        result.append(ShiftLine(
            shift=name, hours=shifts.hours[s],
            channels=[ShiftChannel(channel=c, contacts=counts.get((name, c), (0, 0.0))[0]) for c in scheduled],
            loans=sum(counts.get((name, c), (0, 0.0))[1] for c in scheduled),
            capacity=[ShiftCapacity(resource=r, used=line.used, limit=line.limit, price=line.price)
                      for r, line in zip(shifts.resources, rows, strict=True)]))
    return result
