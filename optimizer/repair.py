"""From the users' choices at the dual prices to a strictly feasible plan (repair), then use leftover slack (fill).

Repair takes the most violated constraint and frees exactly what is needed by switching the users whose
switch costs least per unit freed, measured in reduced value at the current prices: these are the users
nearest to a switch, the ones the LP would have split. Only the cheapest few are ever sorted (a partial
selection that widens until it covers the excess). Switching can load another constraint, so it loops over
constraints until none is violated. Fill then upgrades users by value per unit of priced resource, taking
the longest prefix that every constraint's slack allows.

Every full-size step runs chunk by chunk (optimizer.user_chunks): what is kept for all N users is a few
vectors, never an (N, A) matrix.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from optimizer.problem import AllocationProblem, FloatArray, IntArray
from optimizer.user_chunks import ChunkRunner, gather_rows, reduced_block

EPS = 1e-12
KEY_MIX = np.uint64(0x9E3779B97F4A7C15)  # spreads the action over the bits of a twin hash: twins on one action


def column_of(action: IntArray, actions: int) -> IntArray:
    return np.where(action < 0, actions, action)


def _tolerance(rhs: FloatArray) -> FloatArray:
    return 1e-9 * np.maximum(1.0, np.abs(rhs))


def signed_weight_block(problem: AllocationProblem, k: int, start: int, stop: int, sign: float) -> FloatArray:
    """sign·w_k for users start … stop, with a last column of 0 for "do nothing"."""
    block = np.zeros((stop - start, problem.actions + 1))
    np.multiply(problem.weight[k, start:stop], sign, out=block[:, :-1])
    return block


def usage_change(problem: AllocationProblem, users: IntArray, old: IntArray, new: IntArray) -> FloatArray:
    """(K,) change of every left-hand side when `users` switch from `old` to `new` actions (-1 = nothing)."""
    change = np.zeros(problem.constraints)
    for actions, sign in ((new, 1.0), (old, -1.0)):
        taken = actions >= 0
        if taken.any():
            change += sign * problem.weight[:, users[taken], actions[taken]].sum(axis=1, dtype=np.float64)
    return change


def _cheapest_covering(ratio: FloatArray, amount: FloatArray, needed: float) -> IntArray:
    """The users with the smallest ratios whose amounts add up to `needed` (all finite ones if they cannot)."""
    finite = np.nonzero(np.isfinite(ratio))[0]
    if finite.size == 0:
        return finite
    mean = float(amount[finite].mean()) or 1.0
    take = min(finite.size, max(64, int(2 * needed / mean) + 1))
    while True:
        part = finite[np.argpartition(ratio[finite], take - 1)[:take]] if take < finite.size else finite
        order = part[np.argsort(ratio[part], kind="stable")]
        cumulative = np.cumsum(amount[order])
        if cumulative[-1] >= needed or take >= finite.size:
            count = int(np.searchsorted(cumulative, needed)) + 1
            return order[: min(count, order.size)]
        take = min(finite.size, take * 4)


def switch_cost(problem: AllocationProblem, action: IntArray, prices: FloatArray,
                runner: ChunkRunner | None = None) -> FloatArray:
    """Per user, over its alternatives: the least reduced value lost per unit of priced resource moved
    (Σ_k λ_k |Δw_k|). Negative when the user would rather move. Measured on the demo's plan (200,000 users,
    8 constraints): a 1,000-user core picked by this reaches the LP bound; picked by the reduced value lost
    alone, it stays 100 yuan short (users near a tie that move no resource are no help to any constraint)."""
    p = problem
    signed = prices * p.sign()
    priced = [(k, float(prices[k])) for k in range(p.constraints) if prices[k] > 0]
    out = np.empty(p.users)

    def chunk(start: int, stop: int) -> None:
        col = column_of(action[start:stop], p.actions)
        reduced = reduced_block(p, start, stop, signed, np.float64, nothing_column=True)
        moved = np.full(reduced.shape, 1e-12)
        for k, price in priced:
            g = signed_weight_block(p, k, start, stop, 1.0)
            moved += price * np.abs(gather_rows(g, col)[:, None] - g)
        cost = (gather_rows(reduced, col)[:, None] - reduced) / moved
        cost[np.arange(stop - start), col] = np.inf
        cost[~np.isfinite(reduced)] = np.inf
        out[start:stop] = cost.min(axis=1)

    (runner or ChunkRunner()).map(p.users, chunk)
    return out


def nearest_users(problem: AllocationProblem, action: IntArray, prices: FloatArray, count: int,
                  runner: ChunkRunner | None = None) -> IntArray:
    """The `count` users whose switch costs least per unit of priced resource, in index order."""
    if count >= problem.users:
        return np.arange(problem.users)
    cost = switch_cost(problem, action, prices, runner)
    return np.sort(np.argpartition(cost, count - 1)[:count])


def twin_keys(hashes: npt.NDArray[np.uint64], action: IntArray, users: IntArray | slice) -> npt.NDArray[np.uint64]:
    """Equal for twins (equal `hashes`, core_polish.twin_hashes) on the same action."""
    return hashes[users] ^ ((action[users].astype(np.int64) + 2).astype(np.uint64) * KEY_MIX)


def _row_min(matrix: FloatArray) -> FloatArray:
    """matrix.min(axis=1) for a few columns, a column at a time: twice as fast at (32,768, 7)."""
    out: FloatArray = matrix[:, 0].copy()
    for j in range(1, matrix.shape[1]):
        np.minimum(out, matrix[:, j], out=out)
    return out


def _smallest(score: FloatArray, count: int, offset: int = 0) -> tuple[FloatArray, IntArray]:
    """The `count` finite smallest scores and their users (index + offset), ties by index: deterministic."""
    if 0 < count < score.size:
        kth = score[np.argpartition(score, count - 1)[count - 1]]
        if np.isfinite(kth):  # every score up to the count-th, with all its ties; cut by index below
            chosen = np.flatnonzero(score <= kth)
            order = np.lexsort((chosen, score[chosen]))[:count]
            return score[chosen[order]], chosen[order] + offset
    finite = np.flatnonzero(np.isfinite(score))
    order = np.lexsort((finite, score[finite]))[:count]
    return score[finite[order]], finite[order] + offset


class Core(NamedTuple):
    users: IntArray  # in index order
    outside: float  # Σ over everyone else of the reduced value their action gives up against their best one


def core_users(problem: AllocationProblem, action: IntArray, prices: FloatArray, count: int,
               runner: ChunkRunner | None = None, hashes: npt.NDArray[np.uint64] | None = None) -> Core:
    """About `count` users for an exact core, in index order: for every priced constraint, the users that move
    it at the least reduced value lost per unit moved (`count` / 2 shared among those constraints), and the rest
    by least switch cost per unit of all priced resource (`switch_cost`).

    The second ranking alone fails when thousands of users are tied at the prices: a plan whose slack is in
    one limit (a phone budget left 8 yuan short by rounding down a call) needs the few users who can move that
    limit, and users who switch between an SMS and nothing at no cost per unit of the total budget fill the
    core first (measured on a 30,000-user plan with a share row: the three users the optimum moves ranked
    ~19,830th, and only the whole MIP found them, in 62 s; with this selection a 250-user core does).

    With `hashes` (optimizer.core_polish.twin_hashes), twins on the same action count once in each ranking:
    the caller adds their twins back (core_polish.with_twins), and 231,073 users tied between an SMS and
    nothing otherwise fill every ranking and leave out the 12 letters whose budget would pay for 288 SMS.

    `outside` is part of the plan's gap at the prices that no core MIP can close: g(λ) − plan value is at least
    the reduced value every user gives up (plus the priced slack), and a core changes only its own users."""
    p = problem
    if count >= p.users:
        return Core(np.arange(p.users), 0.0)
    signed = prices * p.sign()
    priced = [(k, float(prices[k])) for k in range(p.constraints) if prices[k] > 0]
    each = count // (2 * len(priced)) if priced else 0
    cost = np.empty(p.users)

    def keys(users: IntArray | slice) -> npt.NDArray[np.uint64]:
        assert hashes is not None
        return twin_keys(hashes, action, users)

    def chunk(start: int, stop: int) -> tuple[list[tuple[FloatArray, IntArray]], float]:
        col = column_of(action[start:stop], p.actions)
        reduced = reduced_block(p, start, stop, signed, np.float64, nothing_column=True)
        regret = float((reduced.max(axis=1) - gather_rows(reduced, col)).sum())
        loss = gather_rows(reduced, col)[:, None] - reduced
        loss[np.arange(stop - start), col] = np.inf
        loss[~np.isfinite(reduced)] = np.inf
        moved = np.full(reduced.shape, 1e-12)
        if hashes is not None:  # in the rankings by constraint, only the first of twins on the same action competes
            first = np.zeros(stop - start, dtype=bool)
            first[np.unique(keys(slice(start, stop)), return_index=True)[1]] = True
            loss_all, loss = loss, np.where(first[:, None], loss, np.inf)
        else:
            loss_all = loss
        best: list[tuple[FloatArray, IntArray]] = []
        for k, price in priced:
            g = signed_weight_block(p, k, start, stop, 1.0)
            delta = np.abs(np.subtract(gather_rows(g, col)[:, None], g, out=g), out=g)
            moved += price * delta
            if each:
                ratio = np.where(delta > EPS, loss, np.inf) / np.maximum(delta, EPS)
                best.append(_smallest(_row_min(ratio), each, start))
        cost[start:stop] = _row_min(loss_all / moved)
        return best, regret

    parts = (runner or ChunkRunner()).map(p.users, chunk)
    chosen: list[IntArray] = [np.zeros(0, dtype=np.int64)]
    for j in range(len(priced) if each else 0):
        scores = np.concatenate([part[0][j][0] for part in parts])
        users = np.concatenate([part[0][j][1] for part in parts])
        best = users[_smallest(scores, scores.size)[1]]  # every chunk's few, best first
        if hashes is not None:
            best = best[np.sort(np.unique(keys(best), return_index=True)[1])]
        chosen.append(best[:each])
    by_constraint = np.unique(np.concatenate(chosen))
    rest = _smallest(cost, count)[1]
    rest = rest[~np.isin(rest, by_constraint)][: max(count - by_constraint.size, 0)]
    users = np.sort(np.concatenate([by_constraint, rest]))
    core = p.subset(users)
    reduced = reduced_block(core, 0, users.size, signed, np.float64, nothing_column=True)
    inside = float((reduced.max(axis=1) - gather_rows(reduced, column_of(action[users], p.actions))).sum())
    return Core(users, sum(part[1] for part in parts) - inside)


def restricted(problem: AllocationProblem, action: IntArray, users: IntArray) -> AllocationProblem:
    """The problem over `users` alone, with the capacity everyone else's actions in `action` leave over."""
    fixed = problem.usage_of(action) - usage_change(problem, users, np.full(users.size, -1, dtype=action.dtype),
                                                    action[users])
    return problem.subset(users, problem.rhs - fixed)


