"""Exact solvers through OR-Tools: SCIP (and GLOP) via the model builder's array API, and CP-SAT.

Variables exist only for eligible (user, action) pairs, as in the HiGHS path. SCIP gets the whole model in one
call, `ModelBuilderHelper.fill_model_from_sparse_data`, from numpy arrays and a scipy CSR matrix (OR-Tools'
pybind11 layer takes sparse matrices as scipy objects); nothing is added coefficient by coefficient.

CP-SAT needs integer coefficients. Each row, and the objective, is multiplied by its own power of ten 10^e:
the smallest e that makes every coefficient an integer when one within `digits` significant digits exists (the
scaling is then exact), else the e that keeps `digits` significant digits of the row's largest coefficient
(6 for the rows and 9 for the objective by default: the rows' size slows CP-SAT, the objective's hardly).
Inexact rows are rounded towards feasibility (weights of ≤ rows up, right-hand sides down; the reverse for ≥
rows), so every plan CP-SAT returns is feasible for the original problem. The objective is rounded to nearest
and the reported objective is always recomputed in float on the original problem. The bound is CP-SAT's bound
plus the largest objective rounding error when the rows were scaled exactly, and otherwise the Lagrangian dual
at GLOP's LP prices on the original problem (any prices give a valid bound; the LP's are the best ones).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse
from ortools.linear_solver.python import model_builder_helper as mbh
from ortools.sat.python import cp_model

from optimizer.allocation import Allocation, SolveStatus
from optimizer.dual_pass import DualOracle
from optimizer.exact_answer import (
    checked_allocation,
    eligible_pairs,
    infeasible,
    no_solution,
    nothing_to_choose,
    plan_from_columns,
)
from optimizer.problem import AllocationProblem, FloatArray, IntArray
from optimizer.solver_protocol import SolverUnavailable

INTEGRAL_TOL = 1e-9  # a scaled coefficient this close (relatively) to an integer counts as that integer


# --- the model builder path (SCIP, GLOP) -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SparseModel:
    """The MIP as arrays: N "at most one" rows then K coupling rows, one column per eligible pair."""

    users: IntArray  # (V,)
    actions: IntArray  # (V,)
    objective: FloatArray  # (V,)
    row_lower: FloatArray  # (N + K,)
    row_upper: FloatArray  # (N + K,)
    matrix: scipy.sparse.csr_matrix  # (N + K, V)


def build_sparse_model(problem: AllocationProblem) -> SparseModel:
    p = problem
    users, actions = eligible_pairs(p)
    v = users.size
    coefficients = p.weight[:, users, actions]  # (K, V)
    # Rows 0 … N-1: user u's columns are contiguous, because np.nonzero walks the mask row by row.
    per_user = np.bincount(users, minlength=p.users)
    nonzero = [np.flatnonzero(coefficients[k]) for k in range(p.constraints)]
    row_nnz = np.concatenate([per_user, [nz.size for nz in nonzero]]).astype(np.int64)
    indptr = np.zeros(p.users + p.constraints + 1, dtype=np.int64)
    np.cumsum(row_nnz, out=indptr[1:])
    indices = np.concatenate([np.arange(v, dtype=np.int64), *nonzero])
    data = np.concatenate([np.ones(v), *(coefficients[k, nz] for k, nz in enumerate(nonzero))])
    matrix = scipy.sparse.csr_matrix((data, indices, indptr), shape=(p.users + p.constraints, v))
    lower = np.r_[np.full(p.users, -np.inf), np.where(p.sense > 0, p.rhs, -np.inf)]
    upper = np.r_[np.ones(p.users), np.where(p.sense < 0, p.rhs, np.inf)]
    return SparseModel(users, actions, p.value[users, actions].astype(np.float64), lower, upper, matrix)


def model_builder(model: SparseModel, integer: bool) -> mbh.ModelBuilderHelper:
    helper = mbh.ModelBuilderHelper()
    v = model.users.size
    m = model
    # The .pyi spells the vectors `numpy.ndarray[numpy.float64[m, 1]]`, which no real array type matches.
    helper.fill_model_from_sparse_data(np.zeros(v), np.ones(v), m.objective, m.row_lower, m.row_upper, m.matrix)  # type: ignore[arg-type]
    helper.set_maximize(True)
    if integer:
        # The array call builds continuous columns; integrality is one flag per column (no matrix work).
        for j in range(v):
            helper.set_var_integrality(j, True)
    return helper


def _backend(name: str, solver_name: str) -> mbh.ModelSolverHelper:
    backend = mbh.ModelSolverHelper(name)
    if not backend.solver_is_supported():
        raise SolverUnavailable(solver_name, f"this OR-Tools build has no {name.upper()} backend")
    return backend


class ScipSolver:
    """SCIP through OR-Tools' model builder: one thread (SCIP's default), relative gap `mip_gap`."""

    name = "exact-scip"

    def __init__(self, time_limit: float = 300.0, mip_gap: float = 1e-6) -> None:
        self.time_limit = time_limit
        self.mip_gap = mip_gap

    def solve(self, problem: AllocationProblem) -> Allocation:
        started = time.perf_counter()
        if not problem.eligible.any():
            return nothing_to_choose(problem, self.name, started)
        backend = _backend("scip", self.name)
        model = build_sparse_model(problem)
        helper = model_builder(model, integer=True)
        backend.set_time_limit_in_seconds(float(self.time_limit))
        backend.set_solver_specific_parameters(f"limits/gap = {self.mip_gap!r}")
        backend.enable_output(False)
        backend.solve(helper)
        status = backend.status()
        message = f"SCIP: {status.name}"
        if status == mbh.SolveStatus.INFEASIBLE:
            return infeasible(problem, self.name, started, message)
        if status not in (mbh.SolveStatus.OPTIMAL, mbh.SolveStatus.FEASIBLE) or not backend.has_solution():
            # Stopped before a plan (NOT_SOLVED at a time limit), SCIP's response says 0 for its bound at 30,000
            # users where the optimum is 340,000: no bound is read from an unsolved response.
            return no_solution(problem, self.name, started, message, float("inf"))
        bound = float(backend.best_objective_bound()) if backend.has_response() else float("inf")
        bound = bound if np.isfinite(bound) else float("inf")
        action = plan_from_columns(problem, model.users, model.actions, np.asarray(backend.variable_values()))
        return checked_allocation(problem, action, bound=bound, proven=status == mbh.SolveStatus.OPTIMAL,
                                  gap_tolerance=self.mip_gap, method=self.name, started=started, message=message)


def glop_lp_prices(problem: AllocationProblem, time_limit: float = 60.0) -> FloatArray | None:
    """(K,) ≥ 0 prices in ≤-form from GLOP's LP relaxation duals; None when GLOP does not solve the LP."""
    backend = _backend("glop", "GLOP")
    helper = model_builder(build_sparse_model(problem), integer=False)
    backend.set_time_limit_in_seconds(float(time_limit))
    backend.solve(helper)
    if backend.status() != mbh.SolveStatus.OPTIMAL:
        return None
    # Sign conventions differ between solvers; in ≤-form every useful price is ≥ 0 and any λ ≥ 0 is valid.
    prices: FloatArray = np.abs(np.asarray(backend.dual_values(), dtype=np.float64)[problem.users:])
    return prices


