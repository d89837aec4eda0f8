"""Export the allocation MIP to .lp or .mps, for a planner who runs their own solver (CPLEX, Gurobi, SCIP …).

The model is the one HiGHS solves (built from arrays by `build_highs_model`), written by HiGHS's own writer:
one binary column per eligible (user, action) pair named `x_<user>_<action>`, one row `one_<user>` ("at most
one action") per user, then the K coupling rows under the planner's names; `<user>` is the user's id when the
caller gives the ids (`decide optimize --export` does), else the user's row number.
Names are made ASCII-safe ([A-Za-z0-9_], not starting with a digit), because LP and MPS readers differ in what
else they accept; a name that had to change keeps its index as a prefix (`c3_...`) so it stays unique.
The objective is maximised: the .lp file says `max`, the .mps file has an OBJSENSE MAX section (free MPS).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from pathlib import Path

import highspy

from optimizer.highs_instance import new_highs
from optimizer.problem import AllocationProblem
from optimizer.solve_exact_highs import build_highs_model

_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
_SAFE_START = re.compile(r"^[A-Za-z_]")
_EXPONENT_LIKE = re.compile(r"^[eE][0-9]")


class ModelFormat(enum.Enum):
    LP = ".lp"
    MPS = ".mps"


class ModelExportError(RuntimeError):
    """HiGHS could not write the file (the message names the path)."""


def safe_names(names: tuple[str, ...], prefix: str) -> list[str]:
    """ASCII-safe, unique names; one that had to change (or clashes) becomes f"{prefix}{index}_{cleaned}"."""
    result: list[str] = []
    seen: set[str] = set()
    for index, name in enumerate(names):
        cleaned = _UNSAFE.sub("_", name)
        ok = cleaned == name and _SAFE_START.match(name) and not _EXPONENT_LIKE.match(name)
        candidate = name if ok and name not in seen and not name.startswith(("x_", "one_")) else (
            f"{prefix}{index}_{cleaned}".rstrip("_"))
        seen.add(candidate)
        result.append(candidate)
    return result


def model_format(path: Path) -> ModelFormat:
    suffix = path.suffix.lower()
    for fmt in ModelFormat:
        if fmt.value == suffix:
            return fmt
    raise ValueError(f"cannot export to '{path}': the file name must end in .lp or .mps, not '{path.suffix}'")


def export_model(problem: AllocationProblem, path: Path | str, user_names: Sequence[str] | None = None,
                 comment: Sequence[str] = ()) -> Path:
    """Write the MIP to `path` (.lp or .mps, by its suffix); returns the path written.

    `user_names` (the users' ids) name the columns and the "at most one" rows (made safe as above; by default
    the user's row number), so a planner's solution maps back to users by name, not by position. `comment`
    lines go at the top of the file, where both formats allow comments."""
    path = Path(path)
    fmt = model_format(path)
    model = build_highs_model(problem, integer=True)
    actions = safe_names(problem.action_names, "a")
    users = safe_names(tuple(user_names), "u") if user_names is not None else [str(u) for u in range(problem.users)]
    lp = model.lp
    lp.col_names_ = [f"x_{users[u]}_{actions[a]}" for u, a in zip(model.users.tolist(), model.actions.tolist(),
                                                                    strict=True)]
    lp.row_names_ = [f"one_{users[u]}" for u in range(problem.users)] + safe_names(problem.constraint_names, "c")
    highs = new_highs()
    highs.passModel(lp)
    if highs.writeModel(str(path)) != highspy.HighsStatus.kOk:
        raise ModelExportError(f"HiGHS could not write the model to '{path}'")
    if comment:
        _prepend(path, [("\\ " if fmt is ModelFormat.LP else "* ") + line for line in comment])
    return path


def _prepend(path: Path, lines: list[str]) -> None:
    """Comment lines before the model (LP: a backslash; MPS: an asterisk in the first column)."""
    body = path.read_bytes()
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8") + body)
