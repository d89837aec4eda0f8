"""Where the time goes, ruleset by ruleset: `POLARS_MAX_THREADS=1 python -m benchmarks.profile_stages --rows 1000000`.

Times the pipeline cut after each of its five rulesets (cumulative, best of `--rounds`), for the engine's
compiled plan (a CompiledRuleset with only the first k stages), the hand-written Polars plan and the
hand-written numpy stages, and prints the cumulative and per-stage milliseconds side by side, with the
number of `with_columns` layers in each optimized plan. Polars 2's `LazyFrame.profile` is gone (per-node
timings do not fit the streaming engine, now the default), hence the cumulative cuts.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable

import numpy as np
import polars as pl

from benchmarks import handwritten_numpy as hn
from benchmarks import handwritten_polars as hp
from benchmarks.scenarios import RULESET, SEED
from engine import Cohort, load_ruleset
from engine.evaluate_batch import decision_plan
from simulations.synthetic_cohort import generate_cohort


def best_ms(run: Callable[[], object], rounds: int) -> float:
    run()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return 1000 * min(times)


def numpy_cut(arrays: hn.CohortArrays, stages: int) -> Callable[[], object]:
    def run() -> object:
        fraud = hn.fraud_stage(arrays)
        if stages < 2:
            return fraud
        risk = hn.risk_stage(arrays, fraud)
        if stages < 3:
            return risk
        segment = hn.segment_stage(arrays, risk)
        if stages < 4:
            return segment
        return hn.contact_and_channel_stage(arrays, risk, segment)

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    ruleset = load_ruleset(RULESET)
    cohort = Cohort.from_frame(generate_cohort(args.rows, np.random.default_rng(SEED)), ruleset.schema,
                               ruleset.id_field)
    lazy = cohort.frame.lazy()
    arrays = hn.CohortArrays.from_frame(cohort.frame)
    names = [stage.name for stage in ruleset.stages]
    engine_plans = [decision_plan(dataclasses.replace(ruleset, stages=ruleset.stages[:k]), lazy)
                    for k in range(1, len(names) + 1)]
    hand_plans = [hp.decision_plan(lazy, ruleset.id_field, stages=k) for k in range(1, len(names) + 1)]
    rows = []
    for k, name in enumerate(names):
        numpy_ms = best_ms(numpy_cut(arrays, k + 1), args.rounds) if k != 3 else float("nan")  # 4 and 5 are one
        rows.append((name, best_ms(engine_plans[k].collect, args.rounds), best_ms(hand_plans[k].collect, args.rounds),
                     numpy_ms))
    print(f"{args.rows:,} users, {pl.thread_pool_size()} Polars thread(s); cumulative ms after each ruleset "
          "(per-stage ms in brackets)")
    print(f"{'after':22s} {'engine':>16s} {'hand Polars':>16s} {'hand numpy':>16s}")
    previous = [0.0, 0.0, 0.0]
    for name, *cumulative in rows:
        cells = []
        for i, value in enumerate(cumulative):
            if np.isnan(value):
                cells.append(f"{'(with next)':>16s}")
                continue
            cells.append(f"{value:7.1f} [{value - previous[i]:5.1f}]")
            previous[i] = value
        print(f"{name:22s} {cells[0]:>16s} {cells[1]:>16s} {cells[2]:>16s}")
    layers = [plan.explain().count("WITH_COLUMNS") for plan in (engine_plans[-1], hand_plans[-1])]
    print(f"with_columns layers in the optimized plan: engine {layers[0]}, hand-written {layers[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