# --- CP-SAT -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecimalScale:
    exponent: int  # coefficients are multiplied by 10**exponent
    exact: bool  # every scaled coefficient is an integer (to INTEGRAL_TOL)

    @property
    def factor(self) -> float:
        return 10.0**self.exponent


def decimal_scale(values: FloatArray, digits: int) -> DecimalScale:
    """The power of ten that turns `values` into integers, keeping at most `digits` significant digits."""
    values = values[values != 0]
    if values.size == 0:
        return DecimalScale(0, True)
    largest = float(np.abs(values).max())
    top = math.floor(digits - math.log10(largest))  # largest · 10^top < 10^digits (up to one ulp)
    for exponent in range(min(0, top), top + 1):
        scaled = values * 10.0**exponent
        if np.all(np.abs(scaled - np.round(scaled)) <= INTEGRAL_TOL * np.maximum(1.0, np.abs(scaled))):
            return DecimalScale(exponent, True)
    return DecimalScale(top, False)


def _round_to_integer(x: FloatArray, direction: int) -> IntArray:
    """Round up (+1), down (-1) or to nearest (0); values within INTEGRAL_TOL of an integer go to it."""
    nearest = np.round(x)
    close = np.abs(x - nearest) <= INTEGRAL_TOL * np.maximum(1.0, np.abs(x))
    if direction > 0:
        rounded = np.where(close, nearest, np.ceil(x))
    elif direction < 0:
        rounded = np.where(close, nearest, np.floor(x))
    else:
        rounded = nearest
    result: IntArray = rounded.astype(np.int64)
    return result



