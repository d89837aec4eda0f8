"""Whether some of a problem's coupling rows can hold together, answered with a proof either way, at any N.

For a set S of rows, in ≤-form (G_k = sign_k·w_k, h_k = sign_k·b_k), phase one of the LP relaxation is

    least Σ_{k∈S} e_k / s_k   such that a fractional plan x meets G_k·x ≤ h_k + e_k for every k in S, e ≥ 0,

with s_k = max(1, |b_k|), so that every row is broken in proportion to its own size. It is solved by column
generation (Dantzig–Wolfe over the users' choices, which is the Lagrangian dual's cutting-plane method):

- the master, a tiny LP, mixes the whole plans found so far; of each plan only its K row totals are kept;
- the master's row prices y ≥ 0 price one pass over all users: each takes the action with the least
  Σ_k y_k·G_k[u, a], or nothing when none is below 0. That is a new plan for the master, and the value
      φ(y) = Σ_u min(0, min_a Σ_k y_k·G_k[u, a]) − y·h
  is a lower bound on phase one's optimum for any 0 ≤ y ≤ 1/s.

Both answers are proven, not estimated:
- infeasible: any y ≥ 0 with φ(y) > 0 is a Farkas certificate. Every plan, fractional or whole, has
  Σ_k y_k·(G_k·x − h_k) ≥ φ(y) > 0, so it breaks some row of S. This is the fact the Lagrangian solver
  reports as "the dual is unbounded". φ is computed in float64 over the whole problem (never on a sample) and
  must exceed a bound on its own rounding by far;
- feasible: the master's mix of plans is itself a fractional plan; when it breaks the rows by at most
  FEASIBLE in total (Σ e_k / s_k), the rows hold together to that tolerance.

A pass costs O(N·A·K); no LP over N users is ever built, so 10⁶ users cost what passes cost. The plans found
for one set serve every other set (their totals are kept for all K rows), so the many questions of a deletion
filter share their passes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import highspy
import numpy as np

from optimizer.highs_instance import new_highs
from optimizer.problem import AllocationProblem, FloatArray
from optimizer.user_chunks import ChunkRunner

FEASIBLE = 1e-9  # phase one at or below this (Σ e_k / s_k) counts as "the rows hold together"
ROUNDING = 1e-9  # a certificate must beat this share of the magnitude of its own sums (float64 is ~1e-16)
SETTLED = 1e-6  # bounds this close (relative) are met: the excess shown is the least to 6 digits
MAX_PASSES = 400  # per question; a question not settled by then is left undecided


@dataclass(frozen=True, slots=True)
class Verdict:
    rows: tuple[int, ...]  # the set S asked about
    infeasible: bool  # proven: `certificate` is a Farkas certificate for S
    feasible: bool  # proven to FEASIBLE: `excess` is what a fractional plan breaks (≈ 0)
    certificate: FloatArray  # (K,) y ≥ 0, zero outside S; its support is itself a set that cannot hold
    margin: float  # φ(certificate) > 0 when infeasible: every plan x has Σ_k y_k·(G_k·x − h_k) ≥ margin
    excess: FloatArray  # (K,) how far the best mix of plans found breaks each row, in the row's own units
    totals: FloatArray  # (M,) the extra measures of that mix (e.g. a share's denominator)
    lower: float  # proven lower bound on phase one's optimum (Σ e_k / s_k)
    upper: float  # phase one's value for the mix: an upper bound

    @property
    def settled(self) -> bool:
        """Its bounds have met (to SETTLED): `excess` is the least any fractional plan must accept."""
        return self.feasible or (self.infeasible and self.upper - self.lower <= SETTLED * max(self.upper, FEASIBLE))

    def support(self) -> tuple[int, ...]:
        return tuple(int(k) for k in np.flatnonzero(self.certificate > 0))


class PhaseOne:
    """Phase one of a problem's LP relaxation over any subset of its rows; plans are kept across questions."""

    def __init__(self, problem: AllocationProblem, extra: Sequence[FloatArray] = (),
                 runner: ChunkRunner | None = None, deadline: float = float("inf")) -> None:
        """`extra`: (N, A) measures whose totals are kept for every plan (reported for the best mix)."""
        self.problem = problem
        self.extra = tuple(extra)
        self.runner = runner or ChunkRunner()
        self.deadline = deadline
        self.sign = problem.sign()
        self.h = self.sign * problem.rhs
        self.scale = np.maximum(1.0, np.abs(problem.rhs))
        k = problem.constraints
        # The plan of doing nothing, then every plan a pass finds: (K + M) totals each, rows in ≤-form.
        self.plans: list[FloatArray] = [np.zeros(k + len(self.extra))]
        self.magnitude = self._magnitudes()  # (K,) Σ_u max_a |w_k[u, a]|: what a certificate's rounding is of
        self.passes = 0

    def _magnitudes(self) -> FloatArray:
        p = self.problem

        def chunk(start: int, stop: int) -> FloatArray:
            eligible = p.eligible[start:stop]
            return np.array([float(np.where(eligible, np.abs(p.weight[k, start:stop]), 0.0)
                                   .max(axis=1, initial=0.0).sum()) for k in range(p.constraints)])

        parts = self.runner.map(p.users, chunk)
        return np.sum(parts, axis=0) if parts else np.zeros(p.constraints)

    def price(self, y: FloatArray) -> tuple[float, FloatArray]:
        """One pass at prices y (≥ 0, ≤-form): φ(y), and the totals of the plan it finds."""
        p = self.problem
        k, a = p.constraints, p.actions
        signed = y * self.sign
        used = [j for j in range(k) if signed[j] != 0.0]

        def chunk(start: int, stop: int) -> tuple[float, FloatArray]:
            m = stop - start
            totals = np.zeros(k + len(self.extra))
            if a == 0 or m == 0:
                return 0.0, totals
            cost = np.zeros((m, a))
            for j in used:
                cost += signed[j] * p.weight[j, start:stop]
            cost[~p.eligible[start:stop]] = np.inf
            best = np.argmin(cost, axis=1)
            flat = np.arange(m) * a + best
            least = cost.reshape(-1)[flat]
            take = least < 0
            chosen = flat[take]
            for j in range(k):
                totals[j] = self.sign[j] * float(p.weight[j, start:stop].reshape(-1)[chosen].sum(dtype=np.float64))
            for j, measure in enumerate(self.extra):
                totals[k + j] = float(measure[start:stop].reshape(-1)[chosen].sum(dtype=np.float64))
            return float(least[take].sum()), totals

        parts = self.runner.map(p.users, chunk)
        self.passes += 1
        phi = float(sum(part[0] for part in parts)) - float(y @ self.h)
        totals = np.sum([part[1] for part in parts], axis=0) if parts else np.zeros(k + len(self.extra))
        return phi, totals

    def proves(self, y: FloatArray, phi: float) -> bool:
        """φ(y) > 0 by far more than float64 could have rounded it: a proof that the support of y cannot hold."""
        return phi > ROUNDING * float(y @ (self.magnitude + np.abs(self.h))) and phi > 0

    def _master(self, rows: tuple[int, ...]) -> tuple[FloatArray, FloatArray]:
        """The best mix of the plans so far (weights θ, summing to 1) and the master's row prices y (K,)."""
        k = self.problem.constraints
        s = len(rows)
        totals = np.asarray(self.plans)[:, list(rows)]  # (P, S)
        count = totals.shape[0]
        # Columns: θ_0 … θ_{P−1}, then e_k for k in rows. Rows: each k in rows, then Σ θ = 1.
        inf = highspy.kHighsInf
        dense = np.zeros((s + 1, count + s))
        dense[:s, :count] = totals.T
        dense[:s, count:] = -np.eye(s)
        dense[s, :count] = 1.0
        lp = highspy.HighsLp()
        lp.num_col_ = count + s
        lp.num_row_ = s + 1
        lp.col_cost_ = np.r_[np.zeros(count), 1.0 / self.scale[list(rows)]]
        lp.col_lower_ = np.zeros(count + s)
        lp.col_upper_ = np.full(count + s, inf)
        lp.row_lower_ = np.r_[np.full(s, -inf), 1.0]
        lp.row_upper_ = np.r_[self.h[list(rows)], 1.0]
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.arange(0, (s + 1) * (count + s) + 1, s + 1, dtype=np.int32)
        lp.a_matrix_.index_ = np.tile(np.arange(s + 1, dtype=np.int32), count + s)
        lp.a_matrix_.value_ = dense.T.reshape(-1).astype(np.float64)
        solver = new_highs()
        # The master is tiny; tight tolerances make its prices exact enough that the bounds meet to SETTLED.
        solver.setOptionValue("primal_feasibility_tolerance", 1e-10)
        solver.setOptionValue("dual_feasibility_tolerance", 1e-10)
        solver.passModel(lp)
        solver.run()
        solution = solver.getSolution()
        theta = np.clip(np.asarray(solution.col_value)[:count], 0.0, None)
        if solver.getModelStatus() != highspy.HighsModelStatus.kOptimal or theta.sum() <= 0:
            theta = np.r_[1.0, np.zeros(count - 1)]  # doing nothing; the prices below then start the search
            duals = np.where(self.h[list(rows)] < 0, -1.0 / self.scale[list(rows)], 0.0)
        else:
            theta = theta / theta.sum()
            duals = np.asarray(solution.row_dual)[:s]
        y = np.zeros(k)
        # A ≤ row of a minimisation has a price ≤ 0 in HiGHS's sign; phase one's prices lie in [0, 1/s].
        y[list(rows)] = np.clip(-duals, 0.0, 1.0 / self.scale[list(rows)])
        return theta, y

    def _mix(self, theta: FloatArray, rows: tuple[int, ...]) -> tuple[FloatArray, FloatArray, float]:
        k = self.problem.constraints
        totals = theta @ np.asarray(self.plans)
        excess = np.zeros(k)
        excess[list(rows)] = np.maximum(0.0, totals[list(rows)] - self.h[list(rows)])
        return excess, totals[k:], float((excess / self.scale).sum())

    def solve(self, rows: Sequence[int], settle: bool = False, gap: float = 0.1 * SETTLED) -> Verdict:
        """Phase one over `rows`. By default it stops as soon as either answer is proven; with `settle` it goes
        on until its bounds are within `gap` (relative), so that the excess is the least (for the message)."""
        chosen = tuple(sorted(set(int(k) for k in rows)))
        k = self.problem.constraints
        best_y: FloatArray = np.zeros(k)
        excess: FloatArray = np.zeros(k)
        totals: FloatArray = np.zeros(len(self.extra))
        best_phi, lower, upper = 0.0, 0.0, float("inf")
        proven = False
        for _ in range(MAX_PASSES):
            theta, y = self._master(chosen)
            excess, totals, upper = self._mix(theta, chosen)
            feasible = upper <= FEASIBLE
            if feasible or (proven and (not settle or upper - lower <= gap * max(upper, FEASIBLE))):
                break
            if time.perf_counter() > self.deadline:
                break
            phi, plan = self.price(y)
            lower = max(lower, phi)
            if phi > best_phi and self.proves(y, phi):
                best_y, best_phi, proven = y, phi, True
            if any(np.array_equal(plan, known) for known in self.plans):
                break  # no new plan at the master's prices: the master is optimal (its bounds have met)
            self.plans.append(plan)
        feasible = upper <= FEASIBLE
        return Verdict(chosen, proven and not feasible, feasible, best_y, best_phi, excess, totals,
                       lower, upper)
