"""Command-line options checked before any work starts, as Typer parameter errors: the message names the option
(`Invalid value for '--gap': …`), goes to stderr and exits 2, and nothing is read or written.

Typer's own `min=` covers whole-number bounds (`--steps`, `--chunk-rows`); these callbacks cover what it cannot
say: open intervals, NaN and infinity (`float("nan")` passes every `min=`/`max=` comparison), and outputs that
would overwrite an input.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import typer


def finite(value: float) -> float:
    if not math.isfinite(value):
        raise typer.BadParameter(f"expected a finite number, got {value}")
    return value


def seconds(value: float) -> float:
    """A time limit: a finite number of seconds above 0 (0 would stop every solver before it starts)."""
    if not (math.isfinite(value) and value > 0):
        raise typer.BadParameter(f"expected a number of seconds above 0, got {value:g}")
    return value


def gap(value: float) -> float:
    """A relative optimality gap, strictly between 0 (never reached in floating point) and 1 (certifies nothing)."""
    if not (math.isfinite(value) and 0 < value < 1):
        raise typer.BadParameter(f"expected a fraction strictly between 0 and 1 (1e-4 is 0.01 %), got {value:g}")
    return value


def suffixes(*allowed: str) -> Callable[[Path | None], Path | None]:
    """An output file whose format is chosen by its suffix, in a place it can be written: checked before any
    work, so that a typo in a folder name does not cost a solve and then a traceback."""
    def check(value: Path | None) -> Path | None:
        if value is None:
            return value
        if value.suffix.lower() not in allowed:
            endings = allowed[0] if len(allowed) == 1 else f"{', '.join(allowed[:-1])} or {allowed[-1]}"
            raise typer.BadParameter(f"{value} must end in {endings}")
        problem = unwritable(value)
        if problem:
            raise typer.BadParameter(problem)
        return value
    return check


def folder(value: Path) -> Path:
    """An output folder: one that exists or can be made."""
    if value.exists() and not value.is_dir():
        raise typer.BadParameter(f"{value} is a file, not a folder")
    problem = unwritable(value / "probe")
    if problem:
        raise typer.BadParameter(problem)
    return value


def unwritable(path: Path) -> str | None:
    """Why `path` cannot be written (atomically: a temporary file beside it, then a rename), or None. Missing
    folders are made when the output is written, so the nearest existing one must be a writable folder."""
    if path.is_dir():
        return f"{path} is a folder: give a file name inside it"
    above = path.parent
    while not above.exists():
        if above.is_symlink() or above == above.parent:
            return f"{path} cannot be written: {above} does not exist and cannot be made"
        above = above.parent
    if not above.is_dir():
        return f"{path} cannot be written: {above} is a file, not a folder"
    if not os.access(above, os.W_OK | os.X_OK):
        return f"{path} cannot be written: no permission to write in {above}"
    return None


def not_an_input(out: Path | None, option: str, inputs: Mapping[str, Path | None]) -> None:
    """Refuse an output that is one of the inputs (or inside an input folder of Parquet files): writing it would
    destroy the data the command reads, or add a file to the folder being read."""
    if out is None:
        return
    for name, given in inputs.items():
        if given is None:
            continue
        if _same_file(out, given):
            raise typer.BadParameter(f"{out} is also the {name}: writing it would overwrite the input; choose "
                                     "another file", param_hint=f"'{option}'")
        if given.is_dir() and out.resolve().is_relative_to(given.resolve()):
            raise typer.BadParameter(f"{out} is inside the {name} folder, whose files are all read as the input; "
                                     "choose a file outside it", param_hint=f"'{option}'")


def _same_file(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)  # also through a symbolic or hard link
    return a.resolve() == b.resolve()