@dataclass(frozen=True, slots=True)
class IntegerModel:
    """The problem with integer coefficients, as CP-SAT gets it, and how it was scaled."""

    objective: IntArray  # (V,) round(value · 10^e_obj)
    objective_scale: DecimalScale
    rows: tuple[tuple[IntArray, IntArray, int], ...]  # per constraint: (columns, integer weights, integer rhs)
    row_scales: tuple[DecimalScale, ...]
    objective_error: float  # Σ_u max_a (value − round(value·s)/s)⁺: what rounding the objective can hide

    @property
    def rows_exact(self) -> bool:
        return all(scale.exact for scale in self.row_scales)


def integer_model(problem: AllocationProblem, users: IntArray, actions: IntArray, digits: int,
                  objective_digits: int) -> IntegerModel:
    p = problem
    value = p.value[users, actions]
    objective_scale = decimal_scale(value, objective_digits)
    objective = _round_to_integer(value * objective_scale.factor, 0)
    error = value - objective / objective_scale.factor
    per_user = np.zeros(p.users)
    np.maximum.at(per_user, users, np.maximum(error, 0.0))
    rows: list[tuple[IntArray, IntArray, int]] = []
    scales: list[DecimalScale] = []
    for k in range(p.constraints):
        w = p.weight[k, users, actions]
        columns = np.flatnonzero(w)
        # The right-hand side does not set the scale: with integer weights, lhs ≤ b·s ⇔ lhs ≤ ⌊b·s⌋ exactly.
        scale = decimal_scale(w[columns], digits)
        # Round towards feasibility: in ≤-form (≥ rows negated) weights go up and the right-hand side down.
        sign = -float(p.sense[k])
        weights = _round_to_integer(sign * w[columns] * scale.factor, +1)
        rhs = int(_round_to_integer(np.array([sign * p.rhs[k] * scale.factor]), -1)[0])
        rows.append((columns.astype(np.int64), weights, rhs))
        scales.append(scale)
    return IntegerModel(objective, objective_scale, tuple(rows), tuple(scales), float(per_user.sum()))


