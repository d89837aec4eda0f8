"""Polish a feasible plan by solving exactly the part of it that prices leave open.

At near-optimal prices almost every user's choice is clear: its best action beats every other by a wide
margin of reduced value. What the LP would split, and what repair and fill decide greedily, are the few users
nearest a switch. Polish keeps every other user as the plan has it, and hands the nearest `users` users, with
all their actions and the capacity the rest leave over, to HiGHS's MIP, started from the plan itself. Measured
on the 100,000-user benchmark: a 400-user core closes the gap left by repair and fill (2.4e-5) to ~1e-6 in
0.1–0.2 s; CBC on the whole model gets 6e-6 in 300 s.

The result is never worse than the plan: HiGHS starts from it, and the merged plan is checked again. When the
core is every user, the polish is the whole MIP, and HiGHS's dual bound is a bound on the problem itself.

Users with the same columns (`Twins`: eligibility, value and weights) share general-integer columns, one per
group and action, so thousands of tied users cost the MIP nothing. `free_users` and `polish_exact` are the
exact variant: by reduced-cost fixing, the MIP over the users a better plan may move, with the actions it
may give them, which holds every better plan; its dual bound is then a bound on the whole problem.

No wall-clock limit but the caller's deadline: HiGHS stops at its gap or its node limit, so the same problem
gives the same plan on a busy machine and a quiet one.
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np
import numpy.typing as npt

from optimizer.feasibility import check_feasible
from optimizer.highs_instance import new_highs, run_highs
from optimizer.problem import AllocationProblem, BoolArray, FloatArray, IntArray
from optimizer.repair import KEY_MIX, column_of, core_users, restricted, twin_keys
from optimizer.solve_exact_highs import build_highs_model
from optimizer.user_chunks import ChunkRunner, reduced_block, spans

# Branch-and-bound nodes HiGHS may explore per core: a limit in work, not in wall-clock time, so the same
# problem gives the same plan on a busy machine and a quiet one. Most cores finish at the root node.
NODE_LIMIT = 500
# HiGHS runs one branch-and-bound search per thread of its scheduler (one per calling thread), which by default
# has one thread per core this process may use: pinned to one core (taskset) a shift plan got another plan than
# on two.
# Its parallel search is deterministic for a given number of threads, so the MIPs here always ask for this many:
# two for a MIP with a node limit (two searches share its nodes: a shift plan's 500-node polish took 2.3 s where
# one thread took 4.3 s), one for a MIP without (the whole MIP, run to its gap), where two searches did more
# work than one: on an ROI step's whole MIP at 3,000 users, over four HiGHS seeds, one thread proved the gap in
# 50,000 / 41,000 / 52,000 / 8,800 nodes (9 s on the default seed), two in 259,000 / 323,000 / 52,000 / 8,800
# (28 s on the default seed, 30 s on the second).
MIP_THREADS = 2
PROOF_THREADS = 1
HASH_SEED = 20261202  # fixed: the hashes only find candidate twins, which are then compared exactly


@dataclass(frozen=True, slots=True)
class Polished:
    plan: IntArray
    bound: float  # HiGHS's dual bound when the core was every user (a bound on the whole problem), else +inf;
    # −inf when HiGHS proved that the whole problem has no feasible plan


@dataclass(frozen=True, slots=True)
class Twins:
    """Users grouped by identical columns: the same eligibility, value and weights for every action. Twins are
    interchangeable in any plan, so a MIP needs one general-integer column per group and action (how many of
    the group take it) instead of one binary per user: with `objective: loans` or a plan whose values come from
    categories, thousands of users are twins (19,819 of 30,000 in one group on a trial plan)."""

    first: IntArray  # (G,) the first user of each group, groups in the order of their first user
    group: IntArray  # (M,) the group of every user
    size: IntArray  # (G,) users per group


def _keys(problem: AllocationProblem) -> FloatArray:
    """(N, A·(K + 2)): what makes users twins, as numbers (ineligible actions count as 0)."""
    p = problem
    eligible = p.eligible
    key = np.concatenate([np.where(eligible, p.value, 0.0), eligible.astype(np.float64),
                          np.where(eligible[None], p.weight, 0.0).transpose(1, 0, 2)
                          .reshape(p.users, -1)], axis=1, dtype=np.float64)
    key += 0.0  # -0.0 and 0.0 are the same number: make them the same bytes
    return key


def twin_hashes(problem: AllocationProblem, runner: ChunkRunner | None = None) -> npt.NDArray[np.uint64]:
    """(N,) a 64-bit hash of every user's columns: equal for twins (a pass over the users, chunk by chunk)."""
    p = problem
    out = np.empty(p.users, dtype=np.uint64)
    multipliers = np.random.default_rng(HASH_SEED).integers(1, 2**63, size=(p.constraints + 2, p.actions),
                                                            dtype=np.uint64) * np.uint64(2) + np.uint64(1)

    def chunk(start: int, stop: int) -> None:
        eligible = p.eligible[start:stop]
        blocks = [eligible.astype(np.float64), p.value[start:stop]]
        blocks += [p.weight[k, start:stop] for k in range(p.constraints)]
        total = np.zeros(stop - start, dtype=np.uint64)
        for row, block in enumerate(blocks):
            numbers = np.where(eligible, block, 0.0).astype(np.float64) + 0.0  # -0.0 and 0.0: the same bytes
            words = numbers.view(np.uint64)
            mixed = (words ^ (words >> np.uint64(29))) * multipliers[row]  # wraps modulo 2⁶⁴, as it should
            for column in range(p.actions):
                total += mixed[:, column]
        out[start:stop] = total

    (runner or ChunkRunner()).map(p.users, chunk)
    return out


