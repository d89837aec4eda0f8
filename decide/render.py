"""Rendering for the command line: diagnostics, summaries, explanations (Rich), and the exit-2 policy."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer
from rich.console import Console
from rich.table import Table

from engine import CohortError, DecisionSummary, RuleFileError, Severity
from engine.explain import UserNotFound

INTERNAL_ERROR = 1  # a bug in decide (or a solver): kept apart from the planner's mistakes
USER_ERROR = 2  # a mistake the user can fix: a bad file, option or value, or a plan no allocation can meet
NO_PLAN_IN_TIME = 3  # the solver stopped at the time limit without a plan: more time or another method


def count(n: int, noun: str) -> str:
    """"1 user", "2 users", "1,000 users"."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def console(stderr: bool = False) -> Console:
    # Rich reads COLUMNS itself (tests pin it) and prints plain text to a pipe.
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn the errors a user can fix into a clear message on stderr and exit code 2; let bugs through.

    stderr, so that a report piped to a file (or another program) never silently contains an error instead."""
    out = console(stderr=True)
    try:
        yield
    except RuleFileError as err:
        print_diagnostics(out, err)
        raise typer.Exit(USER_ERROR) from None
    except CohortError as err:
        out.print(err.render(), markup=False)
        raise typer.Exit(USER_ERROR) from None
    except (UserNotFound, FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError,
            PermissionError) as err:
        out.print(f"error: {err}", markup=False)
        raise typer.Exit(USER_ERROR) from None


def print_diagnostics(out: Console, err: RuleFileError) -> None:
    for diagnostic in err.diagnostics:
        style = "red" if diagnostic.severity is Severity.ERROR else "yellow"
        text = diagnostic.render(err.sources.get(diagnostic.path))
        first, _, rest = text.partition("\n")
        out.print(first, style=style, markup=False)
        if rest:
            out.print(rest, markup=False)
    errors = len(err.errors)
    out.print(f"{errors} error(s), {len(err.diagnostics) - errors} warning(s)", style="bold", markup=False)


def _count_table(title: str, label: str, counts: list[tuple[str, int]], users: int,
                 count_label: str = "users") -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(label)
    table.add_column(count_label, justify="right")
    table.add_column("share", justify="right")
    for name, count in counts:
        table.add_row(name, f"{count:,}", f"{count / max(users, 1):.1%}")
    return table


def summary_tables(summary: DecisionSummary) -> list[Table]:
    tables: list[Table] = []
    if summary.tiers:
        tables.append(_count_table(f"users per tier ({summary.users:,} users)", "tier",
                                   list(summary.tiers.items()), summary.users))
    if summary.tags:
        tables.append(_count_table("tags", "tag", sorted(summary.tags.items(), key=lambda kv: -kv[1]),
                                   summary.users))
    if summary.eligible:
        tables.append(_count_table("eligible actions", "action", list(summary.eligible.items()), summary.users,
                                   "eligible users"))
    return tables