class CpSatSolver:
    """CP-SAT on the integer-scaled model (see the module docstring); one worker by default, so runs repeat."""

    name = "exact-cpsat"

    def __init__(self, time_limit: float = 300.0, mip_gap: float = 1e-6, workers: int = 1,
                 digits: int = 6, objective_digits: int = 9) -> None:
        self.time_limit = time_limit
        self.mip_gap = mip_gap
        self.workers = workers
        self.digits = digits  # significant digits kept of each row's weights
        self.objective_digits = objective_digits  # of the values: their rounding error widens the bound

    def solve(self, problem: AllocationProblem) -> Allocation:
        started = time.perf_counter()
        if not problem.eligible.any():
            return nothing_to_choose(problem, self.name, started)
        users, actions = eligible_pairs(problem)
        scaled = integer_model(problem, users, actions, self.digits, self.objective_digits)
        model = cp_model.CpModel()
        x = [model.new_bool_var(f"x{j}") for j in range(users.size)]
        starts = np.searchsorted(users, np.arange(problem.users + 1))
        for u in range(problem.users):
            if starts[u + 1] - starts[u] > 1:
                model.add_at_most_one(x[starts[u]:starts[u + 1]])
        for columns, weights, rhs in scaled.rows:
            terms = [x[j] for j in columns.tolist()]
            model.add(cp_model.LinearExpr.weighted_sum(terms, weights.tolist()) <= rhs)
        model.maximize(cp_model.LinearExpr.weighted_sum(x, scaled.objective.tolist()))
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = self.workers
        solver.parameters.max_time_in_seconds = float(self.time_limit)
        solver.parameters.relative_gap_limit = self.mip_gap
        # Level 2 puts the "at most one" rows into CP-SAT's LP relaxation; without it one worker stalls at a
        # 0.4 % gap after 60 s on 1,000 marketing users, with it the model solves in about 5 s.
        solver.parameters.linearization_level = 2
        status = solver.solve(model)
        scales = (f"objective × 10^{scaled.objective_scale.exponent}, rows × 10^"
                  + ", ".join(str(s.exponent) for s in scaled.row_scales))
        message = f"CP-SAT: {solver.status_name(status)} ({scales})"
        if status == cp_model.MODEL_INVALID:
            raise RuntimeError(f"CP-SAT rejected the model: {model.validate()}")
        if status == cp_model.INFEASIBLE:
            if scaled.rows_exact or _dual_proves_infeasible(problem, self.time_limit):
                return infeasible(problem, self.name, started, message)
            return no_solution(problem, self.name, started,
                               f"{message}: infeasible after rounding weights towards feasibility; the original "
                               "problem may still be feasible by less than one rounding step")
        bound = self._bound(problem, scaled, solver)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return no_solution(problem, self.name, started, message, bound)
        solution = np.asarray(solver.response_proto.solution, dtype=np.float64)[: users.size]
        action = plan_from_columns(problem, users, actions, solution)
        exact = scaled.rows_exact and scaled.objective_scale.exact
        return checked_allocation(problem, action, bound=bound, proven=status == cp_model.OPTIMAL and exact,
                                  gap_tolerance=self.mip_gap, method=self.name, started=started, message=message)

    def _bound(self, problem: AllocationProblem, scaled: IntegerModel, solver: cp_model.CpSolver) -> float:
        if scaled.rows_exact:
            raw = float(solver.best_objective_bound)
            if not np.isfinite(raw):
                return float("inf")
            return raw / scaled.objective_scale.factor + scaled.objective_error
        # The rounded rows describe a smaller problem, so CP-SAT's bound is not one for the original.
        prices = glop_lp_prices(problem, time_limit=max(1.0, float(self.time_limit)))
        if prices is None:
            return float("inf")
        return DualOracle(problem).exact_value(prices)


def _dual_proves_infeasible(problem: AllocationProblem, seconds: float) -> bool:
    """Whether the unrounded problem is infeasible too, which CP-SAT's rounded rows cannot tell: its Lagrangian
    dual is unbounded below (a proof for the LP relaxation, so for every integer plan); or, when only whole
    plans are impossible, HiGHS proves it on the unrounded MIP (small problems: those CP-SAT is for)."""
    from optimizer.solve_exact_highs import HighsExactSolver
    from optimizer.solve_lagrangian import LagrangianOptions, LagrangianSolver

    answer = LagrangianSolver(LagrangianOptions(time_limit=max(1.0, 0.1 * seconds))).solve(problem)
    if answer.status is SolveStatus.INFEASIBLE:
        return True
    return HighsExactSolver(time_limit=max(1.0, 0.5 * seconds)).solve(problem).status is SolveStatus.INFEASIBLE
