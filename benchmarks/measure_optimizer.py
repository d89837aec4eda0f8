"""The optimizer's benchmark table: N users × method → build time, solve time, objective, bound, gap, peak RSS.

    python -m benchmarks.measure_optimizer                       # the default rows, 10³ … 10⁷
    python -m benchmarks.measure_optimizer --rows lagrangian:1000000 highs-lp:1000000

Each row runs in a fresh subprocess, so its peak memory (ru_maxrss of the child) is its own. A row that cannot
finish (CBC at its time limit, a MIP at 10⁵ users) reports what it has, with its status.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

DEFAULT_ROWS = (
    "lagrangian:1000", "exact-highs:1000", "exact-scip:1000", "exact-cpsat:1000", "highs-lp:1000", "exact-pulp:1000",
    "lagrangian:10000", "exact-highs:10000", "highs-lp:10000", "exact-pulp:10000",
    "lagrangian:100000", "highs-lp:100000", "exact-pulp:100000",
    "lagrangian:1000000", "lagrangian-float32:1000000", "highs-lp:1000000",
    "lagrangian:10000000", "lagrangian-float32:10000000",
)
# Exact MIPs stop at this relative gap (or the time limit). CBC gets the issue's setting: its own default gap
# (0) is never reached at 10⁵ users, so it runs to the limit like the planner's PuLP model would.
EXACT_GAP = 1e-4


def child(method: str, n: int, time_limit: float) -> dict[str, object]:
    from benchmarks.optimizer_instances import marketing_instance
    from optimizer.feasibility import check_feasible

    started = time.perf_counter()
    problem = marketing_instance(n, dtype=np.float32 if method.endswith("-float32") else np.float64)
    build = time.perf_counter() - started
    started = time.perf_counter()
    if method == "highs-lp":
        from optimizer.solve_exact_highs import lp_relaxation_bound

        bound = lp_relaxation_bound(problem, time_limit=time_limit)
        return {"build_s": build, "solve_s": time.perf_counter() - started, "objective": None, "bound": bound,
                "gap": None, "status": "LP bound only (no plan)"}
    if method.startswith("lagrangian"):
        from optimizer.solve_lagrangian import solve_lagrangian

        result = solve_lagrangian(problem)
    elif method == "exact-highs":
        from optimizer.solve_exact_highs import HighsExactSolver

        result = HighsExactSolver(time_limit=time_limit, mip_gap=EXACT_GAP).solve(problem)
    elif method == "exact-scip":
        from optimizer.solve_exact_ortools import ScipSolver

        result = ScipSolver(time_limit=time_limit, mip_gap=EXACT_GAP).solve(problem)
    elif method == "exact-cpsat":
        from optimizer.solve_exact_ortools import CpSatSolver

        result = CpSatSolver(time_limit=time_limit, mip_gap=EXACT_GAP).solve(problem)
    else:
        from optimizer.solve_exact_pulp import PulpCbcSolver

        result = PulpCbcSolver(time_limit=time_limit, mip_gap=0.0).solve(problem)
    feasible = result.objective > float("-inf") and not check_feasible(problem, result.action)
    return {"build_s": build, "solve_s": time.perf_counter() - started, "objective": result.objective,
            "bound": result.bound, "gap": result.gap, "status": result.status.value + ("" if feasible else
                                                                                         " (no checked plan)")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", nargs="*", default=list(DEFAULT_ROWS), help="method:users, e.g. lagrangian:100000")
    parser.add_argument("--time-limit", type=float, default=300.0)
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "USERS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = child(args.child[0], int(args.child[1]), args.time_limit)
        result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    print("| N | method | build s | solve s | objective | bound | gap | status | peak MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in args.rows:
        method, users = row.split(":")
        command = [sys.executable, "-m", "benchmarks.measure_optimizer", "--time-limit", str(args.time_limit),
                   "--child", method, users]
        try:
            out = subprocess.run(command, capture_output=True, text=True, timeout=args.time_limit * 2 + 600)
        except subprocess.TimeoutExpired:
            print(f"| {int(users):,} | {method} | | | | | | killed after {args.time_limit * 2 + 600:.0f} s | |")
            continue
        if out.returncode != 0:
            last = (out.stderr.strip().splitlines() or ["?"])[-1]
            print(f"| {int(users):,} | {method} | | | | | | failed: {last[:80]} | |", flush=True)
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])

        def fmt(x: object, spec: str) -> str:
            return "" if x is None or (isinstance(x, float) and x != x) else format(x, spec)

        print(f"| {int(users):,} | {method} | {r['build_s']:.2f} | {r['solve_s']:.2f} | {fmt(r['objective'], ',.1f')} "
              f"| {fmt(r['bound'], ',.1f')} | {fmt(r['gap'], '.2e')} | {r['status']} | {r['peak_mb']:,.0f} |",
              flush=True)


if __name__ == "__main__":
    main()