def with_twins(problem: AllocationProblem, users: IntArray, action: IntArray, hashes: npt.NDArray[np.uint64],
               extra: int, most: int = 64) -> IntArray:
    """`users` and, for each of them, up to `extra` more of its twins from the whole problem on each action, in
    index order, and at most `most` times as many users as `users` in all (fewer twins of each then).

    A core holds a few of thousands of tied users, and a better plan may need many of them to move: on a
    shift plan, two more calls are paid for by 204 fewer SMS among 14,857 twins, and a 4,800-user core
    solved to optimality could not find it. As twins share columns, the MIP does not grow with them."""
    wanted_hashes = np.unique(hashes[users])
    found = []
    for start, stop in spans(hashes.size, 1 << 20):  # no sort of every hash, and temporaries of 2²⁰
        part = hashes[start:stop]
        at = np.minimum(np.searchsorted(wanted_hashes, part), wanted_hashes.size - 1)
        found.append(np.flatnonzero(wanted_hashes[at] == part) + start)
    candidates = np.concatenate(found)
    if candidates.size == users.size:
        return users
    # The first few of each hash and action that are not in the core already, by index.
    keys = twin_keys(hashes, action, candidates)
    in_core = np.isin(candidates, users)
    order = np.lexsort((candidates, keys))
    outside = ~in_core[order]
    starts = np.r_[0, np.flatnonzero(np.diff(keys[order])) + 1]
    counted: IntArray = np.cumsum(outside)
    before: IntArray = np.repeat(counted[starts] - outside[starts], np.diff(np.r_[starts, order.size]))
    each = max(1, min(extra, most * users.size // starts.size))
    chosen = candidates[np.sort(order[~outside | (counted - before <= each)])]
    # Hashes only find candidates: twins are the users whose columns are the same as a core user's.
    pairs = twins(problem.subset(chosen))
    core = np.isin(chosen, users)
    wanted = np.zeros(pairs.size.size, dtype=bool)
    wanted[pairs.group[core]] = True
    kept: IntArray = chosen[core | wanted[pairs.group]]
    return kept


def twins(problem: AllocationProblem) -> Twins:
    p = problem
    n = p.users
    key = _keys(p)
    rows = np.ascontiguousarray(key).view(np.dtype((np.void, key.itemsize * key.shape[1]))).reshape(n)
    _, first, group, size = np.unique(rows, return_index=True, return_inverse=True, return_counts=True)
    order = np.argsort(first)  # groups numbered in the order of their first user: independent of the bytes
    renumber = np.empty_like(order)
    renumber[order] = np.arange(order.size)
    return Twins(first[order], renumber[group.reshape(n)], size[order])


def _counts(twins: Twins, action: IntArray, actions: int) -> IntArray:
    """(G, A) how many users of each group take each action."""
    counts = np.zeros((twins.size.size, actions), dtype=np.int64)
    taken = action >= 0
    np.add.at(counts, (twins.group[taken], action[taken]), 1)
    return counts


def _spread(twins: Twins, start: IntArray, counts: IntArray) -> IntArray:
    """A plan with `counts` (G, A) that moves as few users from `start` as it can, the lowest indices first."""
    m, a = start.size, counts.shape[1]
    group = twins.group
    chosen = np.full(m, -1, dtype=start.dtype)
    users = np.arange(m)
    # Users keep their action while its count allows, in index order within (group, action).
    col = np.where(start < 0, a, start)
    order = np.lexsort((users, col, group))
    block = group[order] * (a + 1) + col[order]
    first = np.r_[0, np.flatnonzero(np.diff(block)) + 1]
    rank = np.arange(m) - np.repeat(first, np.diff(np.r_[first, m]))
    limit = np.c_[counts, np.zeros(counts.shape[0], dtype=counts.dtype)]
    keep = order[rank < limit[group[order], col[order]]]
    chosen[keep] = start[keep]
    # The rest fill what is missing, group by group, actions in order, users in index order.
    missing = counts - _counts(twins, chosen, a)
    kept = np.zeros(m, dtype=bool)
    kept[keep] = True
    released = users[~kept]
    released = released[np.lexsort((released, group[released]))]
    starts = np.r_[0, np.flatnonzero(np.diff(group[released])) + 1]
    rank = np.arange(released.size) - np.repeat(starts, np.diff(np.r_[starts, released.size]))
    per_group = missing.sum(axis=1)
    slot_start = np.r_[0, np.cumsum(per_group)[:-1]]
    slot_action = np.repeat(np.tile(np.arange(a), counts.shape[0]), missing.reshape(-1))
    gets = rank < per_group[group[released]]
    chosen[released[gets]] = slot_action[slot_start[group[released[gets]]] + rank[gets]]
    return chosen


def polish(problem: AllocationProblem, action: IntArray, prices: FloatArray, users: int = 600,
           seconds: float = float("inf"), absolute_gap: float = 0.0, runner: ChunkRunner | None = None,
           nodes: int = NODE_LIMIT, hashes: npt.NDArray[np.uint64] | None = None,
           whole_nodes: int | None = None) -> Polished:
    """A plan at least as good as `action`, re-optimised exactly over the users nearest a switch. When
    `action` breaks a constraint (repair's single switches could not fix it), any feasible plan HiGHS finds
    for the core is taken: that is how "every job gets an agent" rows (GAP) get a plan at all.

    HiGHS stops at `absolute_gap` or after `nodes` branch-and-bound nodes (`whole_nodes` when the core is every
    user; None: no limit), work limits that make the result the same on any machine, or after `seconds` of
    wall-clock time: the caller passes what is left of its own time limit. Twins in the core share columns
    (`Twins`); with `hashes` (`twin_hashes`), the core takes in up to as many twins of its users again from the
    whole problem (`with_twins`)."""
    p = problem
    unbounded = Polished(action, float("inf"))
    if p.users == 0 or p.actions == 0 or users <= 0 or seconds <= 0:
        return unbounded
    core, outside = core_users(p, action, prices, users, runner, hashes)
    if hashes is not None and core.size < p.users:
        core = with_twins(p, core, action, hashes, users)
    whole = core.size == p.users
    # What the core could still gain is not worth a long search when far more of the gap lies outside it
    # (measured: a shift plan's first 600-user core ran 608 nodes, 5.3 s, for its last 23 yuan of a 7,000-yuan
    # gap that the rounds after it close).
    absolute_gap = max(absolute_gap, 0.1 * outside)
    # What everyone outside the core uses stays used; the core gets the rest.
    sub = restricted(p, action, core)
    chosen, dual_bound = _solve_core(sub, action[core], seconds, absolute_gap, whole_nodes if whole else nodes)
    bound = dual_bound if whole else float("inf")
    if chosen is None:
        return Polished(action, bound)
    polished = action.copy()
    polished[core] = chosen
    return Polished(polished, bound)


def _solve_core(sub: AllocationProblem, start: IntArray, seconds: float, absolute_gap: float,
                nodes: int | None, enough: float = float("inf")) -> tuple[IntArray | None, float]:
    """HiGHS's plan for `sub` from `start` (None when it is no better, or `start` is feasible and it is not)
    and its dual bound (+inf when it has none); twins share columns. HiGHS also stops at a plan worth `enough`."""
    if not sub.eligible.any():
        return None, float("inf")
    pairs = twins(sub)
    model = build_highs_model(sub.subset(pairs.first))
    groups = pairs.size.size
    model.lp.col_upper_ = pairs.size[model.users].astype(np.float64)
    row_upper = np.asarray(model.lp.row_upper_, dtype=np.float64).copy()
    row_upper[:groups] = pairs.size
    model.lp.row_upper_ = row_upper
    solver = new_highs()
    if np.isfinite(seconds):
        solver.setOptionValue("time_limit", float(seconds))
    solver.setOptionValue("mip_max_nodes", int(nodes) if nodes is not None else highspy.kHighsIInf)
    solver.setOptionValue("mip_rel_gap", 0.0)
    solver.setOptionValue("mip_abs_gap", float(absolute_gap))
    if np.isfinite(enough):
        solver.setOptionValue("objective_target", float(enough))
    solver.passModel(model.lp)
    initial = highspy.HighsSolution()
    initial.col_value = _counts(pairs, start, sub.actions)[model.users, model.actions].astype(np.float64).tolist()
    initial.value_valid = True
    solver.setSolution(initial)
    if not run_highs(solver, MIP_THREADS if nodes is not None else PROOF_THREADS):
        return None, float("inf")  # left behind, far past its time limit
    if solver.getModelStatus() == highspy.HighsModelStatus.kInfeasible:
        return None, float("-inf")  # no plan meets the rows: over every user, the problem has none
    dual_bound = float(solver.getInfo().mip_dual_bound)
    bound = dual_bound if np.isfinite(dual_bound) else float("inf")
    columns = np.asarray(solver.getSolution().col_value)
    if columns.size != model.users.size:
        return None, bound
    counts = np.zeros((groups, sub.actions), dtype=np.int64)
    counts[model.users, model.actions] = np.rint(np.maximum(columns, 0.0)).astype(np.int64)
    if (counts.sum(axis=1) > pairs.size).any():
        return None, bound
    chosen = _spread(pairs, start, counts)
    if check_feasible(sub, chosen):
        return None, bound
    if not check_feasible(sub, start) and sub.objective_of(chosen) <= sub.objective_of(start):
        return None, bound
    return chosen, bound


@dataclass(frozen=True, slots=True)
class Free:
    """Users an improving plan may move, by reduced-cost fixing (see `free_users`)."""

    users: IntArray  # in index order
    eligible: BoolArray  # (F, A): the actions each may take in a plan better than the given one
    columns: int  # about how many columns their MIP has, twins sharing them (an estimate, from the hashes)


def free_users(problem: AllocationProblem, action: IntArray, prices: FloatArray, gap: float,
               runner: ChunkRunner | None = None, hashes: npt.NDArray[np.uint64] | None = None) -> Free:
    """The users a plan better than `action` may give another action, and the actions they may take.

    At prices λ ≥ 0 every feasible plan x has value g(λ) − Σ_u loss_u(x_u) − λ·slack(x), where loss_u(a) ≥ 0
    is what action a gives up in reduced value against u's best (and slack ≥ 0): a plan worth more than
    `action` gives up less than `gap` = g(λ) − value(action) in all, so no user takes an action that alone
    gives up `gap` or more. Users left with one such action (their own) keep it in every better plan."""
    p = problem
    signed = prices * p.sign()

    def chunk(start: int, stop: int) -> tuple[IntArray, BoolArray]:
        reduced = reduced_block(p, start, stop, signed, np.float64, nothing_column=True)
        loss = np.maximum(reduced.max(axis=1), 0.0)[:, None] - reduced
        keep = loss < gap
        keep[np.arange(stop - start), column_of(action[start:stop], p.actions)] = True
        free = np.flatnonzero(keep.sum(axis=1) >= 2)
        return free + start, keep[free, : p.actions]

    parts = (runner or ChunkRunner()).map(p.users, chunk)
    users = np.concatenate([part[0] for part in parts]) if parts else np.zeros(0, dtype=np.int64)
    eligible = np.concatenate([part[1] for part in parts]) if parts else np.zeros((0, p.actions), dtype=bool)
    eligible &= p.eligible[users]
    columns = int(eligible.sum())
    if hashes is not None and users.size:  # twins with the same actions left share their columns
        pattern = np.packbits(eligible, axis=1, bitorder="little")
        code = np.zeros(users.size, dtype=np.uint64)
        for byte in range(pattern.shape[1]):
            code = code * np.uint64(257) + pattern[:, byte].astype(np.uint64)
        _, first = np.unique(hashes[users] ^ (code * KEY_MIX), return_index=True)
        columns = int(eligible[first].sum())
    return Free(users, eligible, columns)


def polish_exact(problem: AllocationProblem, action: IntArray, free: Free, seconds: float = float("inf"),
                 absolute_gap: float = 0.0, nodes: int | None = None, enough: float = float("inf")) -> Polished:
    """The MIP over the users `free_users` leaves free, with only the actions it leaves them: exact (any plan
    better than `action` is in it), so its dual bound with everyone else's value is a bound on the problem.
    On a 30,000-user shift plan it has 2,978 columns where the whole MIP has 34,986 (twins sharing theirs in
    both), and proves in 2 s what the whole MIP proved in 7 s, after rounds of wider cores that took 17 s.
    HiGHS's dual bound is a bound whenever it stops: at `absolute_gap`, at a plan worth `enough` (one the
    caller's own bound already certifies), after `nodes` or after `seconds`."""
    p = problem
    value = p.objective_of(action)
    if free.users.size == 0:
        return Polished(action, value)  # nobody can move: the plan is optimal
    sub = restricted(p, action, free.users)
    sub = AllocationProblem(sub.value, free.eligible, sub.weight, sub.rhs, sub.sense, sub.constraint_names,
                            sub.action_names)
    start = action[free.users]
    fixed = value - sub.objective_of(start)  # everyone else's value, the same in every better plan
    chosen, dual_bound = _solve_core(sub, start, seconds, absolute_gap, nodes, enough - fixed)
    # Its start is feasible, so HiGHS's "infeasible" (−inf) would be its tolerances, not a proof: no bound then.
    bound = max(fixed + dual_bound, value) if dual_bound > float("-inf") else float("inf")
    if chosen is None:
        return Polished(action, bound)
    polished = action.copy()
    polished[free.users] = chosen
    return Polished(polished, bound)
