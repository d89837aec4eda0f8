"""Published benchmark families that fit the allocation problem exactly, with readers for their file formats.

- Generalised assignment (GAP), OR-Library gap1 … gap12 (Osman 1995; Cattrysse, Salomon & Van Wassenhove
  1994) and Yagiura's larger sets in the same format. Jobs are users, agents are actions, one ≤ row per agent
  (its capacity), and one ≥ row "at least n contacts", which with "at most one action per user" forces every
  job to exactly one agent. OR-Library quotes gap1–12's optima for the maximisation form (value = cost as a
  profit); the literature's minimisation form has value = −cost.
- Multiple-choice multi-dimensional knapsack (MMKP), Khan's format (I01 … I13): groups are users, the items of a
  group are its actions, one ≤ row per resource, and again "at least n contacts" (one item per group).

The public files cannot be fetched from this build machine (only package registries are reachable, and no PyPI
package ships them): put them in a folder and run

    python -m benchmarks.published_instances gap1 gap2 … --method exact-highs

to solve every instance and compare with the known optima below.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from optimizer.problem import AllocationProblem, FloatArray

# OR-Library's gapinfo: optimal values of gap1 … gap8 solved as maximisation problems.
KNOWN_GAP_MAX_OPTIMA: dict[str, int] = {
    "c515-1": 336, "c515-2": 327, "c515-3": 339, "c515-4": 341, "c515-5": 326,
    "c520-1": 434, "c520-2": 436, "c520-3": 420, "c520-4": 419, "c520-5": 428,
    "c525-1": 580, "c525-2": 564, "c525-3": 573, "c525-4": 570, "c525-5": 564,
    "c530-1": 656, "c530-2": 644, "c530-3": 673, "c530-4": 647, "c530-5": 664,
    "c824-1": 563, "c824-2": 558, "c824-3": 564, "c824-4": 568, "c824-5": 559,
    "c832-1": 761, "c832-2": 759, "c832-3": 758, "c832-4": 752, "c832-5": 747,
    "c840-1": 942, "c840-2": 949, "c840-3": 968, "c840-4": 945, "c840-5": 951,
    "c848-1": 1133, "c848-2": 1134, "c848-3": 1141, "c848-4": 1117, "c848-5": 1127,
}


class InstanceFormatError(ValueError):
    """A file that does not follow its format; the message names the file and the number expected."""


class _Numbers:
    """The whitespace-separated numbers of a file, read in order, with errors that say what was expected."""

    def __init__(self, text: str, source: str) -> None:
        self.tokens = text.split()
        self.position = 0
        self.source = source

    def take(self, count: int, what: str) -> FloatArray:
        end = self.position + count
        if end > len(self.tokens):
            raise InstanceFormatError(f"{self.source}: the file ends after {len(self.tokens)} numbers, while "
                                      f"reading {what} ({count} numbers from number {self.position + 1})")
        try:
            values = np.array([float(t) for t in self.tokens[self.position:end]])
        except ValueError as err:
            raise InstanceFormatError(f"{self.source}: {what}: {err}") from err
        self.position = end
        return values

    def integer(self, what: str) -> int:
        value = float(self.take(1, what)[0])
        if value != int(value) or value < 0:
            raise InstanceFormatError(f"{self.source}: {what} must be a non-negative integer, got {value:g}")
        return int(value)

    def rest(self) -> list[str]:
        return self.tokens[self.position:]


def _at_least_all(eligible_shape: tuple[int, int]) -> FloatArray:
    ones: FloatArray = np.ones((1, *eligible_shape))
    return ones


@dataclass(frozen=True, slots=True)
class GapInstance:
    name: str  # OR-Library's notation: c{agents}{jobs}-{index}, e.g. c515-1
    cost: FloatArray  # (m, n) cost (or profit) of giving job j to agent i
    resource: FloatArray  # (m, n) capacity agent i uses for job j
    capacity: FloatArray  # (m,)

    @property
    def agents(self) -> int:
        return int(self.cost.shape[0])

    @property
    def jobs(self) -> int:
        return int(self.cost.shape[1])

    def to_problem(self, maximise: bool) -> AllocationProblem:
        """Users = jobs, actions = agents; value = cost (maximise, OR-Library's optima) or −cost (minimise)."""
        m, n = self.agents, self.jobs
        value = (self.cost if maximise else -self.cost).T  # (n, m)
        capacity_rows = np.zeros((m, n, m))
        capacity_rows[np.arange(m), :, np.arange(m)] = self.resource
        weight = np.concatenate([capacity_rows, _at_least_all((n, m))])
        rhs = np.r_[self.capacity, n]
        sense = np.r_[np.full(m, -1), 1].astype(np.int8)
        names = (*(f"capacity_agent_{i + 1}" for i in range(m)), "every_job_assigned")
        return AllocationProblem.from_arrays(value, None, weight, rhs, sense, names,
                                             tuple(f"agent_{i + 1}" for i in range(m)))


def parse_orlib_gap(text: str, source: str = "<gap>") -> list[GapInstance]:
    """An OR-Library GAP file: P, then for each problem m n, the m×n costs, the m×n resources, m capacities."""
    numbers = _Numbers(text, source)
    count = numbers.integer("the number of problem sets P")
    instances: list[GapInstance] = []
    for p in range(1, count + 1):
        m = numbers.integer(f"problem {p}: the number of agents m")
        n = numbers.integer(f"problem {p}: the number of jobs n")
        cost = numbers.take(m * n, f"problem {p}: the {m}×{n} cost matrix").reshape(m, n)
        resource = numbers.take(m * n, f"problem {p}: the {m}×{n} resource matrix").reshape(m, n)
        capacity = numbers.take(m, f"problem {p}: the {m} agent capacities")
        instances.append(GapInstance(f"c{m}{n}-{p}", cost, resource, capacity))
    if numbers.rest():
        raise InstanceFormatError(f"{source}: {len(numbers.rest())} numbers left after {count} problem sets")
    return instances


@dataclass(frozen=True, slots=True)
class MmkpInstance:
    name: str
    value: FloatArray  # (n, l) value of item a of group u
    weight: FloatArray  # (m, n, l) resource k used by item a of group u
    capacity: FloatArray  # (m,)

    def to_problem(self) -> AllocationProblem:
        n, items = self.value.shape
        m = self.capacity.size
        weight = np.concatenate([self.weight, _at_least_all((n, items))])
        rhs = np.r_[self.capacity, n]
        sense = np.r_[np.full(m, -1), 1].astype(np.int8)
        names = (*(f"resource_{k + 1}" for k in range(m)), "one_item_per_group")
        return AllocationProblem.from_arrays(self.value, None, weight, rhs, sense, names,
                                             tuple(f"item_{a + 1}" for a in range(items)))


def parse_mmkp(text: str, name: str = "<mmkp>") -> MmkpInstance:
    """Khan's MMKP format: n l m; the m capacities; per group its number, then l lines "value r_1 … r_m".
    Anything after the last group (the solution sections some files carry) is ignored."""
    numbers = _Numbers(text, name)
    n = numbers.integer("the number of groups n")
    items = numbers.integer("the number of items per group l")
    m = numbers.integer("the number of resources m")
    capacity = numbers.take(m, f"the {m} resource capacities")
    value = np.empty((n, items))
    weight = np.empty((m, n, items))
    for group in range(n):
        label = numbers.integer(f"the number of group {group + 1}")
        if label != group + 1:
            raise InstanceFormatError(f"{name}: expected group number {group + 1}, found {label}")
        rows = numbers.take(items * (1 + m), f"group {group + 1}: {items} items × (value + {m} resources)")
        rows = rows.reshape(items, 1 + m)
        value[group] = rows[:, 0]
        weight[:, group, :] = rows[:, 1:].T
    return MmkpInstance(name, value, weight, capacity)


def _gap_instances(paths: list[Path]) -> Iterator[tuple[str, AllocationProblem, int | None]]:
    for path in paths:
        for instance in parse_orlib_gap(path.read_text(), str(path)):
            yield instance.name, instance.to_problem(maximise=True), KNOWN_GAP_MAX_OPTIMA.get(instance.name)


def main(argv: list[str] | None = None) -> int:
    from optimizer.solvers import registered, solve

    parser = argparse.ArgumentParser(description="Solve OR-Library GAP files (maximisation form) and compare "
                                                 "with the published optima.")
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--method", default="exact-highs", choices=["auto", *registered()])
    parser.add_argument("--time-limit", type=float, default=60.0)
    args = parser.parse_args(argv)
    worst = 0.0
    for name, problem, known in _gap_instances(args.files):
        result = solve(problem, method=args.method, time_limit=args.time_limit)
        off = "" if known is None else f"  known {known}, off by {result.objective - known:+.6g}"
        if known is not None:
            worst = max(worst, abs(result.objective - known))
        print(f"{name:>10}  {result.status.value:<12} {result.objective:>12.6g}  bound {result.bound:.6g}"
              f"  {result.seconds:7.2f} s{off}")
    return 0 if worst <= 1e-6 else 1


if __name__ == "__main__":
    sys.exit(main())
