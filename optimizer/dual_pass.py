"""One pass over the users at given prices: every user takes its best action, and the dual function with its
subgradient comes out. The only loop is over chunks of users, to keep temporaries small and in cache.

Reduced values are computed in float32 (half the memory traffic of the pass, which is all it costs). To keep
the bound certified, the dual value carries an explicit allowance for float32 rounding: each user's reduced
value takes at most K + 1 roundings, each within 2^-24 of a magnitude ≤ |v| + Σ_k λ_k |w_k|, so the maximum
over actions moves by at most (K + 2)·2^-24·(max_a |v| + Σ_k λ_k max_a |w_k|). Usage sums stay in float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.problem import AllocationProblem, FloatArray, IntArray

CHUNK = 131_072
UNIT_ROUNDOFF_32 = 2.0**-24


@dataclass(frozen=True, slots=True)
class PassResult:
    dual_value: float  # g(λ) = Σ_u max(0, max_a v − λ·Gw) + λ·h (+ rounding allowance): an upper bound
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
        self.value32 = np.where(problem.eligible, problem.value, -np.inf).astype(np.float32)
        self.weight32 = problem.weight.astype(np.float32)
        eligible_abs = np.where(problem.eligible, np.abs(problem.value), 0.0)
        self.value_scale = float(eligible_abs.max(axis=1, initial=0.0).sum())
        self.weight_scale = np.abs(problem.weight).max(axis=2, initial=0.0).sum(axis=1)  # (K,)
        self.passes = 0

    def rounding_allowance(self, prices: FloatArray) -> float:
        k = self.problem.constraints
        return (k + 2) * UNIT_ROUNDOFF_32 * (self.value_scale + float(prices @ self.weight_scale))

    def exact_value(self, prices: FloatArray) -> float:
        """g(λ) in float64 with no allowance: the bound a finished solve reports (one extra pass)."""
        p = self.problem
        signed = prices * self.sign
        total = 0.0
        for start in range(0, p.users, self.chunk):
            stop = min(start + self.chunk, p.users)
            reduced = np.where(p.eligible[start:stop], p.value[start:stop], -np.inf)
            for j in range(p.constraints):
                if signed[j] != 0.0:
                    reduced -= signed[j] * p.weight[j, start:stop]
            best = reduced.max(axis=1, initial=-np.inf) if p.actions else np.zeros(stop - start)
            total += float(best[best > 0].sum())
        return total + float(prices @ self.h)

    def evaluate(self, prices: FloatArray) -> PassResult:
        p = self.problem
        n, a, k = p.users, p.actions, p.constraints
        action = np.full(n, -1, dtype=np.int32)
        usage = np.zeros(k)
        total = 0.0
        signed = (prices * self.sign).astype(np.float32)
        buffer = np.empty((min(self.chunk, n), a), dtype=np.float32)
        scratch = np.empty_like(buffer)
        for start in range(0, n, self.chunk):
            stop = min(start + self.chunk, n)
            size = stop - start
            reduced, tmp = buffer[:size], scratch[:size]
            np.copyto(reduced, self.value32[start:stop])
            for j in range(k):
                if signed[j] != 0.0:
                    np.multiply(self.weight32[j, start:stop], signed[j], out=tmp)
                    np.subtract(reduced, tmp, out=reduced)
            if a == 0:
                continue
            best = np.argmax(reduced, axis=1)
            flat = np.arange(size) * a + best
            best_value = reduced.reshape(-1)[flat]
            take = best_value > 0
            total += float(best_value[take].sum(dtype=np.float64))
            action[start:stop] = np.where(take, best, -1)
            taken_flat = flat[take]
            for j in range(k):
                usage[j] += float(p.weight[j, start:stop].reshape(-1)[taken_flat].sum())
        self.passes += 1
        subgradient = self.h - self.sign * usage
        dual_value = total + float(prices @ self.h) + self.rounding_allowance(prices)
        return PassResult(dual_value, subgradient, action, usage)