def _violated(problem: AllocationProblem, usage: FloatArray) -> bool:
    sign = problem.sign()
    return bool((sign * usage - sign * problem.rhs > _tolerance(problem.rhs)).any())


def repair(problem: AllocationProblem, action: IntArray, prices: FloatArray, max_rounds: int = 0,
           runner: ChunkRunner | None = None, pool: float = 0.02, pool_min: int = 20_000) -> IntArray:
    """A plan that satisfies every constraint if the switches can get there; the caller checks the result.

    The switches are first looked for among the users nearest a switch (`pool` of them, at least `pool_min`),
    held in memory; only when those cannot free enough do the rounds go over every user, chunk by chunk.
    Measured at 1,000,000 users: 7 rounds over every user took 0.95 s."""
    runner = runner or ChunkRunner()
    if not _violated(problem, problem.usage_of(action)):
        return action.copy()
    count = max(pool_min, int(pool * problem.users))
    if count < problem.users:
        users = nearest_users(problem, action, prices, count, runner)
        sub = restricted(problem, action, users)
        sub_plan = _repair_rounds(sub, action[users], prices, max_rounds, runner)
        if not _violated(sub, sub.usage_of(sub_plan)):
            merged = action.copy()
            merged[users] = sub_plan
            return merged
    return _repair_rounds(problem, action, prices, max_rounds, runner)


