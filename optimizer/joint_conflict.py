"""When no constraint alone and no pair explains an infeasible plan: which constraints conflict together.

The elastic LP relaxation lets every coupling row be broken by e_k ≥ 0 at a cost of e_k / max(1, |b_k|), and
minimises the total. Its optimum is 0 exactly when a fractional plan meets every limit. Otherwise its duals
name the rows that bind the conflict (an irreducible set in the LP's sense: relaxing any other row does not
help), and e is the least violation, in each row's own units, that even a fractional plan must accept.
When the optimum is 0, the conflict is one of whole contacts only: the limits leave no room for rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np

from optimizer.highs_instance import new_highs
from optimizer.problem import AllocationProblem, FloatArray
from optimizer.solve_exact_highs import build_highs_model


@dataclass(frozen=True, slots=True)
class JointConflict:
    constraints: tuple[int, ...]  # the rows whose duals bind the conflict (empty: whole contacts only)
    excess: FloatArray  # (K,) how far the closest fractional plan breaks each row, in the row's own units
    fractional: bool  # a fractional plan meets every limit: only whole contacts conflict


def joint_conflict(problem: AllocationProblem, time_limit: float = 60.0) -> JointConflict | None:
    """The elastic LP's answer, or None when HiGHS does not solve it within `time_limit`."""
    p = problem
    k = p.constraints
    if k == 0 or not p.eligible.any():
        return None
    model = build_highs_model(p, integer=False)
    lp = model.lp
    lp.col_cost_ = np.zeros(lp.num_col_)
    lp.sense_ = highspy.ObjSense.kMinimize
    solver = new_highs()
    solver.setOptionValue("time_limit", float(time_limit))
    solver.passModel(lp)
    # One elastic column per coupling row: −1 in a ≤ row (lhs − e ≤ b), +1 in a ≥ row (lhs + e ≥ b).
    scale = np.maximum(1.0, np.abs(p.rhs))
    solver.addCols(k, 1.0 / scale, np.zeros(k), np.full(k, highspy.kHighsInf), k, np.arange(k, dtype=np.int32),
                   (p.users + np.arange(k)).astype(np.int32), p.sense.astype(np.float64))
    solver.run()
    if solver.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    solution = solver.getSolution()
    excess = np.asarray(solution.col_value)[-k:]
    total = float(solver.getInfo().objective_function_value)
    if total <= 1e-9:
        return JointConflict((), excess, True)
    duals = np.abs(np.asarray(solution.row_dual)[p.users:p.users + k]) * scale
    binding = tuple(int(j) for j in np.flatnonzero(duals > 1e-7))
    return JointConflict(binding, excess, False)
