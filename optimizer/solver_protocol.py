"""The one interface every solver implements, exact or large-scale: a name and `solve(problem) -> Allocation`.

A solver's options (time limit, gap, threads) are given to its constructor, never to `solve`, so a configured
solver can be passed around, pickled into a watchdog process, and called on many problems.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from optimizer.allocation import Allocation
from optimizer.problem import AllocationProblem


@runtime_checkable
class Solver(Protocol):
    """Anything with a `name` (as in the registry, e.g. "exact-highs") and a `solve` method."""

    @property
    def name(self) -> str: ...

    def solve(self, problem: AllocationProblem) -> Allocation: ...


class SolverUnavailable(RuntimeError):
    """The backend a solver needs is not installed or not usable here; the message says what to install."""

    def __init__(self, solver: str, reason: str) -> None:
        super().__init__(f"{solver} is not available: {reason}")
        self.solver = solver
        self.reason = reason

    def __reduce__(self) -> tuple[type[SolverUnavailable], tuple[str, str]]:
        # Crosses the watchdog's process boundary intact (the default would pass the message as `solver`).
        return (SolverUnavailable, (self.solver, self.reason))