def _repair_rounds(problem: AllocationProblem, action: IntArray, prices: FloatArray, max_rounds: int,
                   runner: ChunkRunner) -> IntArray:
    p = problem
    sign = p.sign()
    signed_prices = prices * sign
    h = sign * p.rhs
    action = action.copy()
    usage = p.usage_of(action)
    tolerance = _tolerance(p.rhs)
    rounds = max_rounds or 4 * p.constraints + 4
    ratio = np.empty(p.users)
    target = np.empty(p.users, dtype=np.int32)
    amount = np.empty(p.users)
    # Users a round has moved stay put in later rounds while others can do the job: at prices that make them
    # marginal, the users just switched in to meet a minimum are also the cheapest to switch back out when the
    # move loads a maximum (measured: a 1,000,000-user ROI step cycled between "≥ 3,000 prime telesales
    # contacts" and the expected-loss cap, and ended 444 contacts short).
    moved = np.zeros(p.users, dtype=bool)
    for round_ in range(rounds):
        excess = sign * usage - h
        violated = np.nonzero(excess > tolerance)[0]
        if violated.size == 0:
            break
        k = int(violated[np.argmax(excess[violated] / np.maximum(np.abs(h[violated]), 1.0))])
        # Switching back and forth between two violated constraints can cycle. A move may not load another
        # constraint that is exactly full, as one an earlier round met is (measured: after meeting "≥ 300 prime
        # telesales calls" within a budget the minimum nearly fills, dropping those very calls was the cheapest
        # way back under the budget); after a few rounds, none at all ("do nothing" is one whenever weights ≥ 0).
        strict = round_ >= p.constraints + 2
        full = [j for j in range(p.constraints) if j != k and (strict or abs(excess[j]) <= tolerance[j])]

        def chunk(start: int, stop: int, k: int = k, full: list[int] = full, keep: bool = True) -> None:
            col = column_of(action[start:stop], p.actions)
            reduced = reduced_block(p, start, stop, signed_prices, np.float64, nothing_column=True)
            g = signed_weight_block(p, k, start, stop, float(sign[k]))
            freed = gather_rows(g, col)[:, None] - g  # > 0: switching to that action frees constraint k
            can = (freed > EPS) & np.isfinite(reduced)
            if keep:
                can &= ~moved[start:stop, None]
            for j in full:
                gj = signed_weight_block(p, j, start, stop, float(sign[j]))
                can &= gj <= gather_rows(gj, col)[:, None] + EPS
            cost = np.where(can, (gather_rows(reduced, col)[:, None] - reduced) / np.where(can, freed, 1.0), np.inf)
            best = np.argmin(cost, axis=1)
            ratio[start:stop] = gather_rows(cost, best)
            target[start:stop] = best
            amount[start:stop] = gather_rows(freed, best)

        needed = float(excess[k] - tolerance[k])
        # A move may load another row only within that row's slack: moves chosen without regard to it can break
        # a row that had room, and the next round breaks this one back (measured: a shift plan's repair moved
        # calls from the morning to the afternoon shift and back for all its rounds and ended with both over).
        # Rows the chosen moves would break are closed to loading, and the moves chosen again.
        choice: tuple[IntArray, npt.NDArray[np.int32], FloatArray] | None = None
        while True:
            runner.map(p.users, chunk)
            if moved.any() and float(amount[np.isfinite(ratio)].sum()) < needed:  # the others cannot: anyone may move
                runner.map(p.users, lambda start, stop: chunk(start, stop, keep=False))
            chosen = _cheapest_covering(ratio, amount, needed)
            if chosen.size == 0:
                break
            new: npt.NDArray[np.int32] = np.where(target[chosen] == p.actions, -1, target[chosen]).astype(np.int32)
            change = usage_change(p, chosen, action[chosen], new)
            choice = chosen, new, change
            broken = [j for j in range(p.constraints) if j != k and j not in full and excess[j] <= tolerance[j]
                      and sign[j] * (usage[j] + change[j]) - h[j] > tolerance[j]]
            if not broken:
                break
            full.extend(broken)
        if choice is None:
            break
        chosen, new, change = choice  # the last moves found: they break no open row, or nothing better was left
        usage += change
        action[chosen] = new
        moved[chosen] = True
    return action


