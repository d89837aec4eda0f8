"""Optimizer speed against the baselines the issue names, in the same run, ratios printed.

    pytest benchmarks --size=1m -s -k optimizer     # Lagrangian vs HiGHS's interior-point LP relaxation
    pytest benchmarks --size=100k -s -k optimizer   # also vs PuLP + CBC (300 s limit): slow, on purpose
    pytest benchmarks --size=20m -s -k optimizer    # 10,000,000 users (the issue's ≤ 60 s), no baseline finishes

Correct before fast: every plan passes the independent feasibility checker, and the Lagrangian's bound is
checked against the LP relaxation wherever HiGHS computes it.
"""

from __future__ import annotations

import resource
import time

import pytest

from benchmarks.optimizer_instances import marketing_instance
from benchmarks.scenarios import Scenario
from optimizer.feasibility import check_feasible
from optimizer.problem import AllocationProblem
from optimizer.solve_exact_highs import lp_relaxation_bound
from optimizer.solve_lagrangian import LagrangianOptions, solve_lagrangian
from simulations.lender_book import lender_book

USERS = {"smallest": 1_000, "100k": 100_000, "1m": 1_000_000, "20m": 10_000_000}
LARGEST = 10_000_000  # the 10⁷ row: HiGHS's LP relaxation would need ~40 GB and hours, so no baseline


@pytest.fixture(scope="session")
def allocation_problem(size: Scenario) -> AllocationProblem:
    return marketing_instance(USERS[size.name])


@pytest.mark.benchmark(group="optimizer")
def test_optimizer_lagrangian_10m(benchmark, allocation_problem: AllocationProblem) -> None:  # type: ignore[no-untyped-def]
    if allocation_problem.users != LARGEST:
        pytest.skip("the 10,000,000-user row runs with --size=20m")
    problem_mb = (allocation_problem.value.nbytes + allocation_problem.weight.nbytes
                  + allocation_problem.eligible.nbytes) / 2**20
    result = benchmark.pedantic(solve_lagrangian, args=(allocation_problem,), rounds=1, iterations=1)
    assert check_feasible(allocation_problem, result.action) == []
    assert result.gap <= 1e-4
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    benchmark.extra_info.update(gap=result.gap, peak_mb=peak_mb, problem_mb=problem_mb)
    if benchmark.stats:
        print(f"\nlagrangian, {allocation_problem.users:,} users: {benchmark.stats['median']:.1f} s (target ≤ 60 s), "
              f"gap {result.gap:.2e}; peak {peak_mb:,.0f} MB of which the problem's arrays {problem_mb:,.0f} MB")


@pytest.mark.benchmark(group="optimizer")
def test_optimizer_lagrangian_vs_highs_lp(benchmark, allocation_problem: AllocationProblem, size: Scenario) -> None:  # type: ignore[no-untyped-def]
    if allocation_problem.users == LARGEST:
        pytest.skip("no LP relaxation at 10,000,000 users: see test_optimizer_lagrangian_10m")
    started = time.perf_counter()
    lp = lp_relaxation_bound(allocation_problem)  # interior point: a bound only, no plan
    lp_seconds = time.perf_counter() - started
    result = benchmark.pedantic(solve_lagrangian, args=(allocation_problem,), rounds=1 if size.name != "smallest"
                                else 3, iterations=1)
    assert check_feasible(allocation_problem, result.action) == []
    assert result.gap <= 1e-4 or allocation_problem.users < 10_000
    assert result.bound >= lp - 1e-7 * abs(lp)  # the dual bound is never below the LP optimum …
    assert (result.bound - lp) / abs(lp) <= 1e-5  # … and equals it up to the convergence tolerance
    if benchmark.stats:
        ratio = lp_seconds / benchmark.stats["median"]
        benchmark.extra_info.update(lp_seconds=lp_seconds, speedup_vs_highs_lp=ratio, gap=result.gap)
        print(f"\nlagrangian, {allocation_problem.users:,} users: {benchmark.stats['median']:.2f} s, gap "
              f"{result.gap:.2e}; HiGHS interior-point LP relaxation alone {lp_seconds:.2f} s → {ratio:.1f}x")


