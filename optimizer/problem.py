"""AllocationProblem: the integer program every solver reads, as numpy arrays.

N users, A actions, K coupling constraints. Each user takes at most one action; "do nothing" is always
allowed and implicit (value 0, weight 0), so users who bring their own arrays do not add a column for it.

    maximise   Σ_u Σ_a value[u, a] · x[u, a]
    subject to Σ_a x[u, a] ≤ 1                          for every user u
               Σ_u Σ_a weight[k, u, a] · x[u, a]  ≤ rhs[k]   (sense[k] = -1)
                                                  ≥ rhs[k]   (sense[k] = +1)
               x[u, a] ∈ {0, 1}, and x[u, a] = 0 where not eligible[u, a]
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.floating]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.integer]

NOTHING = -1  # the action index meaning "do nothing"


class Sense(enum.IntEnum):
    LE = -1
    GE = 1


class ProblemShapeError(ValueError):
    """Arrays that do not fit together; the message gives the shapes found and expected."""


@dataclass(frozen=True, slots=True)
class AllocationProblem:
    """N users, A actions ("do nothing" is implicit), K coupling constraints Σ w_k·x ≤/≥ b_k."""

    value: FloatArray  # (N, A) expected value of x[u, a] = 1; float64, or float32 to halve memory at 10⁷ users
    eligible: BoolArray  # (N, A)
    weight: FloatArray  # (K, N, A) coefficient of x[u, a] in constraint k
    rhs: FloatArray  # (K,)
    sense: npt.NDArray[np.int8]  # (K,) -1 for ≤, +1 for ≥
    constraint_names: tuple[str, ...] = ()  # (K,), as the planner wrote them: used in every message
    action_names: tuple[str, ...] = ()  # (A,)

    def __post_init__(self) -> None:
        value, eligible, weight = self.value, self.eligible, self.weight
        if value.ndim != 2:
            raise ProblemShapeError(f"value has shape {value.shape}, expected (N, A)")
        n, a = value.shape
        if eligible.shape != (n, a):
            raise ProblemShapeError(f"eligible has shape {eligible.shape}, expected (N, A) = ({n}, {a})")
        for name, array in (("value", value), ("weight", weight)):
            if array.dtype not in (np.float32, np.float64):
                raise ProblemShapeError(f"{name} has dtype {array.dtype}, expected float64 or float32")
        if eligible.dtype != np.bool_:
            raise ProblemShapeError(f"eligible has dtype {eligible.dtype}, expected bool")
        if weight.ndim != 3 or weight.shape[1:] != (n, a):
            raise ProblemShapeError(f"weight has shape {weight.shape}, expected (K, N, A) = (K, {n}, {a})")
        k = weight.shape[0]
        if self.rhs.shape != (k,):
            raise ProblemShapeError(f"rhs has shape {self.rhs.shape}, expected (K,) = ({k},)")
        if self.sense.shape != (k,) or not np.isin(self.sense, (-1, 1)).all():
            raise ProblemShapeError(f"sense must be (K,) = ({k},) of -1 (≤) and +1 (≥), got {self.sense!r}")
        if not np.isfinite(value[eligible]).all():
            raise ProblemShapeError("value has NaN or infinite entries where eligible")
        if not np.isfinite(weight).all() or not np.isfinite(self.rhs).all():
            raise ProblemShapeError("weight and rhs must be finite")
        if self.constraint_names and len(self.constraint_names) != k:
            raise ProblemShapeError(f"{len(self.constraint_names)} constraint names for K = {k} constraints")
        if self.action_names and len(self.action_names) != a:
            raise ProblemShapeError(f"{len(self.action_names)} action names for A = {a} actions")
        if not self.constraint_names:
            object.__setattr__(self, "constraint_names", tuple(f"c{i}" for i in range(k)))
        if not self.action_names:
            object.__setattr__(self, "action_names", tuple(f"a{i}" for i in range(a)))

    @classmethod
    def from_arrays(cls, value: npt.ArrayLike, eligible: npt.ArrayLike | None, weight: npt.ArrayLike,
                    rhs: npt.ArrayLike, sense: npt.ArrayLike, constraint_names: tuple[str, ...] = (),
                    action_names: tuple[str, ...] = ()) -> AllocationProblem:
        """Build from anything array-like; `eligible=None` means every action is allowed for every user."""
        v = np.ascontiguousarray(value, dtype=np.float64)
        e = np.ones(v.shape, dtype=bool) if eligible is None else np.ascontiguousarray(eligible, dtype=bool)
        w = np.ascontiguousarray(weight, dtype=np.float64)
        if w.ndim == 2 and v.ndim == 2:
            w = w[None]
        return cls(v, e, w, np.asarray(rhs, dtype=np.float64).reshape(-1),
                   np.asarray(sense, dtype=np.int8).reshape(-1), tuple(constraint_names), tuple(action_names))

    def subset(self, users: IntArray, rhs: FloatArray | None = None) -> AllocationProblem:
        """The problem restricted to `users` (an index array), with the same constraints or other right-hand sides."""
        return AllocationProblem(
            np.ascontiguousarray(self.value[users]), np.ascontiguousarray(self.eligible[users]),
            np.ascontiguousarray(self.weight[:, users]), self.rhs if rhs is None else np.asarray(rhs, dtype=np.float64),
            self.sense, self.constraint_names, self.action_names)

    @property
    def users(self) -> int:
        return int(self.value.shape[0])

    @property
    def actions(self) -> int:
        return int(self.value.shape[1])

    @property
    def constraints(self) -> int:
        return int(self.weight.shape[0])

    def sign(self) -> FloatArray:
        """+1 for ≤ and -1 for ≥: multiplying a row by it turns every constraint into a ≤."""
        return -self.sense.astype(np.float64)

    def objective_of(self, action: IntArray) -> float:
        taken = action >= 0
        rows = np.nonzero(taken)[0]
        return float(self.value[rows, action[taken]].sum(dtype=np.float64))

    def objective_of_rows(self, matrix: FloatArray, action: IntArray) -> float:
        """Σ_u matrix[u, action[u]] over users who take an action: any (N, A) measure of a plan."""
        taken = action >= 0
        return float(matrix[np.nonzero(taken)[0], action[taken]].sum(dtype=np.float64))

    def usage_of(self, action: IntArray) -> FloatArray:
        """(K,) left-hand side Σ w_k·x of every constraint for a plan."""
        taken = action >= 0
        rows = np.nonzero(taken)[0]
        usage: FloatArray = self.weight[:, rows, action[taken]].sum(axis=1, dtype=np.float64)
        return usage
