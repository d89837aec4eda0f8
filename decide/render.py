"""Rendering for the command line: diagnostics, summaries, explanations (Rich), and the exit-2 policy."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer
from rich.console import Console
from rich.table import Table

from engine import CohortError, DecisionSummary, RuleFileError, Severity
from engine.explain import UserNotFound

USER_ERROR = 2


def console(stderr: bool = False) -> Console:
    # Rich reads COLUMNS itself (tests pin it) and prints plain text to a pipe.
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


@contextlib.contextmanager
def user_errors(out: Console) -> Iterator[None]:
    """Turn the errors a user can fix into a clear message and exit code 2; let bugs through."""
    try:
        yield
    except RuleFileError as err:
        print_diagnostics(out, err)
        raise typer.Exit(USER_ERROR) from None
    except CohortError as err:
        out.print(err.render(), markup=False)
        raise typer.Exit(USER_ERROR) from None
    except (UserNotFound, FileNotFoundError, IsADirectoryError, PermissionError) as err:
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


def summary_tables(summary: DecisionSummary) -> list[Table]:
    tables: list[Table] = []
    n = max(summary.users, 1)
    if summary.tiers:
        tiers = Table(title=f"users per tier ({summary.users:,} users)", title_justify="left")
        tiers.add_column("tier")
        tiers.add_column("users", justify="right")
        tiers.add_column("share", justify="right")
        for tier, count in summary.tiers.items():
            tiers.add_row(tier, f"{count:,}", f"{count / n:.1%}")
        tables.append(tiers)
    if summary.tags:
        tags = Table(title="tags", title_justify="left")
        tags.add_column("tag")
        tags.add_column("users", justify="right")
        tags.add_column("share", justify="right")
        for tag, count in sorted(summary.tags.items(), key=lambda kv: -kv[1]):
            tags.add_row(tag, f"{count:,}", f"{count / n:.1%}")
        tables.append(tags)
    if summary.eligible:
        actions = Table(title="eligible actions", title_justify="left")
        actions.add_column("action")
        actions.add_column("eligible users", justify="right")
        actions.add_column("share", justify="right")
        for action, count in summary.eligible.items():
            actions.add_row(action, f"{count:,}", f"{count / n:.1%}")
        tables.append(actions)
    return tables
