"""The online policy that the dual prices give: a user who arrives later (scans a QR code, fills the form)
gets the action with the best v − Σ_k λ_k·w_k, or nothing when no action pays for the capacity it uses.

This is seed 001's "effect-based dynamic channel pricing": each unit of budget and of call-centre capacity
has a price, learned from the whole cohort, and a single decision needs no solver at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.problem import AllocationProblem, FloatArray, IntArray, Sense
from optimizer.user_chunks import ChunkRunner, reduced_block


@dataclass(frozen=True)
class PricePolicy:
    prices: FloatArray  # (K,) ≥ 0, in each constraint's own orientation
    sense: np.ndarray  # (K,) -1 ≤, +1 ≥
    action_names: tuple[str, ...]

    @classmethod
    def from_solution(cls, problem: AllocationProblem, prices: FloatArray) -> PricePolicy:
        return cls(np.asarray(prices, dtype=np.float64), problem.sense.copy(), problem.action_names)

    def best_actions(self, problem: AllocationProblem, runner: ChunkRunner | None = None
                     ) -> tuple[IntArray, FloatArray]:
        """Every user of `problem` at once: (N,) action index or -1, and (N,) its reduced value (0 for nothing)."""
        if problem.constraints != self.prices.size:
            raise ValueError(f"{self.prices.size} prices for a problem with {problem.constraints} constraints")
        signed = np.where(self.sense == Sense.LE, self.prices, -self.prices)
        action: IntArray = np.full(problem.users, -1, dtype=np.int64)
        reduced: FloatArray = np.zeros(problem.users)

        def chunk(start: int, stop: int) -> None:
            block = reduced_block(problem, start, stop, signed, np.float64)
            best = np.argmax(block, axis=1)
            score = block[np.arange(stop - start), best]
            take = score > 0  # as in best_action: doing nothing wins a tie
            action[start:stop] = np.where(take, best, -1)
            reduced[start:stop] = np.where(take, score, 0.0)

        if problem.actions:
            (runner or ChunkRunner()).map(problem.users, chunk)
        return action, reduced

    def best_action(self, value: FloatArray, eligible: np.ndarray, weight: FloatArray) -> int:
        """value (A,), eligible (A,), weight (K, A) for one user → the action index, or -1 for nothing.

        A ≤ constraint's price is a cost per unit used; a ≥ constraint's price rewards each unit delivered.
        """
        signed = np.where(self.sense == Sense.LE, self.prices, -self.prices)
        score = np.where(eligible, value - signed @ weight, -np.inf)
        best = int(np.argmax(score)) if score.size else -1
        return best if best >= 0 and score[best] > 0 else -1