def fill(problem: AllocationProblem, action: IntArray, prices: FloatArray, rounds: int = 3,
         near: float = 0.05, runner: ChunkRunner | None = None) -> IntArray:
    """Upgrade users while every constraint keeps its slack: the best value gained per unit of priced resource.

    Only the users nearest a switch are looked at: those whose best value-raising alternative costs the least
    reduced value at the prices (at most `near` of the users, and at least a few thousand).
    """
    p = problem
    runner = runner or ChunkRunner()
    sign = p.sign()
    signed_prices = prices * sign
    h = sign * p.rhs
    action = action.copy()
    n, a, k_count = p.users, p.actions, p.constraints
    tolerance = _tolerance(p.rhs)
    usage = p.usage_of(action)
    loss = np.empty(n)
    for _ in range(rounds):
        slack = h - sign * usage
        if (slack < -tolerance).any():
            break  # not feasible: fill must not make it worse

        def chunk(start: int, stop: int) -> None:
            col = column_of(action[start:stop], a)
            value = _value_block(p, start, stop)
            reduced = reduced_block(p, start, stop, signed_prices, np.float64, nothing_column=True)
            gain = value - gather_rows(value, col)[:, None]
            loss[start:stop] = np.where(gain > EPS, gather_rows(reduced, col)[:, None] - reduced, np.inf).min(axis=1)

        runner.map(n, chunk)
        pool = np.nonzero(np.isfinite(loss))[0]
        if pool.size == 0:
            break
        keep = min(pool.size, max(4096, int(near * n)))
        if keep < pool.size:
            pool = pool[np.argpartition(loss[pool], keep - 1)[:keep]]
        pool_col = column_of(action[pool], a)
        pool_value = np.zeros((pool.size, a + 1))
        pool_value[:, :a] = np.where(p.eligible[pool], p.value[pool], -np.inf)
        pool_gain = pool_value - gather_rows(pool_value, pool_col)[:, None]
        fits = pool_gain > EPS
        cost = np.zeros_like(pool_gain)
        deltas = []
        for k in range(k_count):  # one (M, A+1) temporary at a time over the pool only
            g = np.zeros((pool.size, a + 1))
            g[:, :a] = sign[k] * p.weight[k, pool]
            delta = g - gather_rows(g, pool_col)[:, None]
            deltas.append(delta)
            fits &= delta <= slack[k] + EPS
            cost += max(float(prices[k]), 0.0) * np.maximum(delta, 0.0) + EPS * np.abs(delta)
        score = np.where(fits, np.where(fits, pool_gain, 0.0) / (cost + EPS), -np.inf)
        target = np.argmax(score, axis=1)
        best = gather_rows(score, target)
        candidates = np.nonzero(np.isfinite(best))[0]
        if candidates.size == 0:
            break
        order = candidates[np.argsort(-best[candidates], kind="stable")]
        steps = np.stack([delta[order, target[order]] for delta in deltas]) if k_count else np.zeros((0, order.size))
        within = (np.cumsum(steps, axis=1) <= slack[:, None] + tolerance[:, None]).all(axis=0)
        # The longest prefix that fits every constraint; later candidates get another chance next round.
        stop = int(np.argmin(within)) if not within.all() else within.size
        if stop == 0:
            break
        users = pool[order[:stop]]
        new = np.where(target[order[:stop]] == a, -1, target[order[:stop]]).astype(np.int32)
        usage += usage_change(p, users, action[users], new)
        action[users] = new
    return action


def _value_block(problem: AllocationProblem, start: int, stop: int) -> FloatArray:
    """value for users start … stop, −inf where not eligible, 0 in a last "do nothing" column."""
    out = np.zeros((stop - start, problem.actions + 1))
    out[:, :-1] = np.where(problem.eligible[start:stop], problem.value[start:stop], -np.inf)
    return out
