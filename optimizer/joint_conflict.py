"""When no constraint alone and no pair explains an infeasible plan: the sets of constraints that conflict together,
each minimal (an irreducible infeasible subset of the LP relaxation).

Every question "can these rows hold together?" is answered by optimizer/phase_one.py, with a proof either way:
a Farkas certificate when they cannot (the Lagrangian's "the dual is unbounded", checked in float64 over every
user), a fractional plan when they can. Each costs a few passes over the users, never an LP over them, so the
search costs the same in kind at 3,000 users as at 10⁶.

1. All rows: if a fractional plan meets them, only whole contacts conflict (the limits leave no room for
   rounding). Otherwise the certificate's support is a set that cannot hold.
2. Deletion filter: for each row of the set, in the plan's order, ask whether the others still cannot hold.
   If so, drop it (and every row the new certificate does not need); if not, it is needed. What is left is
   minimal: without any one of its rows, the rest hold (fractionally).
3. Other minimal sets: every other set misses some row of the ones found, so the rows without that row are
   asked again (the standard enumeration of irreducible sets by the rows they leave out), up to MAX_SETS sets.
4. Each set's amounts: phase one over the set alone, to the end: the least violation even a fractional plan
   must accept, in each row's own units.

The claim "cannot hold together" is always proven. When a question is left undecided by the time limit, a set is
reported without the claim that it is minimal, and the search says that it may have missed other sets.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from optimizer.phase_one import PhaseOne, Verdict
from optimizer.problem import AllocationProblem, FloatArray

MAX_SETS = 4  # minimal sets to find before the search stops (a planner relaxes one row of each)
MAX_QUESTIONS = 200  # phase-one questions over the whole search (most cost a pass or none)


@dataclass(frozen=True, slots=True)
class ConflictSet:
    constraints: tuple[int, ...]  # rows, in the problem's order, that are proven not to hold together
    minimal: bool  # proven: without any one of them, the others hold (fractionally)
    excess: FloatArray  # (K,) how far the closest fractional plan breaks each row of the set, in its own units
    totals: FloatArray  # (M,) the extra measures of that plan (phase_one.PhaseOne's `extra`)
    settled: bool  # `excess` is the least any fractional plan must accept (else: not shown)
    certificate: FloatArray  # (K,) y ≥ 0: every plan has Σ_k y_k·(G_k·x − h_k) > 0 (≤-form rows)


@dataclass(frozen=True, slots=True)
class JointConflict:
    sets: tuple[ConflictSet, ...]  # the minimal sets found, in the order of their rows (empty: fractional)
    complete: bool  # every minimal set was found; False when the search stopped at MAX_SETS or the time limit
    fractional: bool  # a fractional plan meets every limit: only whole contacts conflict


class _Search:
    def __init__(self, problem: AllocationProblem, extra: Sequence[FloatArray], deadline: float) -> None:
        self.engine = PhaseOne(problem, extra, deadline=deadline)
        self.deadline = deadline
        self.questions = 0

    def ask(self, rows: Sequence[int], settle: bool = False) -> Verdict:
        self.questions += 1
        return self.engine.solve(rows, settle=settle)

    @property
    def spent(self) -> bool:
        return time.perf_counter() > self.deadline or self.questions >= MAX_QUESTIONS

    def minimal(self, verdict: Verdict) -> ConflictSet:
        """The deletion filter, from a set proven infeasible, then its amounts."""
        rows = list(verdict.support())
        certificate = verdict.certificate
        minimal = True
        for k in list(rows):
            if k not in rows:
                continue
            if self.spent:
                minimal = False
                break
            rest = self.ask([j for j in rows if j != k])
            if rest.infeasible:
                rows, certificate = list(rest.support()), rest.certificate
            elif not rest.feasible:
                minimal = False  # undecided: k stays, so the set may hold one row too many
        settled = self.ask(rows, settle=True)
        if settled.infeasible:
            certificate = settled.certificate
        return ConflictSet(tuple(rows), minimal, settled.excess, settled.totals, settled.settled, certificate)


def joint_conflict(problem: AllocationProblem, extra: Sequence[FloatArray] = (),
                   time_limit: float = 60.0) -> JointConflict | None:
    """The minimal sets of rows that cannot hold together; None when even all rows are left undecided.

    `extra`: (N, A) measures whose totals are reported for each set's closest fractional plan (the plan file's
    shares report their denominator, to say a share's excess as a share)."""
    p = problem
    if p.constraints == 0:
        return None
    search = _Search(p, extra, time.perf_counter() + time_limit)
    everything = list(range(p.constraints))
    first = search.ask(everything)
    if first.feasible:
        return JointConflict((), True, True)
    if not first.infeasible:
        return None
    found = [search.minimal(first)]
    complete = all(s.minimal for s in found)
    queue: deque[frozenset[int]] = deque(frozenset({k}) for k in found[0].constraints)
    seen = set(queue)
    while queue:
        removed = queue.popleft()
        known = next((s for s in found if removed.isdisjoint(s.constraints)), None)
        if known is None:
            if search.spent:
                complete = False
                break
            rest = search.ask([k for k in everything if k not in removed])
            if rest.feasible:
                continue
            if not rest.infeasible or len(found) == MAX_SETS:
                complete = False
                if rest.infeasible:
                    break
                continue
            known = search.minimal(rest)
            found.append(known)
            complete = complete and known.minimal
        for k in known.constraints:
            child = removed | {k}
            if child not in seen:
                seen.add(child)
                queue.append(child)
    return JointConflict(tuple(sorted(found, key=lambda s: s.constraints)), complete, False)
