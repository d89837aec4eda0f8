"""New HiGHS instances, quiet. HiGHS prints a copyright banner to the process's stdout (from C++, so Python's
sys.stdout cannot catch it) the first time an instance is made; `decide optimize --out -` and tests that
compare output must not see it."""

from __future__ import annotations

import os
import sys
import threading

import highspy

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
