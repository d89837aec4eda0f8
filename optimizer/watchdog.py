"""A wall-clock watchdog of our own: run a solver in a child process and kill it at the deadline.

CBC and HiGHS ran far past their own 300 s limits at 100,000 users (stuck in the first LP; see solver-notes),
and a thread cannot stop native code, so the solver runs in a process we can kill. The child is started with
'spawn' (or 'forkserver': never 'fork', which would copy the parent's threads and locks), reads the problem
from a temporary .npz file, and makes itself leader of a new process group, so killing the group also ends a
solver's own child processes (PuLP runs CBC as a separate program).

The solver object is pickled into the child: a configured solver from `optimizer.solvers.make_solver`, or any
picklable object with `name` and `solve`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import pickle
import signal
import tempfile
import time
import traceback
from pathlib import Path
from typing import Literal

import numpy as np

from optimizer.allocation import Allocation, SolveStatus
from optimizer.problem import AllocationProblem
from optimizer.solver_protocol import Solver, SolverUnavailable

StartMethod = Literal["spawn", "forkserver"]
KILL_WAIT = 5.0  # seconds to wait for a killed child to be reaped


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


def _child(solver: Solver, problem_path: str, result_path: str) -> None:
    """Entry point of the watchdog's child process."""
    os.setpgrp()  # a new process group: the parent kills it, and with it CBC or any other helper process
    try:
        payload: tuple[object, ...] = ("ok", solver.solve(load_problem(Path(problem_path))))
    except BaseException as err:  # everything is reported to the parent, which decides what to raise
        payload = ("error", err, traceback.format_exc())
    partial = result_path + ".partial"
    with open(partial, "wb") as out:
        try:
            pickle.dump(payload, out)
        except (pickle.PicklingError, TypeError, AttributeError):
            out.seek(0)
            out.truncate()
            pickle.dump(("error", None, str(payload[-1])), out)
    os.replace(partial, result_path)  # the parent never sees half a result


def _kill_group(process: multiprocessing.process.BaseProcess) -> None:
    pid = process.pid
    if pid is None:
        return
    for _ in range(2):  # again after kill(): the child may have formed its group in between
        # The group id is the child's pid only once the child has called setpgrp(); before that there is no
        # such group, and killpg finds nothing.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        process.kill()
    process.join(KILL_WAIT)


class Watchdog:
    """Runs `solver` in a child process; at `deadline` seconds of wall clock it kills the process and answers
    NO_SOLUTION. The deadline counts from the call to `solve`, start-up of the child included."""

    def __init__(self, solver: Solver, deadline: float, start_method: StartMethod = "spawn") -> None:
        self.solver = solver
        self.deadline = deadline
        self.start_method = start_method

    @property
    def name(self) -> str:
        return self.solver.name

    def solve(self, problem: AllocationProblem) -> Allocation:
        started = time.perf_counter()
        context = (multiprocessing.get_context("spawn") if self.start_method == "spawn"
                   else multiprocessing.get_context("forkserver"))
        with tempfile.TemporaryDirectory(prefix="decide-watchdog-") as folder:
            problem_path = Path(folder) / "problem.npz"
            result_path = Path(folder) / "result.pickle"
            save_problem(problem, problem_path)
            process = context.Process(target=_child, args=(self.solver, str(problem_path), str(result_path)),
                                      name=f"decide-{self.solver.name}")
            process.start()
            try:
                process.join(max(0.0, self.deadline - (time.perf_counter() - started)))
                if process.is_alive():
                    _kill_group(process)
                    return self._stopped(problem, started)
            finally:
                if process.is_alive():  # an exception or interrupt while waiting: leave no solver behind
                    _kill_group(process)
            if not result_path.exists():
                return self._died(problem, started, process.exitcode)
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
        return self._empty(problem, started,
                           f"stopped by the watchdog at its {self.deadline:g} s deadline: {self.solver.name} had "
                           "not returned (its own time limit was not honoured); no plan")

    def _died(self, problem: AllocationProblem, started: float, exitcode: int | None) -> Allocation:
        how = f"killed by signal {-exitcode}" if exitcode is not None and exitcode < 0 else f"exit code {exitcode}"
        hint = ""
        if exitcode == -signal.SIGKILL:
            hint = " (perhaps out of memory)"
        elif exitcode == 1:
            # The usual cause: a script without a main guard, which the child re-runs when it imports it.
            hint = (" before solving; its error is on stderr. If a script calls the solver, it must do so under "
                    f"`if __name__ == \"__main__\":`: the '{self.start_method}' start method imports the main module "
                    "in the child")
        return self._empty(problem, started,
                           f"the {self.solver.name} process ended without an answer: {how}{hint}; no plan")
