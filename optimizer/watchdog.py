"""A wall-clock watchdog of our own: run a solver in a child process and kill it at the deadline.

CBC and HiGHS ran far past their own 300 s limits at 100,000 users (stuck in the first LP; see solver-notes),
and a thread cannot stop native code, so the solver runs in a process we can kill. The child is a fresh
interpreter running `python -m optimizer.watchdog_child FOLDER`: it reads the pickled solver and the problem
(.npz) from the folder and writes its answer there. It imports only the solver it runs, never the caller's main
module (multiprocessing's 'spawn' re-imports the main module in the child: the whole command line, and a
caller's script without a main guard ran itself again). It is the leader of a new session, so killing its
process group also ends a solver's own child processes (PuLP runs CBC as a separate program).

The solver object is pickled into the child: a configured solver from `optimizer.solvers.make_solver`, or any
picklable object with `name` and `solve` whose class the child can import (it gets the caller's sys.path).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from optimizer.allocation import Allocation, SolveStatus
from optimizer.problem import AllocationProblem
from optimizer.solver_protocol import Solver, SolverUnavailable

KILL_WAIT = 5.0  # seconds to wait for a killed child to be reaped
PROBLEM, SOLVER, RESULT = "problem.npz", "solver.pickle", "result.pickle"  # the files in the child's folder


class SolverProcessError(RuntimeError):
    """The solver raised an exception in its process; the message carries the child's traceback."""


def save_problem(problem: AllocationProblem, path: Path) -> None:
    # Uncompressed: writing and reading are memory copies, and the file lives only for one solve.
    np.savez(path, value=problem.value, eligible=problem.eligible, weight=problem.weight, rhs=problem.rhs,
             sense=problem.sense, constraint_names=np.array(problem.constraint_names, dtype=str),
             action_names=np.array(problem.action_names, dtype=str))


def load_problem(path: Path) -> AllocationProblem:
    with np.load(path, allow_pickle=False) as data:
        k = data["rhs"].shape[0]
        a = data["value"].shape[1]
        return AllocationProblem(data["value"], data["eligible"], data["weight"], data["rhs"], data["sense"],
                                 tuple(str(s) for s in data["constraint_names"][:k]),
                                 tuple(str(s) for s in data["action_names"][:a]))


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # the child leads its own session: its group is its pid
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(KILL_WAIT)


def _child_environment() -> dict[str, str]:
    """The caller's environment, with its module search path: the child finds the same `optimizer` (a checkout
    run from its folder, an installed copy) and the solver's class wherever the caller imported it from."""
    paths = [p or os.getcwd() for p in sys.path]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}


class Watchdog:
    """Runs `solver` in a child process; at `deadline` seconds of wall clock it kills the process and answers
    NO_SOLUTION. The deadline counts from the call to `solve`, start-up of the child included."""

    def __init__(self, solver: Solver, deadline: float) -> None:
        self.solver = solver
        self.deadline = deadline

    @property
    def name(self) -> str:
        return self.solver.name

    def solve(self, problem: AllocationProblem) -> Allocation:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="decide-watchdog-") as folder:
            base = Path(folder)
            save_problem(problem, base / PROBLEM)
            with open(base / SOLVER, "wb") as out:
                pickle.dump(self.solver, out)
            process = subprocess.Popen([sys.executable, "-m", "optimizer.watchdog_child", folder],
                                       stdin=subprocess.DEVNULL, env=_child_environment(), start_new_session=True)
            try:
                process.wait(max(0.0, self.deadline - (time.perf_counter() - started)))
            except subprocess.TimeoutExpired:
                _kill_group(process)
                return self._stopped(problem, started)
            finally:
                if process.poll() is None:  # an exception or interrupt while waiting: leave no solver behind
                    _kill_group(process)
            result_path = base / RESULT
            if not result_path.exists():
                return self._died(problem, started, process.returncode)
            with open(result_path, "rb") as result_file:
                payload = pickle.load(result_file)  # our own child's file, in our own temporary folder
        return self._answer(payload, started)

    def _answer(self, payload: tuple[object, ...], started: float) -> Allocation:
        if payload[0] == "ok":
            result = payload[1]
            assert isinstance(result, Allocation)
            return dataclasses.replace(result, seconds=time.perf_counter() - started)
        error, child_traceback = payload[1], payload[2]
        if isinstance(error, SolverUnavailable):
            raise error
        raise SolverProcessError(f"{self.solver.name} failed in its watchdog process:\n{child_traceback}") from (
            error if isinstance(error, BaseException) else None)

    def _empty(self, problem: AllocationProblem, started: float, message: str) -> Allocation:
        k = problem.constraints
        return Allocation(np.full(problem.users, -1, dtype=np.int32), float("-inf"), float("inf"),
                          SolveStatus.NO_SOLUTION, self.solver.name, time.perf_counter() - started,
                          np.zeros(k), np.zeros(k), message=message)

    def _stopped(self, problem: AllocationProblem, started: float) -> Allocation:
        return self._empty(problem, started, f"stopped by the watchdog at its {self.deadline:.3g} s deadline before "
                                             f"{self.solver.name} answered; no plan")

    def _died(self, problem: AllocationProblem, started: float, exitcode: int | None) -> Allocation:
        how = f"killed by signal {-exitcode}" if exitcode is not None and exitcode < 0 else f"exit code {exitcode}"
        hint = " (perhaps out of memory)" if exitcode == -signal.SIGKILL else ""
        if exitcode == 1:
            hint = " before answering; its error is on stderr"
        return self._empty(problem, started,
                           f"the {self.solver.name} process ended without an answer: {how}{hint}; no plan")
