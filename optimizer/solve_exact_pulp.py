"""Exact solver: PuLP + CBC, the model built with PuLP's ordinary API — the baseline planners know.

It is the slowest path we measured (model building in Python objects, then an MPS file for the CBC process),
and it is kept as the reference users can read and run themselves. Two lessons are built in:
- PuLP's status string says "Optimal" after a CBC time-out; only `prob.sol_status` tells whether CBC proved
  optimality, and our own checker decides whether the plan is usable;
- PuLP reads no bound back from CBC, so CBC's log is kept and its bound read from it ("Upper bound:" in the
  result block of a maximisation, else the last "best possible" of its progress lines, which CBC prints for
  the minimisation it solves internally, negated). The printed number is rounded, so half a unit of its last
  digit is added: the bound stays a bound. When CBC printed none, optimizer.solvers.solve bounds the plan by
  the dual value at its prices (optimizer/plan_prices.py).
"""

from __future__ import annotations

import re
import tempfile
import time
import warnings
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import pulp

from optimizer.allocation import Allocation
from optimizer.exact_answer import (
    checked_allocation,
    eligible_pairs,
    infeasible,
    no_solution,
    nothing_to_choose,
    plan_from_columns,
)
from optimizer.problem import AllocationProblem
from optimizer.solver_protocol import SolverUnavailable


def cbc_command(time_limit: float, mip_gap: float, threads: int, log: Path | None = None) -> pulp.LpSolver_CMD:
    """PuLP's bundled CBC, else a `cbc` on PATH; SolverUnavailable when there is neither. CBC's output goes to
    `log` when given (PuLP's logPath), where its bound can be read."""
    options: dict[str, object] = {"msg": False, "timeLimit": float(time_limit), "gapRel": mip_gap,
                                  "threads": threads}
    if log is not None:
        options["logPath"] = str(log)
    with warnings.catch_warnings():
        # PuLP 3.3 deprecates its bundled CBC (to be removed in 4.0) in favour of `pulp[cbc]`, a 190 MB wheel;
        # the bundled binary is what this baseline needs, so the warning is not for our users.
        warnings.simplefilter("ignore", DeprecationWarning)
        bundled = pulp.PULP_CBC_CMD(**options) if hasattr(pulp, "PULP_CBC_CMD") else None
    if bundled is not None and bundled.available():
        return bundled
    on_path = pulp.COIN_CMD(**options)
    if on_path.available():
        return on_path
    raise SolverUnavailable("exact-pulp", "PuLP has no bundled CBC for this platform and no `cbc` is on PATH "
                                          "(install `pulp[cbc]` or the coinor-cbc system package)")


class PulpCbcSolver:
    name = "exact-pulp"

    def __init__(self, time_limit: float = 300.0, mip_gap: float = 1e-6, threads: int = 1) -> None:
        self.time_limit = time_limit
        self.mip_gap = mip_gap
        self.threads = threads

    def solve(self, problem: AllocationProblem) -> Allocation:
        started = time.perf_counter()
        if not problem.eligible.any():
            return nothing_to_choose(problem, self.name, started)
        cbc_command(self.time_limit, self.mip_gap, self.threads)  # SolverUnavailable before any model is built
        empty = _violated_empty_rows(problem)
        if empty:
            return infeasible(problem, self.name, started, f"no eligible action counts in {', '.join(empty)}, "
                                                           "and doing nothing breaks it")
        prob, x = build_pulp_model(problem)
        with tempfile.TemporaryDirectory(prefix="decide-cbc-") as folder:
            log = Path(folder) / "cbc.log"
            prob.solve(cbc_command(self.time_limit, self.mip_gap, self.threads, log))
            cbc_bound = bound_from_log(log.read_text(encoding="utf-8", errors="replace") if log.exists() else "")
        message = f"CBC via PuLP: status {pulp.LpStatus[prob.status]}, solution {pulp.LpSolution[prob.sol_status]}"
        # CBC's "Infeasible" is a proof, also when PuLP reports the solution as "No Solution Found".
        if prob.sol_status == pulp.LpSolutionInfeasible or prob.status == pulp.LpStatusInfeasible:
            return infeasible(problem, self.name, started, message)
        if prob.sol_status not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
            return no_solution(problem, self.name, started, message, cbc_bound)
        users, actions = eligible_pairs(problem)
        columns = np.array([var.varValue if var.varValue is not None else 0.0 for var in x], dtype=np.float64)
        action = plan_from_columns(problem, users, actions, columns)
        proven = prob.sol_status == pulp.LpSolutionOptimal
        # CBC stops at the relative gap we gave it, so a proven plan is within mip_gap of the bound.
        objective = problem.objective_of(action)
        bound = objective + self.mip_gap * abs(objective) if proven else cbc_bound
        return checked_allocation(problem, action, bound=bound, proven=proven, gap_tolerance=self.mip_gap,
                                  method=self.name, started=started, message=message)


