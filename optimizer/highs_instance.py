"""HiGHS instances, quiet, and runs of them that keep to the wall clock.

HiGHS prints a copyright banner to the process's stdout (from C++, so Python's sys.stdout cannot catch it) the
first time an instance is made; `decide optimize --out -` and tests that compare output must not see it.

HiGHS does not look at the clock everywhere: setting up a MIP over a wide core with lumpy users in it (the clique
partition of its objective) took 225 s in one call against a 10 s time limit. `run_highs` runs each solve on a
thread of its own and, once the run is well past its time limit, leaves it there: the solve finishes on that
thread and nobody reads it, and the caller goes on without it.
"""

from __future__ import annotations

import math
import os
import sys
import threading

import highspy

# A run is left behind once it is this far past its own time limit: a quarter of the limit, at least 2 s (HiGHS
# stops a little late as a rule, between two checks of its clock).
OVERRUN_SHARE = 0.25
OVERRUN_SECONDS = 2.0

_lock = threading.Lock()
_banner_shown = False


def new_highs() -> highspy.Highs:
    global _banner_shown  # one process-wide fact about HiGHS itself, not state of ours
    with _lock:
        if _banner_shown:
            solver = highspy.Highs()
        else:
            sys.stdout.flush()
            saved = os.dup(1)
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, 1)
                solver = highspy.Highs()
            finally:
                os.dup2(saved, 1)
                os.close(saved)
                os.close(devnull)
            _banner_shown = True
    solver.setOptionValue("output_flag", False)
    return solver


def run_highs(solver: highspy.Highs, threads: int, patience: float | None = None) -> bool:
    """Run `solver` with `threads` threads (0: HiGHS's own choice); False when it overran its time limit and was
    left behind (then `solver` is still running on its own thread and must not be touched again). `patience`:
    the seconds to wait in all, when the default (the limit and a quarter, at least 2 s more) is too long.

    The run has a thread of its own, and HiGHS makes one scheduler per calling thread with the thread count the
    run asks for, so runs asking for different counts need no reset of a shared one (HiGHS's parallel search is
    deterministic for a given count, which is why callers ask for one)."""
    solver.setOptionValue("threads", threads)
    status, value = solver.getOptionValue("time_limit")
    limit = float(value) if status == highspy.HighsStatus.kOk else math.inf

    def run() -> None:
        solver.run()
        highspy.Highs.resetThreadScheduler(False)  # this thread's scheduler goes with it

    worker = threading.Thread(target=run, name="highs-run", daemon=True)
    worker.start()
    if patience is None and math.isfinite(limit):
        patience = limit + max(OVERRUN_SECONDS, OVERRUN_SHARE * limit)
    worker.join(patience)
    return not worker.is_alive()
