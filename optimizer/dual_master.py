"""The master problem of a trust-region cutting-plane method on the K-dimensional dual.

Each evaluated point λ_j gives a cut  g(λ) ≥ g_j + s_j·(λ − λ_j). The master minimises the cutting-plane model
inside a box around the best point (the centre), with λ ≥ 0. It is a tiny LP (K + 1 columns), solved with HiGHS.
No step size and no target value to tune: the box grows after good steps and shrinks after bad ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import highspy
import numpy as np

from optimizer.highs_instance import new_highs
from optimizer.problem import FloatArray


@dataclass
class CuttingPlaneModel:
    k: int
    points: list[FloatArray] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    slopes: list[FloatArray] = field(default_factory=list)

    def add(self, point: FloatArray, value: float, slope: FloatArray) -> None:
        self.points.append(point.copy())
        self.values.append(value)
        self.slopes.append(slope.copy())

    def minimise(self, lower: FloatArray, upper: FloatArray) -> tuple[FloatArray, float]:
        """argmin over lower ≤ λ ≤ upper of max_j (g_j + s_j·(λ − λ_j)); returns (λ, model value)."""
        k, m = self.k, len(self.values)
        # Columns: λ_0 … λ_{K-1}, θ. Rows j: θ − s_j·λ ≥ g_j − s_j·λ_j.
        cols = k + 1
        slopes = np.asarray(self.slopes).reshape(m, k)
        points = np.asarray(self.points).reshape(m, k)
        rhs = np.asarray(self.values) - np.einsum("jk,jk->j", slopes, points)
        dense = np.hstack([-slopes, np.ones((m, 1))])  # (m, K+1)
        starts = np.arange(0, m * cols + 1, m, dtype=np.int32)
        lp = highspy.HighsLp()
        lp.num_col_ = cols
        lp.num_row_ = m
        lp.col_cost_ = np.r_[np.zeros(k), 1.0]
        lp.col_lower_ = np.r_[lower, -highspy.kHighsInf]
        lp.col_upper_ = np.r_[upper, highspy.kHighsInf]
        lp.row_lower_ = rhs
        lp.row_upper_ = np.full(m, highspy.kHighsInf)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = starts
        lp.a_matrix_.index_ = np.tile(np.arange(m, dtype=np.int32), cols)
        lp.a_matrix_.value_ = dense.T.reshape(-1).astype(np.float64)
        solver = new_highs()
        solver.passModel(lp)
        solver.run()
        solution = np.asarray(solver.getSolution().col_value)
        if solver.getModelStatus() != highspy.HighsModelStatus.kOptimal or solution.size != cols:
            raise MasterFailure(str(solver.getModelStatus()))
        return np.clip(solution[:k], lower, upper), float(solution[k])


class MasterFailure(RuntimeError):
    """The master LP did not solve (numerically hopeless box); the caller stops at its best point."""