_UPPER_BOUND = re.compile(r"^Upper bound:\s+(\S+)", re.M)
_BEST_POSSIBLE = re.compile(r"best possible (\S+?)\)?(?:\s|,|$)")


def bound_from_log(log: str) -> float:
    """CBC's bound on the maximum, from its log (+inf when it printed none); see the module docstring."""
    found = _UPPER_BOUND.findall(log)
    sign = 1.0
    if not found:
        found, sign = _BEST_POSSIBLE.findall(log), -1.0
    if not found:
        return float("inf")
    try:
        printed = Decimal(found[-1])
    except InvalidOperation:
        return float("inf")
    exponent = printed.as_tuple().exponent
    if not printed.is_finite() or not isinstance(exponent, int) or abs(printed) >= Decimal("1e30"):
        return float("inf")  # CBC prints 1e+50 for "no bound"
    return sign * float(printed) + 0.5 * 10.0**exponent


def build_pulp_model(problem: AllocationProblem) -> tuple[pulp.LpProblem, list[pulp.LpVariable]]:
    """The allocation MIP in PuLP's own objects: one binary per eligible pair, rows named as in the plan."""
    p = problem
    users, actions = eligible_pairs(p)
    prob = pulp.LpProblem("allocation", pulp.LpMaximize)
    x = [prob.add_variable(f"x_{u}_{a}", 0, 1, pulp.LpBinary)
         for u, a in zip(users.tolist(), actions.tolist(), strict=True)]
    values = p.value[users, actions].tolist()
    prob += pulp.LpAffineExpression(list(zip(x, values, strict=True))), "expected_value"
    starts = np.searchsorted(users, np.arange(p.users + 1)).tolist()
    for u in range(p.users):
        if starts[u + 1] - starts[u] > 1:
            prob += pulp.lpSum(x[starts[u]:starts[u + 1]]) <= 1, f"one_action_{u}"
    for k in range(p.constraints):
        w = p.weight[k, users, actions]
        nz = np.flatnonzero(w).tolist()
        if not nz:  # PuLP would write a row without terms; solve() has checked that 0 satisfies it
            continue
        expression = pulp.LpAffineExpression([(x[j], float(w[j])) for j in nz])
        rhs = float(p.rhs[k])
        row = expression <= rhs if p.sense[k] < 0 else expression >= rhs
        prob += row, f"c{k}"
    return prob, x


def _violated_empty_rows(problem: AllocationProblem) -> list[str]:
    """Names of rows with no eligible term whose right-hand side 0 cannot meet."""
    eligible_weight = np.where(problem.eligible[None], problem.weight, 0.0)
    empty = ~eligible_weight.any(axis=(1, 2))
    broken = empty & (((problem.sense < 0) & (problem.rhs < 0)) | ((problem.sense > 0) & (problem.rhs > 0)))
    return [problem.constraint_names[k] for k in np.flatnonzero(broken)]
