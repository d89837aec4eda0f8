"""Lumpy users (each alone takes a visible share of a limit: a business client among retail borrowers, a lead
priced at a hundred times the rest), decided apart from everyone else.

The Lagrangian's plan rounds the LP relaxation. Rounding costs about K users' worth of value: nothing when
every user is small, a great deal when a few users each take a few percent of the budget (measured: 11 users
with values and costs ×5,000 among 100,000, the plan 8.9 % below the optimum and a certified gap of 10 %,
because the LP bound itself is 1.3 % above the optimum). Here the lumpy users L are decided by an exact MIP,
the master, and the rest R by the Lagrangian at the capacity the lumpy users leave over (generalised Benders
decomposition with Lagrangian cuts), in ≤-form (G = diag(sign), h = G·b):

    maximise   v_L·x_L + θ
    subject to θ ≤ g_R(λ_j) + λ_j·(h − G·W_L·x_L)      for every price vector λ_j ≥ 0 met so far
               G·W_L·x_L ≤ h − Σ_{u∈R} min(0, min_a G·w_u,a)    (the rest can still meet every row)
               at most one action per lumpy user, x_L ∈ {0, 1}

g_R(λ) = Σ_{u∈R} max(0, max_a v − λ·G·w) is the rest's dual function: each cut over-estimates what the rest
can make of any capacity left, so the master's bound is an upper bound on the optimum. Its first cut is at the
whole problem's prices, where the master's bound equals the Lagrangian's; every cut after that can only lower
it. Each round, the master proposes the lumpy users' actions, the Lagrangian plans the rest at the capacity
they leave, its prices give the next cut, and the rounds end when the master's bound and the best plan meet
within the gap.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import highspy
import numpy as np

from optimizer.allocation import Allocation, SolveStatus
from optimizer.core_polish import PROOF_THREADS
from optimizer.dual_pass import DualOracle
from optimizer.feasibility import check_feasible
from optimizer.highs_instance import new_highs, run_highs
from optimizer.problem import AllocationProblem, FloatArray, IntArray
from optimizer.solve_exact_highs import build_highs_model
from optimizer.user_chunks import ChunkRunner

MOST_LUMPY = 64  # at most this many users are decided apart, the largest first: the master is a MIP over
# their actions (measured: 64 users of 20,000 whose expected loss is heavy-tailed, 3 master rounds, 2.3 s)
CROWD_SAMPLE = 10_000  # users (every n/10,000-th) whose weights say what a typical user takes of a row
CROWD_FACTOR = 20.0  # a lumpy user takes at least this many times what a typical user takes (so a row of
# unit contacts with a small limit, where every user is the same size, has no lumpy users)

# Told (λ, an upper bound on the dual value at λ) after each pass of a solve.
PassListener = Callable[[FloatArray, float], None]
# (the rest with the lumpy users' capacity taken out, warm-start prices, seconds, absolute gap, a value at which
# its plan is enough whatever its gap, a listener to every pass over it) → its plan
RestSolver = Callable[[AllocationProblem, FloatArray, float, float, float, PassListener], Allocation]
Progress = Callable[[str], None]


def lumpy_users(problem: AllocationProblem, prices: FloatArray, share: float,
                runner: ChunkRunner | None = None) -> IntArray:
    """Users with an action that takes at least `share` of a priced limit (of |rhs|, or of what every user
    could take of a row whose rhs is 0) and at least CROWD_FACTOR times a typical user's take; the MOST_LUMPY
    largest (by how far over both thresholds) when more qualify. In index order."""
    p = problem
    priced = np.flatnonzero(np.asarray(prices) > 0)
    if share <= 0 or priced.size == 0 or p.users == 0 or p.actions == 0:
        return np.zeros(0, dtype=np.int64)
    runner = runner or ChunkRunner()

    def largest(start: int, stop: int, step: int = 1) -> FloatArray:  # (K', m): each user's largest take
        w = np.abs(p.weight[priced, start:stop:step])
        taken: FloatArray = np.where(p.eligible[None, start:stop:step], w, 0.0).max(axis=2)
        return taken

    rhs = np.abs(p.rhs[priced])
    room = rhs.copy()
    if (rhs == 0).any():  # one pass more, only for such rows
        room = np.where(rhs > 0, rhs, np.sum(runner.map(p.users, lambda a, b: largest(a, b).sum(axis=1)), axis=0))
    crowd = largest(0, p.users, max(1, p.users // CROWD_SAMPLE))
    typical = np.array([np.median(row[row > 0]) if (row > 0).any() else np.inf for row in crowd])
    least = np.maximum(share * room, CROWD_FACTOR * typical)[:, None]

    def chunk(start: int, stop: int) -> tuple[IntArray, FloatArray]:
        over = (largest(start, stop) / least).max(axis=0)
        found = np.flatnonzero(over >= 1.0)
        return start + found, over[found]

    parts = runner.map(p.users, chunk)
    found = np.concatenate([part[0] for part in parts])
    over = np.concatenate([part[1] for part in parts])
    if found.size > MOST_LUMPY:
        found = np.sort(found[np.argsort(-over, kind="stable")[:MOST_LUMPY]])
    return found


@dataclass(frozen=True, slots=True)
class Decomposed:
    plan: IntArray | None  # the best plan found (None: no round found one)
    value: float
    bound: float  # an upper bound on the optimum: the master's, or +inf
    prices: FloatArray  # the rest's prices at the best plan: what one more unit is worth once L is decided
    passes: int  # passes over the users by the rest's Lagrangian, all rounds
    rounds: int
    users: int  # lumpy users decided by the master (those with an action to take)


class _Master:
    """The master MIP over the lumpy users' actions and θ, with cuts added round by round."""

    def __init__(self, problem: AllocationProblem, lumpy: IntArray, rest_floor: FloatArray) -> None:
        sign = problem.sign()
        self.lumpy = lumpy
        # Rows of the lumpy users' own MIP, in their own sense, with room for the rest's least take.
        self.model = build_highs_model(problem.subset(lumpy, problem.rhs - sign * rest_floor))
        self.columns = self.model.users.size
        # d[k, j]: G_k·w_k of column j, for the cuts
        self.signed_weight = sign[:, None] * problem.weight[:, lumpy[self.model.users], self.model.actions]
        self.solver = new_highs()
        self.solver.passModel(self.model.lp)
        inf = highspy.kHighsInf
        self.solver.addCol(1.0, -inf, inf, 0, np.zeros(0, dtype=np.int32), np.zeros(0))
        self.indices = np.arange(self.columns + 1, dtype=np.int32)
        self.lost = False

    def add_cut(self, prices: FloatArray, rest_dual: float) -> None:
        """θ + Σ_j (λ·d_j) x_j ≤ g_R(λ) + λ·h, where `rest_dual` = g_R(λ) + λ·h is the dual value at λ of the
        rest with the whole problem's right-hand sides."""
        if self.lost:
            return
        coefficients = np.r_[prices @ self.signed_weight, 1.0]
        self.solver.addRow(-highspy.kHighsInf, float(rest_dual), self.columns + 1, self.indices,
                           coefficients.astype(np.float64))

    def cuts(self, shift: FloatArray) -> PassListener:
        """Every pass over a rest whose right-hand sides are h − `shift` is a cut, for nothing: its dual value at
        λ bounds g_R(λ) + λ·(h − shift), so adding λ·shift gives the cut's right-hand side (the prices the rest
        ends at are among them). One cut a round, at those prices alone, took 5–6 rounds at 1,000,000 users."""
        def cut(at: FloatArray, value: float) -> None:
            self.add_cut(at, value + float(at @ shift))

        return cut

    def exclude(self, choice: IntArray) -> None:
        """A no-good cut: the lumpy users may not all take `choice` again."""
        if self.lost:
            return
        taken = choice[self.model.users] == self.model.actions
        idle = choice[self.model.users] < 0
        coefficients = np.where(taken, 1.0, np.where(idle, -1.0, 0.0))
        keep = np.flatnonzero(coefficients)
        self.solver.addRow(-highspy.kHighsInf, float(np.count_nonzero(choice >= 0) - 1), keep.size,
                           keep.astype(np.int32), coefficients[keep])

    def solve(self, seconds: float, absolute_gap: float) -> tuple[IntArray | None, float]:
        """The lumpy users' actions (None when the master has no plan) and the master's bound."""
        solver = self.solver
        solver.setOptionValue("time_limit", max(float(seconds), 0.01))
        solver.setOptionValue("mip_rel_gap", 0.0)
        solver.setOptionValue("mip_abs_gap", float(absolute_gap))
        if self.lost or not run_highs(solver, PROOF_THREADS):
            self.lost = True  # left behind far past its time limit, still running: no more rounds with it
            return None, float("inf")
        if solver.getModelStatus() == highspy.HighsModelStatus.kInfeasible:
            return None, float("-inf")
        dual_bound = float(solver.getInfo().mip_dual_bound)
        bound = dual_bound if np.isfinite(dual_bound) else float("inf")
        solution = solver.getSolution()
        columns = np.asarray(solution.col_value)
        if not solution.value_valid or columns.size != self.columns + 1:  # no incumbent (a time-out)
            return None, bound
        choice = np.full(self.lumpy.size, -1, dtype=np.int64)
        taken = np.flatnonzero(columns[: self.columns] > 0.5)
        choice[self.model.users[taken]] = self.model.actions[taken]
        return choice, bound


