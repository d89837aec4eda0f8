"""The watchdog stops a solver that does not return (and the programs it started), passes a finished answer
through unchanged, and reports a crash or an exception in the child for what it is."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from optimizer import solvers
from optimizer.allocation import Allocation, SolveStatus
from optimizer.feasibility import check_feasible
from optimizer.problem import AllocationProblem
from optimizer.solve_exact_highs import HighsExactSolver
from optimizer.solver_protocol import SolverUnavailable
from optimizer.watchdog import SolverProcessError, Watchdog, load_problem, save_problem
from tests.optimizer.test_lagrangian_bound import marketing_problem

# The helper solvers below are pickled into the child, which imports this module by name to rebuild them.


@dataclass(frozen=True)
class SleepingSolver:
    """Ignores every limit, as CBC and HiGHS did at 100,000 users: sleeps in a program of its own (like CBC)
    after writing that program's pid where the test can find it."""

    pid_file: str
    seconds: float = 120.0
    name: str = "sleeper"

    def solve(self, problem: AllocationProblem) -> Allocation:
        helper = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({self.seconds})"])
        Path(self.pid_file).write_text(str(helper.pid))
        time.sleep(self.seconds)
        raise AssertionError("the watchdog should have stopped this solver")


@dataclass(frozen=True)
class FailingSolver:
    error: str
    name: str = "failing"

    def solve(self, problem: AllocationProblem) -> Allocation:
        if self.error == "unavailable":
            raise SolverUnavailable(self.name, "its backend is not installed")
        if self.error == "crash":
            os._exit(3)  # as a native crash would: no exception, no answer
        raise ValueError("a bug in the solver")


def _gone(pid: int) -> bool:
    """True once the process has ended (a zombie left for a PID 1 that never reaps counts as ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return True
    return state in ("Z", "X")


@pytest.fixture(scope="module")
def problem() -> AllocationProblem:
    return marketing_problem(40, seed=11)


def test_a_solver_that_does_not_return_is_stopped_with_its_helpers(problem: AllocationProblem,
                                                                   tmp_path: Path) -> None:
    pid_file = tmp_path / "helper.pid"
    started = time.perf_counter()
    result = Watchdog(SleepingSolver(str(pid_file)), deadline=2.0).solve(problem)
    elapsed = time.perf_counter() - started
    assert result.status is SolveStatus.NO_SOLUTION
    assert result.method == "sleeper"
    assert "stopped by the watchdog at its 2 s deadline" in result.message
    assert (result.action == -1).all() and result.objective == float("-inf")
    assert elapsed < 2.0 + 10.0  # the deadline, plus killing and reaping
    helper_pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5.0
    while not _gone(helper_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(helper_pid), "the solver's own helper process outlived the watchdog"


def test_a_finished_answer_comes_back_unchanged(problem: AllocationProblem) -> None:
    direct = HighsExactSolver(time_limit=30).solve(problem)
    watched = Watchdog(HighsExactSolver(time_limit=30), deadline=60.0).solve(problem)
    assert watched.status is direct.status is SolveStatus.OPTIMAL
    np.testing.assert_array_equal(watched.action, direct.action)
    assert watched.objective == direct.objective
    assert watched.bound == direct.bound
    assert check_feasible(problem, watched.action) == []


def test_an_exception_in_the_child_is_raised_with_its_traceback(problem: AllocationProblem) -> None:
    with pytest.raises(SolverProcessError, match=r"(?s)failing failed in its watchdog process.*a bug in the solver"):
        Watchdog(FailingSolver("bug"), deadline=30.0).solve(problem)


def test_an_unavailable_backend_stays_unavailable(problem: AllocationProblem) -> None:
    with pytest.raises(SolverUnavailable) as caught:
        Watchdog(FailingSolver("unavailable"), deadline=30.0).solve(problem)
    assert caught.value.solver == "failing"
    assert caught.value.reason == "its backend is not installed"


def test_a_child_that_dies_gives_no_plan_and_says_how(problem: AllocationProblem) -> None:
    result = Watchdog(FailingSolver("crash"), deadline=30.0).solve(problem)
    assert result.status is SolveStatus.NO_SOLUTION
    assert "ended without an answer: exit code 3" in result.message


def test_the_problem_file_round_trips(problem: AllocationProblem, tmp_path: Path) -> None:
    named = AllocationProblem.from_arrays(problem.value, problem.eligible, problem.weight, problem.rhs,
                                          problem.sense, ("预算", "call minutes", "lines", "loss"),
                                          ("电销", "ai_call", "sms", "wechat", "voice bot", "app"))
    path = tmp_path / "problem.npz"
    save_problem(named, path)
    back = load_problem(path)
    for field in ("value", "eligible", "weight", "rhs", "sense"):
        np.testing.assert_array_equal(getattr(back, field), getattr(named, field))
    assert back.constraint_names == named.constraint_names
    assert back.action_names == named.action_names


def test_auto_falls_back_to_the_dual_when_the_mip_is_stopped(problem: AllocationProblem, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A MIP that never returns (as HiGHS at 100,000 users): auto's watchdog stops it at 75 % of the time limit
    and the Lagrangian answers in the time left."""
    sleeper = SleepingSolver(str(tmp_path / "helper.pid"), name="exact-highs")
    stuck = solvers.SolverInfo("exact-highs", True, "never returns", lambda _limit: sleeper)
    monkeypatch.setattr(solvers, "REGISTRY", (stuck, solvers.solver_info("lagrangian")))
    assert solvers.auto_method(problem, time_limit=4.0) == "exact-highs"
    result = solvers.solve(problem, time_limit=4.0)
    assert result.method == "lagrangian"
    assert result.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
    assert check_feasible(problem, result.action) == []
    assert re.match(r"auto: exact-highs gave no plan in 3 s \(stopped by the watchdog at its 3 s deadline",
                    result.message), result.message
    assert result.seconds >= 3.0  # the whole solve's time, the exact attempt's included


def test_a_script_without_a_main_guard_can_use_exact_methods(tmp_path: Path) -> None:
    """The child never imports the caller's main module: a plain script (no `if __name__ == "__main__":`) that
    calls an exact method under the watchdog gets its plan, and does not run itself again in the child."""
    script = tmp_path / "plain.py"
    marker = tmp_path / "runs.txt"
    script.write_text(
        "from pathlib import Path\n"
        f"with open({str(marker)!r}, 'a') as f: f.write('run\\n')\n"
        "from optimizer import solvers\n"
        "from tests.optimizer.test_lagrangian_bound import marketing_problem\n"
        "result = solvers.solve(marketing_problem(30, seed=2), 'exact-highs', time_limit=60)\n"
        "print(result.status.value, result.method)\n", encoding="utf-8")
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["optimal", "exact-highs"]
    assert marker.read_text().splitlines() == ["run"]
