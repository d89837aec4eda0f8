"""Large-scale solver: Lagrangian dual decomposition with a trust-region cutting-plane master, then repair, fill
and an exact polish of the users nearest a switch. Every answer carries the dual bound, so its gap is
certified: bound ≥ optimum ≥ plan value.

The dual of this model equals its LP relaxation (each user's sub-problem, "pick at most one action", has the
integrality property), so the bound is as tight as the LP's.

Large problems first solve the dual of a random sample of their users (right-hand sides scaled to the sample's
share): the sample's prices are within sampling noise of the full problem's, so the full problem starts next
to its optimum in a small box and needs a few passes over all users instead of twenty or more.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from optimizer.allocation import Allocation, SolveStatus
from optimizer.core_lp_round import lp_round
from optimizer.core_polish import NODE_LIMIT, Polished, free_users, polish, polish_exact, twin_hashes
from optimizer.dual_master import CuttingPlaneModel, MasterFailure
from optimizer.dual_pass import DualOracle, PassResult
from optimizer.feasibility import check_feasible
from optimizer.lumpy_users import Decomposed, PassListener, decide_apart, lumpy_users
from optimizer.plan_prices import typical_prices
from optimizer.problem import AllocationProblem, FloatArray, IntArray
from optimizer.repair import fill, repair
from optimizer.user_chunks import ChunkRunner

Progress = Callable[[str], None]  # one line on where the solve is: shown by `decide optimize` as it runs
SAMPLE_SEED = 20261125  # the sample only chooses where the search starts: fixed, so runs repeat exactly


@dataclass(frozen=True, slots=True)
class LagrangianOptions:
    gap: float = 1e-4  # stop when (bound − best plan) / max(|bound|, gap_scale) is below this
    gap_scale: float = 0.0  # the least magnitude the gap is relative to: for a problem whose optimum is near 0,
    # as Dinkelbach's steps are (max profit − q·spend at q near the best ROI), the caller names the value that
    # matters (the profit); relative to a bound near 0, no plan short of the exact optimum would do
    max_passes: int = 200
    time_limit: float = 600.0
    serious_fraction: float = 0.1  # a step is "serious" when it achieves this share of the predicted decrease
    primal_every: int = 25  # also build a plan every this many passes, in case the dual converges slowly
    threads: int = 0  # 0: every core this process may use
    sample_from: int = 50_000  # from this many users on, solve a sample's dual first (a quarter of this, or 1/16)
    polish_users: int = 600  # users nearest a switch re-optimised exactly by HiGHS (0: no polish) …
    polish_share: float = 2e-4  # … or this share of all users if more (2,000 at 10⁷: 4e-5 → 7e-6 gap, measured)
    polish_seconds: float = 0.0  # 0: a polish stops at its gap or its node limit (work, not wall-clock time),
    # so the same problem gives the same plan on a busy machine and a quiet one. > 0: also at most this many
    # seconds for `polish_users` users (in proportion for more), and the plan may then depend on the machine
    lp_round_users: int = 20_000  # when the dual has converged short of the gap: the LP over this many users
    # nearest a switch, rounded (doubling, with the polish, until the gap, the time limit or every user)
    fill_rounds: int = 1  # greedy upgrades into leftover slack before the polish (a pass over the users each;
    # 3 when there is no polish): a repaired plan can leave a limit short by more small contacts than a core
    # holds (on a 30,000-user shift plan 352 SMS; the solve took 19 s without, 4 s with); more rounds measured
    # the same on the trial's plans and the spring plan
    lumpy_share: float = 1e-3  # users whose action alone takes this share of a priced limit (and 20 times a
    # typical user's take) are decided apart by an exact master MIP when the rounded plan misses the gap
    # (optimizer.lumpy_users); 0: never
    enough: float = math.inf  # stop once the best plan is worth at least this, whatever the gap: for a caller
    # that needs no better (the lumpy users' rest needs only what makes the whole plan meet its gap)

    def __post_init__(self) -> None:
        # Options come from users' own code: a negative gap or a NaN time limit would otherwise run to the pass
        # limit or stop at once with an answer that looks like any other.
        def number(name: str, low: float, high: float = math.inf, low_open: bool = False) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or (
                    value <= low if low_open else value < low) or value > high:
                where = f"{'above' if low_open else 'at least'} {low:g}" + (
                    f" and at most {high:g}" if math.isfinite(high) else "")
                raise ValueError(f"LagrangianOptions: {name} must be a number {where}, got {value!r}")

        def count(name: str, low: int) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
                raise ValueError(f"LagrangianOptions: {name} must be a whole number of at least {low}, got {value!r}")

        number("gap", 0.0)
        number("gap_scale", 0.0)
        number("time_limit", 0.0)
        number("serious_fraction", 0.0, 1.0, low_open=True)
        number("polish_share", 0.0, 1.0)
        number("polish_seconds", 0.0)
        number("lumpy_share", 0.0, 1.0)
        if isinstance(self.enough, bool) or not isinstance(self.enough, int | float) or math.isnan(self.enough):
            raise ValueError(f"LagrangianOptions: enough must be a number, got {self.enough!r}")
        for name, low in (("max_passes", 1), ("primal_every", 1), ("threads", 0), ("sample_from", 0),
                          ("polish_users", 0), ("lp_round_users", 0), ("fill_rounds", 0)):
            count(name, low)


class _DualSearch:
    """The trust-region cutting-plane method on the dual, one pass over the users per step."""

    def __init__(self, oracle: DualOracle, scale: FloatArray, start: FloatArray, radius: float,
                 serious_fraction: float) -> None:
        """The box is start ± radius·scale (per constraint), and grows or shrinks by halves from there."""
        self.oracle = oracle
        self.scale = scale
        self.model = CuttingPlaneModel(scale.size)
        self.center = start
        self.at_center = oracle.evaluate(start)
        self.model.add(start, self.at_center.dual_value, self.at_center.subgradient)
        self.bound = self.at_center.dual_value
        self.radius = radius
        self.serious_fraction = serious_fraction
        self.last: PassResult = self.at_center
        self.decrease = np.inf  # what the model predicted for the last step
        self.on_edge = True

    def step(self) -> bool:
        """One master solve and one pass; False when the master LP fails (stop at the best point)."""
        lower = np.maximum(self.center - self.radius * self.scale, 0.0)
        upper = self.center + self.radius * self.scale
        try:
            candidate, predicted = self.model.minimise(lower, upper)
        except MasterFailure:
            return False
        result = self.oracle.evaluate(candidate)
        self.model.add(candidate, result.dual_value, result.subgradient)
        self.bound = min(self.bound, result.dual_value)
        self.last = result
        self.decrease = self.at_center.dual_value - predicted
        self.on_edge = bool(np.any(np.isclose(candidate, upper) | (np.isclose(candidate, lower) & (lower > 0))))
        if result.dual_value <= self.at_center.dual_value - self.serious_fraction * self.decrease:
            self.center, self.at_center = candidate, result
            if self.on_edge:
                self.radius = min(self.radius * 2.0, 1e9)
        else:
            self.radius = max(self.radius * 0.5, 1e-9)
        return True

    def settled(self, tolerance: float, floor: float = 0.0) -> bool:
        """The model's minimum lies inside the box and predicts less than `tolerance` of max(|bound|, floor)
        to gain."""
        return not self.on_edge and self.decrease <= tolerance * max(abs(self.bound), floor)


class LagrangianSolver:
    name = "lagrangian"

    def __init__(self, options: LagrangianOptions | None = None, progress: Progress | None = None,
                 on_pass: PassListener | None = None) -> None:
        """`on_pass` is told (λ, an upper bound on the dual value at λ) after every pass over the whole problem
        (not over the sample that starts a large one)."""
        self.options = options or LagrangianOptions()
        self.on_pass = on_pass
        self.runner = ChunkRunner(self.options.threads)
        self.progress: Progress = progress or (lambda _: None)
        self.hashes: tuple[AllocationProblem, npt.NDArray[np.uint64]] | None = None  # twin_hashes, once a solve
        self.proven_infeasible = False  # set by a plan-building step whose MIP over every user has no plan

    def _sample_start(self, problem: AllocationProblem, scale: FloatArray) -> _DualSearch:
        """The dual search, started from the prices of a random sample's dual when the problem is large.

        A sample of m users estimates each price to within about 1/√m of itself, so the search starts in a
        box that wide (and a little wider for prices near 0): measured at 10⁶ users, a box of 5 % of the price
        scale cost four shrinking passes over all users before the first step succeeded."""
        opts = self.options
        n = problem.users
        oracle = DualOracle(problem, self.runner)
        if n < opts.sample_from:
            return _DualSearch(oracle, scale, np.zeros(problem.constraints), 1.0, opts.serious_fraction)
        size = max(opts.sample_from // 4, n // 16)
        chosen = np.flatnonzero(np.random.default_rng(SAMPLE_SEED).random(n) < size / n)
        inner = self._sample_start(problem.subset(chosen, problem.rhs * (chosen.size / n)), scale)
        for step in range(1, opts.max_passes + 1):
            self.progress(f"prices from a sample of {chosen.size:,} users: pass {step}, bound {inner.bound:,.0f}")
            if not inner.step() or inner.settled(opts.gap * 0.01, opts.gap_scale):
                break
        width = np.abs(inner.center) / np.sqrt(chosen.size) + 5e-4 * scale
        return _DualSearch(oracle, width, inner.center, 1.0, opts.serious_fraction)

    def solve(self, problem: AllocationProblem, start: FloatArray | None = None) -> Allocation:
        """Solve; `start` warm-starts the prices (e.g. from the previous point of a frontier)."""
        if start is not None:
            start = np.asarray(start, dtype=np.float64)
            if start.shape != (problem.constraints,) or not np.isfinite(start).all():
                raise ValueError(f"solve_lagrangian: start must be {problem.constraints} finite prices, one per "
                                 f"constraint, got an array of shape {start.shape}"
                                 + ("" if np.isfinite(start).all() else " with NaN or infinite values"))
        try:
            return self._solve(problem, start)
        finally:
            self.hashes = None  # a vector of N, and a reference that would keep the problem alive

    def _solve(self, problem: AllocationProblem, start: FloatArray | None) -> Allocation:
        started = time.perf_counter()
        self.proven_infeasible = False
        opts = self.options
        k = problem.constraints
        if k == 0:
            oracle = DualOracle(problem, self.runner)
            result = oracle.evaluate(np.zeros(0))
            return Allocation(result.action, problem.objective_of(result.action), result.dual_value,
                              SolveStatus.OPTIMAL, self.name, time.perf_counter() - started, np.zeros(0),
                              result.usage, 1)
        scale = typical_prices(problem, limit=1_000_000)
        if start is None:
            search = self._sample_start(problem, scale)
        else:  # a warm start is near: begin with a smaller box
            search = _DualSearch(DualOracle(problem, self.runner), scale, np.maximum(np.asarray(start, float), 0.0),
                                 0.25, opts.serious_fraction)
        oracle = search.oracle
        if self.on_pass is not None:  # the search's first pass came before anyone could listen
            self.on_pass(search.center.copy(), search.at_center.dual_value)
            oracle.listener = self.on_pass
        # Any feasible plan is worth at least the oracle's floor; a dual value below it proves that no plan is.
        floor = oracle.floor
        best_plan: IntArray | None = None
        best_value = -np.inf
        next_attempt = np.inf  # build a plan only once the bound is at or below this
        deadline = started + opts.time_limit
        best_prices = search.center
        mip_bound = float("inf")  # HiGHS's bound, once it has solved the whole MIP (or the lumpy users' master)
        extra_passes = 0  # passes over the users by the Lagrangian of the users left when lumpy ones are decided
        tried_lumpy = False  # lumpy users are decided apart once a solve
        decided_apart = 0  # how many, when they were
        why = "HiGHS's MIP over every user proves that no plan of whole contacts satisfies every constraint"
        for iteration in range(1, opts.max_passes + 1):
            if not search.step():
                break
            if search.bound < floor - 1e-9 * max(1.0, abs(floor)):
                return Allocation(search.last.action, float("-inf"), float("-inf"), SolveStatus.INFEASIBLE,
                                  self.name, time.perf_counter() - started, search.center, search.last.usage,
                                  oracle.passes, "the dual is unbounded: no plan satisfies every constraint")
            bound = search.bound
            self.progress(f"pass {oracle.passes} over {problem.users:,} users: bound {bound:,.0f}, " + (
                f"best plan {best_value:,.0f}, gap {(bound - best_value) / self._scale(bound):.4%}"
                if best_plan is not None else "no plan yet"))
            # A plan costs a repair, a fill and a polish: build one only once the dual has settled and the bound
            # has moved by half the last gap since the last attempt.
            settled = search.settled(opts.gap * 0.25, opts.gap_scale)
            if (settled and bound <= next_attempt) or iteration % opts.primal_every == 0:
                plan = self._primal(problem, search.at_center, search.center, bound, deadline)
                if plan is None and self.proven_infeasible:
                    break
                if plan is not None:
                    value = problem.objective_of(plan)
                    if value > best_value:
                        best_plan, best_value, best_prices = plan, value, search.center.copy()
                magnitude = self._scale(bound)
                last_gap = (bound - best_value) / magnitude
                next_attempt = bound - 0.5 * max(last_gap if np.isfinite(last_gap) else 0.0, opts.gap) * magnitude
            gap = (bound - best_value) / self._scale(bound)
            if gap <= opts.gap or best_value >= opts.enough or time.perf_counter() - started > opts.time_limit:
                break
            # The dual has converged: what is left is the plan's distance from the bound. Wider cores, by LP
            # rounding and by exact polish, until the gap or the time limit (measured: on the demo's plan at a
            # frontier point's prices, a 600-user core left 1.7e-4; with objective loans, 6,000 tied users
            # needed the LP; at 3,000 users on the shift plan only the whole MIP reaches the optimum).
            converged = (search.settled(opts.gap * 0.01, opts.gap_scale)
                         or search.decrease <= 1e-10 * max(abs(bound), opts.gap_scale, 1.0))
            apart = self._lumpy_apart(problem, search.center, bound, deadline, best_plan) if (
                converged and not tried_lumpy) else None
            tried_lumpy |= converged
            if apart is not None:
                extra_passes += apart.passes
                decided_apart = apart.users if apart.rounds else 0
                if apart.plan is not None and apart.value >= best_value:
                    best_plan, best_value, best_prices = apart.plan, apart.value, apart.prices
                mip_bound = min(mip_bound, apart.bound)
                if best_plan is None and apart.bound == float("-inf"):
                    self.proven_infeasible = True
                    why = ("no choice of actions for the users decided apart (lumpy users) leaves the others a "
                           "plan that satisfies every constraint")
                if self.proven_infeasible or min(bound, mip_bound) - best_value <= opts.gap * self._scale(bound):
                    break
            if converged and best_plan is not None:
                best_plan, best_value, closed = self._improve(problem, best_plan, best_value, search.center,
                                                              bound, search.at_center.dual_value, deadline)
                mip_bound = min(mip_bound, closed)
                best_prices = search.center.copy()
                break
        if best_plan is None and not self.proven_infeasible:
            plan = self._primal(problem, search.at_center, search.center, search.bound, deadline)
            if plan is not None:
                best_plan, best_value, best_prices = plan, problem.objective_of(plan), search.center.copy()
        seconds = time.perf_counter() - started
        if best_plan is None and self.proven_infeasible:
            return Allocation(search.at_center.action, float("-inf"), float("-inf"), SolveStatus.INFEASIBLE,
                              self.name, seconds, search.center, search.at_center.usage, oracle.passes,
                              why, dual_bound=search.bound)
        if best_plan is None:
            return Allocation(search.at_center.action, float("-inf"), search.bound, SolveStatus.NO_SOLUTION,
                              self.name, seconds, search.center, search.at_center.usage, oracle.passes,
                              "repair could not make the plan feasible; the constraints may conflict",
                              dual_bound=search.bound)
        dual_bound = bound = search.bound
        bound = min(bound, max(mip_bound, best_value))
        # Passes in float32 carry a rounding allowance; when it is a visible part of the gap, the reported bound
        # is one exact pass at the best prices (still a valid bound: any λ ≥ 0 gives one).
        if oracle.rounding_allowance(search.center) > 0.01 * max(bound - best_value, 0.0):
            dual_bound = min(dual_bound, oracle.exact_value(search.center))
            bound = min(bound, dual_bound)
            seconds = time.perf_counter() - started
        gap = (bound - best_value) / self._scale(bound)
        status = SolveStatus.OPTIMAL if gap <= 1e-9 else SolveStatus.FEASIBLE
        return Allocation(best_plan, best_value, bound, status, self.name, seconds, best_prices,
                          problem.usage_of(best_plan), oracle.passes + extra_passes, dual_bound=dual_bound,
                          apart=decided_apart)

    def _improve(self, problem: AllocationProblem, plan: IntArray, value: float, prices: FloatArray, bound: float,
                 at_prices: float, deadline: float) -> tuple[IntArray, float, float]:
        """Round i: the LP over `lp_round_users`·2^i users nearest a switch, rounded, then the exact polish of
        `polish_users`·2^(i+1), from the best plan so far; or, once the users reduced-cost fixing leaves free
        (`at_prices` is g at `prices`) have no more columns than the round's core, the exact MIP over them with
        a node limit. Ends at the gap, at the deadline, or with the whole MIP; the dual bound of either exact
        MIP (third of the result) then bounds the problem."""
        opts = self.options
        n = problem.users
        base = self._polish_size(problem)
        target = opts.gap * self._scale(bound)
        mip_bound = float("inf")
        width = 1
        rounding = True  # LP rounding, until a round of it does not improve the plan
        while min(mip_bound, bound) - value > target and value < opts.enough and opts.polish_users > 0:
            lp_users = min(n, max(opts.lp_round_users, 16 * base) * width)
            core = min(n, base * 2 * width)
            left = deadline - time.perf_counter()
            if left <= 0:
                break
            gap = f"closing the gap ({(bound - value) / self._scale(bound):.4%}): "
            # Any better plan gives up less than this in reduced value at the prices (with a margin for rounding).
            give_up = at_prices - value + 1e-9 * max(abs(at_prices), 1.0)
            free = free_users(problem, plan, prices, give_up, self.runner, self._hashes(problem))
            if core < n and free.columns <= core * problem.actions:
                # A limit in nodes that doubles each round, as the cores do: on a shift plan whose minutes make
                # a hard knapsack this MIP ran 140 s to its gap, while its bound had certified the gap asked
                # for after 8 s. Aim a little below the gap: the final bound may be a little lower.
                # The last round is the whole MIP, not this one without a limit: HiGHS's own presolve and
                # reduced-cost fixing cut the whole down as far, and the free users' MIP is not always easier
                # (measured on an ROI step at 3,000 users: free users with 1,609 of the whole's 5,303 columns,
                # both cut to ~165 columns by HiGHS's restarts; the whole MIP proved its gap in 9,000–52,000
                # nodes, 5–19 s, on four seeds, the free users' MIP in 72,000 nodes on one and not in 120,000–
                # 180,000, 45 s, on three).
                nodes = NODE_LIMIT * 2 * width
                self.progress(gap + f"the exact MIP over the {free.users.size:,} users free to move"
                              + f" (at most {nodes:,} nodes)")
                enough = min(mip_bound, bound) - 0.9 * target  # a plan the bounds already certify
                exact = polish_exact(problem, plan, free, left, 0.9 * target, nodes, enough)
                mip_bound = min(mip_bound, exact.bound)
                if not check_feasible(problem, exact.plan) and problem.objective_of(exact.plan) > value:
                    plan, value = exact.plan, problem.objective_of(exact.plan)
                if min(mip_bound, bound) - value <= target:
                    break
                width *= 2
                continue
            candidate = plan
            if rounding:
                # The LP rounding is for ties, and costs most on problems without them (an interior point over
                # 20,000 users with values that all differ took 4.4 s on a shift plan, and its plan was worse).
                # Once it has not helped it is not repeated; over every user it never changes.
                self.progress(gap + f"the LP over {lp_users:,} users nearest a switch, then {core:,} users exactly")
                candidate = lp_round(problem, plan, prices, lp_users, left, self.runner)
                rounding = lp_users < n and problem.objective_of(candidate) > value
            else:
                self.progress(gap + f"{core:,} users nearest a switch, exactly")
            result = self._polish(problem, candidate, prices, bound, core, deadline, to_the_gap=True)
            if result.bound > float("-inf"):  # its start is feasible: "infeasible" would be HiGHS's tolerances
                mip_bound = min(mip_bound, result.bound)  # +inf but from the whole MIP
            if not check_feasible(problem, result.plan) and problem.objective_of(result.plan) > value:
                plan, value = result.plan, problem.objective_of(result.plan)
            if core >= n:  # the whole MIP has run to its gap or to the deadline
                break
            width *= 2
        return plan, value, mip_bound

    def _primal(self, problem: AllocationProblem, at: PassResult, prices: FloatArray, bound: float,
                deadline: float) -> IntArray | None:
        opts = self.options
        self.progress(f"building a plan at the prices: repair and polish (bound {bound:,.0f})")
        plan = repair(problem, at.action, prices, runner=self.runner)
        repaired = not check_feasible(problem, plan)
        if repaired:
            rounds = opts.fill_rounds if opts.polish_users > 0 else max(opts.fill_rounds, 3)
            plan = fill(problem, plan, prices, rounds=rounds, runner=self.runner)
        if opts.polish_users > 0:
            # When repair failed, a wider core gives HiGHS room to find any feasible plan at all.
            users = self._polish_size(problem) * (1 if repaired else 4)
            polished = self._polish(problem, plan, prices, bound, users, deadline, repaired)
            # Repair failed and the core was every user: HiGHS then decides whether any plan exists at all
            # (on small problems whose LP relaxation is feasible but no plan of whole contacts is).
            # (A start our checker accepts is never taken as proof, whatever HiGHS's tolerances make of it.)
            self.proven_infeasible |= not repaired and polished.bound == float("-inf")
            plan = polished.plan
        return None if check_feasible(problem, plan) else plan

    def _lumpy_apart(self, problem: AllocationProblem, prices: FloatArray, bound: float, deadline: float,
                     best_plan: IntArray | None) -> Decomposed | None:
        """Lumpy users decided apart (optimizer.lumpy_users), in at most half the time left so that the closing
        rounds still have theirs; None when there are none, or the problem is small.

        Not below ten polish cores (6,000 users by default): there the closing rounds' exact MIPs decide every
        user, lumpy or not, and were faster (measured on lender instances of 1,500 and 5,000 users with 3–40
        lumpy users: 3.7 s against 6 s, 4.6 s against 9.4 s; at 10,000: 65 s against 3.8 s)."""
        opts = self.options
        if opts.lumpy_share <= 0 or problem.users < 10 * self._polish_size(problem):
            return None
        lumpy = lumpy_users(problem, prices, opts.lumpy_share, self.runner)
        if lumpy.size == 0 or problem.users < 10 * lumpy.size:
            return None
        scale = self._scale(bound)

        def solve_rest(rest: AllocationProblem, start: FloatArray, seconds: float, gap: float, enough: float,
                       on_pass: PassListener) -> Allocation:
            options = replace(opts, lumpy_share=0.0, time_limit=max(seconds, 0.0), gap=gap / scale,
                              gap_scale=max(opts.gap_scale, scale), enough=enough)
            return LagrangianSolver(options, lambda line: self.progress("  the rest: " + line),
                                    on_pass).solve(rest, start)

        until = time.perf_counter() + 0.5 * (deadline - time.perf_counter())
        return decide_apart(problem, lumpy, prices, solve_rest, opts.gap * scale, until, self.progress,
                            self.runner, best_plan)

    def _scale(self, bound: float) -> float:
        """What a gap is relative to: |bound|, or the caller's gap_scale when that is larger."""
        return max(abs(bound), self.options.gap_scale, 1e-12)

    def _hashes(self, problem: AllocationProblem) -> npt.NDArray[np.uint64]:
        """twin_hashes of the problem, computed once a solve."""
        if self.hashes is None or self.hashes[0] is not problem:
            self.hashes = problem, twin_hashes(problem, self.runner)
        return self.hashes[1]

    def _polish_size(self, problem: AllocationProblem) -> int:
        return int(max(self.options.polish_users, self.options.polish_share * problem.users))

    def _polish(self, problem: AllocationProblem, plan: IntArray, prices: FloatArray, bound: float, users: int,
                deadline: float, feasible: bool = True, to_the_gap: bool = False) -> Polished:
        opts = self.options
        users = min(users, problem.users)
        self.progress(f"polishing the plan: {users:,} users nearest a switch, exactly")
        hashes = self._hashes(problem)
        # Only the solve's own time limit is wall-clock time: a polish otherwise ends at its gap or its node limit.
        left = deadline - time.perf_counter()
        if users == problem.users:  # the whole MIP: its own bound certifies the gap asked for, nothing more
            # Run to the gap in the last closing round, or to find any plan when repair found none (or prove
            # there is none); while the dual is still moving, within the node limit: on Khan's MMKP I07 (100
            # users) the first plan's whole MIP otherwise took the whole time limit, at a bound 0.06 % above
            # the LP's that the dual never got to tighten.
            nodes = None if to_the_gap or not feasible else NODE_LIMIT
            return polish(problem, plan, prices, users, left, 0.5 * opts.gap * self._scale(bound), self.runner,
                          hashes=hashes, whole_nodes=nodes)
        if opts.polish_seconds > 0:
            left = min(left, opts.polish_seconds * users / opts.polish_users)
        # Aim well below the gap asked for: the core is small, and every yuan found here is the planner's; but
        # not below 1 % of what the plan is still short by, which lies mostly outside the core while it is large
        # (measured: 500 nodes, 1.5 s, for a core's last yuan while the plan was 540 yuan short).
        target = 0.01 * opts.gap * self._scale(bound)
        if feasible:
            target = max(target, 0.01 * (bound - problem.objective_of(plan)))
        return polish(problem, plan, prices, users, left, target, self.runner, hashes=hashes)


def solve_lagrangian(problem: AllocationProblem, options: LagrangianOptions | None = None,
                     start: FloatArray | None = None) -> Allocation:
    return LagrangianSolver(options).solve(problem, start)
