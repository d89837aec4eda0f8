"""A bound on the best ratio N(x)/D(x) of any plan, from one set of prices: the ROI objective's certificate.

For prices λ ≥ 0 on the coupling rows (in ≤-form, h − G·W·x ≥ 0 for every feasible plan) and any q, every
feasible plan x, integer or fractional, satisfies

    N(x) − q·D(x) ≤ N(x) − q·D(x) + λ·(h − G·W·x) ≤ g(q) = λ·h + Σ_u max(0, max_a (v − q·d − λ·G·w)[u, a]).

So g(q) ≤ 0 proves N/D ≤ q for every plan with D > 0, and g(q) > 0 still proves N/D ≤ q + g(q)/D_min, D_min the
least positive D of one action. g is convex, piecewise linear and decreasing in q, with slope −D of the users'
best responses, so Newton's method (Dinkelbach's iteration on this separable problem) reaches its root from below
in a few passes; minimised over λ as well, that root is the ratio's LP-relaxation optimum (Charnes–Cooper).

Why this and not q + F̄/D_min at a Dinkelbach step alone: F̄ is at least the LP value of max N − q·D, which is
above the integer optimum by the LP's integrality gap; divided by a D_min of 0.02 yuan (one WeChat message), a gap
of 0.01 yuan became 1.1 % of the ratio on a 20,000-user plan. The root of g at the last step's prices is the
ratio's LP bound instead: 2.7e-10 above the optimum on that plan.

D_min is taken as the larger of the least positive D of one action and a lower bound on the D of every feasible
plan (least_denominator: the LP of min D, through its dual). A minimum such as "at least 300 telesales calls to
prime users" forces 2,700 yuan of spend on any plan, and then a solver's F̄ > 0 costs F̄/2,700, not F̄/0.02: that
is what certifies an exact method's Dinkelbach steps, whose MIP proves F ≤ F̄ only to its own tolerance.

g is evaluated in float64 with an allowance for rounding, as the Lagrangian's dual function is
(optimizer/dual_pass.py): each reduced value takes at most 2K + 2 roundings of terms no larger than
|v| + q·|d| + Σ_k λ_k·|w_k|, and (2K + 4) units cover the sums too.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from optimizer.plan_prices import dual_prices
from optimizer.problem import AllocationProblem, FloatArray
from optimizer.user_chunks import ChunkRunner, reduced_block

MAX_PASSES = 40
FLOOR_SECONDS = 2.0  # for the least D of a feasible plan: 1,000,000 users take about 0.1 s a pass


def least_denominator(problem: AllocationProblem, denominator: FloatArray, seconds: float = FLOOR_SECONDS) -> float:
    """A lower bound on D(x) over every feasible plan, 0 when the constraints force none: −g(λ) of the problem
    max −D, at the least dual value its cutting-plane search reaches in `seconds` (any λ ≥ 0 gives a valid one)."""
    if problem.constraints == 0:
        return 0.0
    flipped = dataclasses.replace(problem, value=np.negative(denominator).astype(problem.value.dtype, copy=False))
    bound = dual_prices(flipped, seconds).bound
    return max(-bound, 0.0) if np.isfinite(bound) else 0.0


@dataclass(frozen=True, slots=True)
class _Pass:
    value: float  # g(q) without the rounding allowance
    spend: float  # D of the users' best responses at q: −slope of g
    scale: float  # Σ_u max_a (|v| + q·|d| + Σ_k λ_k |w_k|) over eligible actions, for the allowance


def ratio_bound(problem: AllocationProblem, denominator: FloatArray, prices: FloatArray, start: float,
                smallest: float, runner: ChunkRunner | None = None) -> float:
    """The least bound on max N/D that the prices prove, searching q upward from `start` (a ratio some plan
    reaches, so at or below the root); inf when they prove nothing (`smallest`, D_min, is 0)."""
    if smallest <= 0 or not np.isfinite(start):
        return float("inf")
    runner = runner or ChunkRunner()
    p = problem
    lam = np.maximum(np.nan_to_num(np.asarray(prices, dtype=np.float64), nan=0.0, posinf=0.0), 0.0)
    if lam.shape != (p.constraints,):
        lam = np.zeros(p.constraints)
    signed = lam * p.sign()
    fixed = float(lam @ (p.sign() * p.rhs))
    units = (2 * p.constraints + 4) * float(np.finfo(np.float64).eps) / 2

    def evaluate(q: float) -> _Pass:
        def chunk(begin: int, end: int) -> tuple[float, float, float]:
            if p.actions == 0:
                return 0.0, 0.0, 0.0
            d = np.asarray(denominator[begin:end], dtype=np.float64)
            reduced = reduced_block(p, begin, end, signed, np.float64)
            reduced -= q * d
            np.copyto(reduced, -np.inf, where=~p.eligible[begin:end])  # a NaN spend where not eligible stays out
            best = np.argmax(reduced, axis=1)
            rows = np.arange(end - begin)
            best_value = reduced[rows, best]
            take = best_value > 0
            magnitude = np.abs(p.value[begin:end]) + abs(q) * np.abs(d)
            for k in range(p.constraints):
                if lam[k] != 0.0:
                    magnitude = magnitude + lam[k] * np.abs(p.weight[k, begin:end])
            magnitude = np.where(p.eligible[begin:end], magnitude, 0.0)
            return (float(best_value[take].sum()), float(d[rows[take], best[take]].sum()),
                    float(magnitude.max(axis=1, initial=0.0).sum()))

        parts = runner.map(p.users, chunk)
        return _Pass(sum(part[0] for part in parts) + fixed, sum(part[1] for part in parts),
                     sum(part[2] for part in parts))

    best = float("inf")
    q = start
    for _ in range(MAX_PASSES):
        at = evaluate(q)
        upper = at.value + units * at.scale
        best = min(best, q + max(upper, 0.0) / smallest)
        if at.value <= 0 or at.spend <= 0:  # the root, or no user buys anything more as q rises
            break
        step = at.value / at.spend
        if q + step <= q:  # below float resolution: the root is here
            break
        q += step
    return best
