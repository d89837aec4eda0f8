"""The watchdog's child process: `python -m optimizer.watchdog_child FOLDER` (see optimizer/watchdog.py).

Reads the pickled solver and the problem from FOLDER, solves, and writes ("ok", allocation) or ("error", the
exception, its traceback) to FOLDER/result.pickle, atomically: the parent never reads half an answer.
"""

from __future__ import annotations

import os
import pickle
import sys
import traceback
from pathlib import Path

from optimizer.watchdog import PROBLEM, RESULT, SOLVER, load_problem


def run(folder: Path) -> None:
    try:
        with open(folder / SOLVER, "rb") as source:
            solver = pickle.load(source)  # written by our own parent, in its own temporary folder
        payload: tuple[object, ...] = ("ok", solver.solve(load_problem(folder / PROBLEM)))
    except BaseException as err:  # everything is reported to the parent, which decides what to raise
        payload = ("error", err, traceback.format_exc())
    partial = folder / (RESULT + ".partial")
    with open(partial, "wb") as out:
        try:
            pickle.dump(payload, out)
        except (pickle.PicklingError, TypeError, AttributeError):
            out.seek(0)
            out.truncate()
            pickle.dump(("error", None, str(payload[-1])), out)
    os.replace(partial, folder / RESULT)


if __name__ == "__main__":
    run(Path(sys.argv[1]))
