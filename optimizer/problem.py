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
from collections.abc import Iterable
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
        # Plain lists are converted where the meaning is obvious (rhs=[100.0, 50.0]); an array of the wrong
        # dtype is not (from_arrays converts), so that a 10⁷-user array is never copied behind the caller's back.
        for name in ("value", "weight"):
            object.__setattr__(self, name, _array(name, getattr(self, name), np.float64))
        object.__setattr__(self, "eligible", _array("eligible", self.eligible, np.bool_))
        object.__setattr__(self, "rhs", _floats("rhs", self.rhs))
        object.__setattr__(self, "sense", _senses(self.sense))
        object.__setattr__(self, "constraint_names", _names("constraint_names", self.constraint_names))
        object.__setattr__(self, "action_names", _names("action_names", self.action_names))
        value, eligible, weight = self.value, self.eligible, self.weight
        if value.ndim != 2:
            raise ProblemShapeError(f"value has shape {value.shape}, expected (N, A)")
        n, a = value.shape
        if eligible.shape != (n, a):
            raise ProblemShapeError(f"eligible has shape {eligible.shape}, expected (N, A) = ({n}, {a})")
        for name, array in (("value", value), ("weight", weight)):
            if array.dtype not in (np.float32, np.float64):
                raise ProblemShapeError(f"{name} has dtype {array.dtype}, expected float64 or float32 "
                                        "(AllocationProblem.from_arrays converts)")
        if eligible.dtype != np.bool_:
            raise ProblemShapeError(f"eligible has dtype {eligible.dtype}, expected bool "
                                    "(AllocationProblem.from_arrays converts)")
        if weight.ndim != 3 or weight.shape[1:] != (n, a):
            raise ProblemShapeError(f"weight has shape {weight.shape}, expected (K, N, A) = (K, {n}, {a})")
        k = weight.shape[0]
        if self.rhs.shape != (k,):
            raise ProblemShapeError(f"rhs has shape {self.rhs.shape}, expected (K,) = ({k},)")
        if self.sense.shape != (k,):
            raise ProblemShapeError(f"sense has shape {self.sense.shape}, expected (K,) = ({k},) of -1 (≤) and +1 (≥)")
        if self.constraint_names and len(self.constraint_names) != k:
            raise ProblemShapeError(f"{len(self.constraint_names)} constraint names for K = {k} constraints")
        if self.action_names and len(self.action_names) != a:
            raise ProblemShapeError(f"{len(self.action_names)} action names for A = {a} actions")
        for kind, names in (("constraint", self.constraint_names), ("action", self.action_names)):
            twice = sorted({name for name in names if names.count(name) > 1})
            if twice:  # prices, summaries and exports are by name: two of one name would be read as one
                raise ProblemShapeError(f"{kind} names must differ: {', '.join(map(repr, twice))} given twice")
        if not self.constraint_names:
            object.__setattr__(self, "constraint_names", tuple(f"c{i}" for i in range(k)))
        if not self.action_names:
            object.__setattr__(self, "action_names", tuple(f"a{i}" for i in range(a)))
        self._check_finite()

    def _check_finite(self) -> None:
        """A NaN or an infinity would be exploited by a solver, or crash it: say where it is."""
        bad_value = int((~np.isfinite(self.value) & self.eligible).sum())
        if bad_value:
            raise ProblemShapeError(f"value has {bad_value:,} NaN or infinite entries where eligible")
        bad_rhs = [name for name, b in zip(self.constraint_names, self.rhs.tolist(), strict=True) if not np.isfinite(b)]
        if bad_rhs:
            raise ProblemShapeError(f"rhs must be finite; it is NaN or infinite for {', '.join(bad_rhs)}")
        bad_weight = (~np.isfinite(self.weight)).sum(axis=(1, 2))
        if bad_weight.any():
            where = ", ".join(f"{self.constraint_names[k]} ({int(c):,})" for k, c in enumerate(bad_weight) if c)
            raise ProblemShapeError(f"weight must be finite; NaN or infinite entries in {where}")

    @classmethod
    def from_arrays(cls, value: npt.ArrayLike, eligible: npt.ArrayLike | None, weight: npt.ArrayLike,
                    rhs: npt.ArrayLike, sense: npt.ArrayLike, constraint_names: tuple[str, ...] = (),
                    action_names: tuple[str, ...] = ()) -> AllocationProblem:
        """Build from anything array-like; `eligible=None` means every action is allowed for every user.

        float32 values and weights stay float32 (half the memory at 10⁷ users; sums are taken in float64);
        anything else numeric becomes float64."""
        v = _floats("value", value, keep32=True)
        e = np.ones(v.shape, dtype=bool) if eligible is None else _bools("eligible", eligible)
        w = _floats("weight", weight, keep32=True)
        if w.ndim == 2 and v.ndim == 2:
            w = w[None]
        return cls(v, e, w, _floats("rhs", rhs).reshape(-1), _senses(sense).reshape(-1), tuple(constraint_names),
                   tuple(action_names))

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


def _array(name: str, given: object, dtype: type[np.generic]) -> npt.NDArray[np.generic]:
    """An ndarray as given (its dtype is checked by the caller); anything else array-like converted to `dtype`."""
    if isinstance(given, np.ndarray):
        return given
    if dtype is np.bool_:
        return _bools(name, given)
    return _floats(name, given)


def _floats(name: str, given: object, keep32: bool = False) -> FloatArray:
    """`given` as a contiguous float64 array (float32 kept when `keep32`), or a message naming the argument."""
    try:
        array = np.asarray(given)
        if keep32 and array.dtype == np.float32:
            return np.ascontiguousarray(array)
        if array.dtype == np.bool_ or array.dtype.kind not in "iuf":
            raise TypeError(f"dtype {array.dtype}")
        return np.ascontiguousarray(array, dtype=np.float64)
    except (TypeError, ValueError) as err:  # ragged lists, strings, None, objects
        raise ProblemShapeError(f"{name} must be an array of numbers, got {_described(given)} ({err})") from None


def _bools(name: str, given: object) -> BoolArray:
    try:
        array = np.asarray(given)
        if array.dtype != np.bool_ and array.dtype.kind not in "iu":
            raise TypeError(f"dtype {array.dtype}")
        if array.dtype != np.bool_ and not np.isin(array, (0, 1)).all():  # a 2 is a mistake, not "true"
            raise ValueError("integers other than 0 and 1")
        return np.ascontiguousarray(array, dtype=bool)
    except (TypeError, ValueError) as err:
        raise ProblemShapeError(f"{name} must be an array of true/false, got {_described(given)} ({err})") from None


def _senses(given: object) -> npt.NDArray[np.int8]:
    """-1 (≤) and +1 (≥), checked before narrowing to int8 (where 255 would wrap to -1)."""
    try:
        array = np.asarray(given)
        ok = array.dtype.kind in "iuf" and bool(np.isin(array, (-1, 1)).all())
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ProblemShapeError(f"sense must be an array of -1 (≤) and +1 (≥), one per constraint, got {given!r}")
    return np.ascontiguousarray(array, dtype=np.int8)


def _names(name: str, given: object) -> tuple[str, ...]:
    names = tuple(given) if isinstance(given, Iterable) and not isinstance(given, str) else None
    if names is None or not all(isinstance(n, str) for n in names):
        raise ProblemShapeError(f"{name} must be a sequence of strings, got {given!r}")
    return names


def _described(given: object) -> str:
    shape = getattr(given, "shape", None)
    return f"{type(given).__name__}" + (f" of shape {shape}" if shape is not None else "")
