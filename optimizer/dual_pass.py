"""One pass over the users at given prices: every user takes its best action, and the dual function with its
subgradient comes out. The only loop is over chunks of users, to keep temporaries small."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.problem import AllocationProblem, FloatArray, IntArray

CHUNK = 262_144


@dataclass(frozen=True, slots=True)
class PassResult:
    dual_value: float  # g(λ) = Σ_u max(0, max_a v − λ·Gw) + λ·h: an upper bound on the optimum
    subgradient: FloatArray  # (K,) h − usage in ≤-form
    action: IntArray  # (N,) each user's best action at these prices (-1 = nothing)
    usage: FloatArray  # (K,) Σ w_k x in the constraint's own orientation


class DualOracle:
    """Evaluates the Lagrangian dual of a problem at any prices λ ≥ 0 (one per constraint, in ≤-form)."""

    def __init__(self, problem: AllocationProblem, chunk: int = CHUNK) -> None:
        self.problem = problem
        self.chunk = chunk
        self.sign = problem.sign()
        self.h = self.sign * problem.rhs
        # Ineligible actions can never be chosen: give them -inf once, not at every pass.
        self.masked_value = np.where(problem.eligible, problem.value, -np.inf)
        self.passes = 0

    def reduced_values(self, prices: FloatArray, start: int, stop: int) -> FloatArray:
        signed = prices * self.sign
        w = self.problem.weight[:, start:stop]
        reduced: FloatArray = self.masked_value[start:stop] - np.tensordot(signed, w, axes=1)
        return reduced

    def evaluate(self, prices: FloatArray) -> PassResult:
        p = self.problem
        n = p.users
        action = np.full(n, -1, dtype=np.int32)
        usage = np.zeros(p.constraints)
        total = 0.0
        for start in range(0, n, self.chunk):
            stop = min(start + self.chunk, n)
            reduced = self.reduced_values(prices, start, stop)
            best = np.argmax(reduced, axis=1) if p.actions else np.zeros(stop - start, dtype=np.int64)
            rows = np.arange(stop - start)
            best_value = reduced[rows, best] if p.actions else np.zeros(stop - start)
            take = best_value > 0
            total += float(best_value[take].sum())
            chosen = np.where(take, best, -1)
            action[start:stop] = chosen
            taken_rows = rows[take]
            usage += p.weight[:, start:stop][:, taken_rows, best[take]].sum(axis=1)
        self.passes += 1
        subgradient = self.h - self.sign * usage
        return PassResult(total + float(prices @ self.h), subgradient, action, usage)
