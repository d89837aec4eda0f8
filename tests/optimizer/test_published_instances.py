"""The published benchmark formats map onto the allocation problem: a small GAP file in OR-Library's format and a
small MMKP file in Khan's format, hand-written here so that brute force over the original formulation is the
oracle, solved by every exact solver. The real published files are tested in test_published_data.py."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from benchmarks.published_instances import InstanceFormatError, parse_mmkp, parse_orlib_gap
from optimizer.allocation import SolveStatus
from optimizer.feasibility import check_feasible
from optimizer.problem import AllocationProblem
from optimizer.solver_protocol import SolverUnavailable
from optimizer.solvers import REGISTRY, SolverInfo

# Two problem sets: 2 agents × 4 jobs, then 3 agents × 5 jobs; costs, resources, capacities, agent by agent.
GAP_FILE = """\
 2
 2 4
 5 8 3 7
 6 4 9 2
 3 4 2 5
 2 5 4 3
 7 7
 3 5
 4 7 2 9 5
 6 3 8 4 7
 5 5 6 2 3
 4 3 5 6 2
 3 5 4 2 6
 5 2 3 4 4
 8 9 8
"""
# Brute force over every assignment (below), and the capacities do bind: without them min 14 / max 30 and 14 / 37.
GAP_OPTIMA = {"c24-1": (19.0, 24.0), "c35-2": (16.0, 33.0)}  # (minimum cost, maximum profit)

# 3 groups of 2 items, 2 resources; after the last group, the kind of solution section Khan's files carry.
MMKP_FILE = """\
3 2 2
12 10
1
6 4 3
8 6 5
2
5 3 3
9 5 6
3
4 2 2
7 4 4
Solutions by Moser's method:
0 0 1 18
"""


def gap_brute_force(cost: np.ndarray, resource: np.ndarray, capacity: np.ndarray) -> tuple[float, float]:
    """Every job to exactly one agent within capacity: (minimum, maximum) total cost."""
    m, n = cost.shape
    totals = []
    jobs = np.arange(n)
    for choice in itertools.product(range(m), repeat=n):
        agents = np.array(choice)
        used = np.zeros(m)
        np.add.at(used, agents, resource[agents, jobs])
        if (used <= capacity).all():
            totals.append(float(cost[agents, jobs].sum()))
    return min(totals), max(totals)


def exact_solvers() -> list[SolverInfo]:
    return [info for info in REGISTRY if info.exact]


def solve_or_skip(info: SolverInfo, problem: AllocationProblem) -> float:
    try:
        result = info.make(30.0).solve(problem)
    except SolverUnavailable as err:
        pytest.skip(str(err))
    assert result.status is SolveStatus.OPTIMAL, result.message
    assert check_feasible(problem, result.action) == []
    assert (result.action >= 0).all(), "GAP and MMKP give every job (group) an agent (item)"
    return result.objective


def test_the_gap_file_is_read_as_written() -> None:
    first, second = parse_orlib_gap(GAP_FILE, "gap-test")
    assert (first.name, first.agents, first.jobs) == ("c24-1", 2, 4)
    assert (second.name, second.agents, second.jobs) == ("c35-2", 3, 5)
    np.testing.assert_array_equal(first.cost, [[5, 8, 3, 7], [6, 4, 9, 2]])
    np.testing.assert_array_equal(second.resource[2], [5, 2, 3, 4, 4])
    np.testing.assert_array_equal(second.capacity, [8, 9, 8])
    for instance in (first, second):
        assert GAP_OPTIMA[instance.name] == gap_brute_force(instance.cost, instance.resource, instance.capacity)


@pytest.mark.parametrize("info", exact_solvers(), ids=lambda info: info.name)
def test_every_exact_solver_finds_the_gap_optima(info: SolverInfo) -> None:
    for instance in parse_orlib_gap(GAP_FILE, "gap-test"):
        low, high = GAP_OPTIMA[instance.name]
        assert solve_or_skip(info, instance.to_problem(maximise=True)) == pytest.approx(high)
        assert -solve_or_skip(info, instance.to_problem(maximise=False)) == pytest.approx(low)


def test_the_gap_mapping_has_one_row_per_agent_and_one_for_all_jobs() -> None:
    problem = parse_orlib_gap(GAP_FILE)[1].to_problem(maximise=True)
    assert (problem.users, problem.actions, problem.constraints) == (5, 3, 4)
    assert problem.constraint_names[-1] == "every_job_assigned"
    assert list(problem.sense) == [-1, -1, -1, 1]
    # Agent 2's capacity row counts only agent 2's column.
    np.testing.assert_array_equal(problem.weight[1][:, 1], [3, 5, 4, 2, 6])
    assert not problem.weight[1][:, [0, 2]].any()


def test_the_mmkp_file_is_read_and_solved() -> None:
    instance = parse_mmkp(MMKP_FILE, "mmkp-test")
    np.testing.assert_array_equal(instance.value, [[6, 8], [5, 9], [4, 7]])
    np.testing.assert_array_equal(instance.weight[1], [[3, 5], [3, 6], [2, 4]])
    np.testing.assert_array_equal(instance.capacity, [12, 10])
    groups = np.arange(3)
    best = max(
        float(instance.value[groups, list(items)].sum())
        for items in itertools.product(range(2), repeat=3)
        if (instance.weight[:, groups, list(items)].sum(axis=1) <= instance.capacity).all()
    )
    assert best == 18.0  # items 1, 1, 2 of the three groups (24 without the capacities)
    highs = next(info for info in REGISTRY if info.name == "exact-highs")
    assert solve_or_skip(highs, instance.to_problem()) == pytest.approx(best)


@pytest.mark.parametrize(("text", "message"), [
    pytest.param(GAP_FILE[:60], "the file ends after", id="truncated"),
    pytest.param(GAP_FILE + " 1", "1 numbers left after 2 problem sets", id="trailing-numbers"),
    pytest.param(GAP_FILE.replace(" 2 4\n", " 2 x\n", 1), "the number of jobs n", id="not-a-number"),
])
def test_format_errors_say_what_was_expected(text: str, message: str) -> None:
    with pytest.raises(InstanceFormatError, match=message):
        parse_orlib_gap(text, "gap-test")