@pytest.mark.benchmark(group="optimizer")
def test_optimizer_lagrangian_vs_pulp_cbc(benchmark, allocation_problem: AllocationProblem, size: Scenario) -> None:  # type: ignore[no-untyped-def]
    if size.name not in ("smallest", "100k"):
        pytest.skip("PuLP + CBC is the issue's baseline at 100,000 users (and CBC needs its 300 s there)")
    from optimizer.solve_exact_pulp import PulpCbcSolver
    from optimizer.solver_protocol import SolverUnavailable

    started = time.perf_counter()
    try:
        cbc = PulpCbcSolver(time_limit=300.0).solve(allocation_problem)
    except SolverUnavailable as err:
        pytest.skip(str(err))
    cbc_seconds = time.perf_counter() - started  # model building included: it is what a PuLP user pays
    # The Lagrangian asked for a gap of 1e-6 (`--gap 1e-6`): at its default 1e-4 it stops once certified at
    # 2.9e-6 with 3,868,052.7, and CBC's plan after 300 s varies between runs (3,868,033.9 and 3,868,055.0
    # measured) up to within 1e-6 of the LP bound, 3,868,058.5. At 1e-6: 3,868,058.4 in 0.77 s.
    options = LagrangianOptions(gap=1e-6)
    result = benchmark.pedantic(solve_lagrangian, args=(allocation_problem, options), rounds=1, iterations=1)
    assert check_feasible(allocation_problem, result.action) == []
    if cbc.objective > float("-inf"):
        assert check_feasible(allocation_problem, cbc.action) == []
        assert cbc.objective <= result.bound + 1e-9 * abs(result.bound)  # no plan beats a valid bound
        if size.name == "100k":  # the claim: at 100,000 users, at least as good as CBC's plan
            assert result.objective >= cbc.objective
    if benchmark.stats:
        ratio = cbc_seconds / benchmark.stats["median"]
        benchmark.extra_info.update(cbc_seconds=cbc_seconds, speedup_vs_pulp_cbc=ratio,
                                    cbc_objective=cbc.objective, objective=result.objective)
        print(f"\nlagrangian {benchmark.stats['median']:.2f} s, objective {result.objective:,.0f} (gap "
              f"{result.gap:.2e}); PuLP+CBC {cbc_seconds:.1f} s, objective {cbc.objective:,.0f} → {ratio:.0f}x")


# (users, lumpy users, their factor): a few business clients among retail borrowers (lender_book)
LUMPY = {"smallest": (1_500, 3, 2_000.0), "100k": (100_000, 4, 20_000.0), "1m": (1_000_000, 4, 200_000.0)}


@pytest.mark.benchmark(group="optimizer")
def test_optimizer_lumpy_users(benchmark, size: Scenario) -> None:  # type: ignore[no-untyped-def]
    """A few users each a few percent of the budget (a new-user trial's case): the Lagrangian with lumpy users
    decided apart (the default) against the same solver without (`lumpy_share=0`: rounding, then the closing
    rounds; its time limit of 60 s is not always kept, as HiGHS's setup of a MIP over a wide core with lumpy
    users in it does not look at the clock: 200 s measured at 100,000 users), in the same run."""
    if size.name not in LUMPY:
        pytest.skip("the lumpy-user instance has rows for smallest, 100k and 1m")
    problem, _ = lender_book(*LUMPY[size.name])
    started = time.perf_counter()
    rounded = solve_lagrangian(problem, LagrangianOptions(lumpy_share=0.0, time_limit=60.0))
    rounded_seconds = time.perf_counter() - started
    result = benchmark.pedantic(solve_lagrangian, args=(problem,), rounds=1, iterations=1)
    assert check_feasible(problem, result.action) == []
    assert check_feasible(problem, rounded.action) == []
    assert result.gap <= 1e-4
    # At least as good, within the gap (on small problems the closing rounds' whole MIP can reach the optimum
    # too, and either plan may then be the better by less than the gap).
    assert result.objective >= rounded.objective - 1e-4 * abs(result.bound)
    if benchmark.stats:
        ratio = rounded_seconds / benchmark.stats["median"]
        benchmark.extra_info.update(gap=result.gap, rounded_gap=rounded.gap, rounded_seconds=rounded_seconds,
                                    speedup=ratio)
        print(f"\n{problem.users:,} users, lumpy users apart: {benchmark.stats['median']:.2f} s, objective "
              f"{result.objective:,.0f}, gap {result.gap:.2e}; without: {rounded_seconds:.1f} s, objective "
              f"{rounded.objective:,.0f}, gap {rounded.gap:.2e} → {ratio:.1f}x, "
              f"{(result.objective - rounded.objective) / abs(rounded.objective):+.2%} objective")
