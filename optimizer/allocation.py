"""Allocation: one answer format for every solver."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

from optimizer.problem import FloatArray, IntArray


class SolveStatus(enum.Enum):
    OPTIMAL = "optimal"  # proven: the gap is within the solver's tolerance
    FEASIBLE = "feasible"  # a checked plan with a certified gap (bound − value) / |bound|
    INFEASIBLE = "infeasible"  # no plan satisfies the constraints
    NO_SOLUTION = "no solution"  # stopped (time limit, watchdog) before finding a feasible plan


@dataclass(frozen=True)
class Allocation:
    action: IntArray  # (N,) the action index per user, -1 = do nothing
    objective: float
    bound: float  # an upper bound on the optimum (+inf when the solver gives none)
    status: SolveStatus
    method: str
    seconds: float
    prices: FloatArray = field(default_factory=lambda: np.zeros(0))  # (K,) ≥ 0, the marginal value of one unit
    usage: FloatArray = field(default_factory=lambda: np.zeros(0))  # (K,) left-hand sides
    iterations: int = 0
    message: str = ""
    # The Lagrangian's dual value, equal to the LP relaxation's optimum (nan for exact methods). `bound` is
    # tighter when the whole MIP was solved to close the gap: its own bound then counts too.
    dual_bound: float = float("nan")
    prices_note: str = ""  # why `prices` are not real marginal values (e.g. "prices not computed: time limit")
    apart: int = 0  # lumpy users decided apart by an exact master MIP (optimizer.lumpy_users), when that ran

    @property
    def has_prices(self) -> bool:
        return not self.prices_note

    @property
    def gap(self) -> float:
        """Certified relative gap (bound − objective) / max(|bound|, 1); inf when there is no bound. Relative to
        at least one unit (a yuan, a loan): with an optimum of 0 (every contact loses money) CP-SAT's bound of
        4e-9 was otherwise a gap of 100 %."""
        if not np.isfinite(self.bound):
            return float("inf")
        return max(self.bound - self.objective, 0.0) / max(abs(self.bound), 1.0) + 0.0  # never "-0.0 %"