def _rest_floor(rest: AllocationProblem, runner: ChunkRunner) -> FloatArray:
    """Σ_u min(0, min_a G·w_u,a) per row over the rest's eligible actions: the least the rest must take of each
    row in ≤-form."""
    p = rest
    sign = p.sign()

    def chunk(start: int, stop: int) -> FloatArray:
        signed = sign[:, None, None] * p.weight[:, start:stop]
        allowed = p.eligible[None, start:stop]
        least: FloatArray = np.minimum(np.where(allowed, signed, 0.0).min(axis=2), 0.0).sum(axis=1, dtype=np.float64)
        return least

    parts = runner.map(p.users, chunk)
    return np.sum(parts, axis=0) if parts else np.zeros(p.constraints)


def decide_apart(problem: AllocationProblem, lumpy: IntArray, prices: FloatArray, solve_rest: RestSolver,
                 target: float, deadline: float, progress: Progress, runner: ChunkRunner | None = None,
                 best_plan: IntArray | None = None) -> Decomposed:
    """Rounds of master and rest until the master's bound is within `target` (absolute) of the best plan, or
    the deadline. A choice the master proposes again (the cuts cannot tell it from the plan made with it) is set
    aside at the rest's own bound, and the master proposes the next; once a choice set aside may be worth more
    than the gap allows, the rounds stop (the caller's closing rounds take over). `best_plan` is a plan already
    found, kept when no round beats it. A bound of −inf proves that no plan exists."""
    p = problem
    runner = runner or ChunkRunner()
    best_value = p.objective_of(best_plan) if best_plan is not None else -np.inf
    lumpy = lumpy[p.eligible[lumpy].any(axis=1)]  # a user with no action to take is nobody's choice
    if lumpy.size == 0:
        return Decomposed(best_plan, best_value, np.inf, np.asarray(prices, dtype=np.float64), 0, 0, 0)
    eligible = p.eligible.copy()
    eligible[lumpy] = False
    rest = AllocationProblem(p.value, eligible, p.weight, p.rhs, p.sense, p.constraint_names, p.action_names)
    master = _Master(p, lumpy, _rest_floor(rest, runner))
    sign = p.sign()
    master.add_cut(np.asarray(prices, dtype=np.float64), DualOracle(rest, runner).exact_value(prices))
    best_prices = np.asarray(prices, dtype=np.float64)
    start = best_prices
    planned: dict[bytes, tuple[float, float]] = {}  # choices planned so far: the most any plan with them is
    # worth, and the gap their rest was planned to
    excluded = -np.inf  # the most any choice the master may no longer propose is worth
    bound = np.inf
    passes = rounds = 0
    while time.perf_counter() < deadline:
        rounds += 1
        choice, master_bound = master.solve(deadline - time.perf_counter(), 0.05 * target)
        bound = min(bound, max(master_bound, excluded))
        progress(f"{lumpy.size} lumpy users decided apart, round {rounds}: bound {bound:,.0f}, " + (
            f"best plan {best_value:,.0f}, gap {(bound - best_value) / max(abs(bound), 1e-12):.4%}"
            if np.isfinite(best_value) and np.isfinite(bound) else "no plan yet"))
        if choice is None or bound - best_value <= target:
            break
        if excluded - best_value > target:
            break  # a choice set aside may be worth more than the gap allows: no round can certify the plan now
        taken = choice >= 0
        lumpy_value = float(p.value[lumpy[taken], choice[taken]].sum(dtype=np.float64))
        key = choice.tobytes()
        tight = 0.25 * target
        if key in planned and planned[key][1] <= tight:
            # The cuts cannot tell this choice from the plan already made with it: the rest's LP bound is as
            # low as cuts go, and the rest's own bound (its whole MIP's, on a small problem) may be lower.
            # It is set aside at that bound, and the master proposes the next best choice.
            excluded = max(excluded, planned[key][0])
            master.exclude(choice)
            continue
        used = p.weight[:, lumpy[taken], choice[taken]].sum(axis=1, dtype=np.float64)
        sub = AllocationProblem(p.value, eligible, p.weight, p.rhs - used, p.sense, p.constraint_names,
                                p.action_names)
        # Early rounds only need to tell choices apart: the rest is planned to a twentieth of the gap still
        # open (a quarter of the gap asked for once that is smaller, or when the master proposes it again).
        rest_gap = tight if key in planned or not np.isfinite(best_value) else max(tight, 0.05 * (bound - best_value))
        # A rest worth this makes the whole plan meet the gap against the master's bound: no need to go on (a
        # trial's 300,000-user shift plan spent half of any time limit on a rest it could not close further).
        enough = bound - target - lumpy_value
        answer = solve_rest(sub, start, deadline - time.perf_counter(), rest_gap, enough, master.cuts(sign * used))
        passes += answer.iterations
        reached = answer.bound - answer.objective if np.isfinite(answer.objective) else np.inf
        planned[key] = (lumpy_value + answer.bound if answer.status is not SolveStatus.INFEASIBLE else -np.inf,
                        min(rest_gap, reached))
        if answer.status in (SolveStatus.FEASIBLE, SolveStatus.OPTIMAL):
            plan = np.asarray(answer.action).copy()
            plan[lumpy] = choice
            value = p.objective_of(plan)
            if value > best_value and not check_feasible(p, plan):
                best_plan, best_value, best_prices = plan, value, np.asarray(answer.prices, dtype=np.float64)
            start = np.asarray(answer.prices, dtype=np.float64)
        else:  # no plan for the rest at this capacity (none at all, or none found): never propose it again
            excluded = max(excluded, planned[key][0])
            master.exclude(choice)
    return Decomposed(best_plan, best_value, bound, best_prices, passes, rounds, int(lumpy.size))

