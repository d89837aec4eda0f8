"""`decide rules ...`: check, test, apply and explain rule files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from decide import options, render
from engine import Cohort, RuleFileError, apply_file, explain_user, load_ruleset, run_tests
from engine.explain import render_text

rules_app = typer.Typer(
    help="Check, test, apply and explain rule files (rulesets and pipelines).",
    no_args_is_help=True,
)

RowIds = Annotated[bool, typer.Option("--row-ids", help="the cohort has no id column: number users by row (1-based)")]
RulesPath = Annotated[Path, typer.Argument(help="a ruleset or pipeline YAML file", show_default=False)]


@rules_app.command("check")
def check(paths: Annotated[list[Path], typer.Argument(help="ruleset or pipeline files", show_default=False)]) -> None:
    """Load rule files and report every problem: syntax, unknown fields, type errors, unknown categories.

    Each problem is printed to stderr as path:line:col: message [code], with the source line and a caret.

    Example: decide rules check rulesets/marketing.yaml rulesets/risk_tiers.yaml
    """
    out = render.console()
    errors = render.console(stderr=True)
    failed = False
    for path in paths:
        try:
            ruleset = load_ruleset(path)
        except RuleFileError as err:
            render.print_diagnostics(errors, err)
            failed = True
            continue
        if ruleset.warnings:
            render.print_diagnostics(errors, RuleFileError(ruleset.warnings, ruleset.sources))
        rules = sum(len(s.rules) for s in ruleset.stages)
        out.print(
            f"ok {ruleset.path}: {len(ruleset.stages)} ruleset(s), {rules} rules, {len(ruleset.tags)} tags, "
            f"{len(ruleset.schema)} fields, {len(ruleset.actions)} actions",
            markup=False,
        )
    if failed:
        raise typer.Exit(render.USER_ERROR)


@rules_app.command("test")
def test(paths: Annotated[list[Path], typer.Argument(help="ruleset or pipeline files", show_default=False)]) -> None:
    """Run the tests written in rule files (given a record, expect tier, tags, values, eligible actions).

    Exit code 1 when a test fails, 2 when a file cannot be loaded.

    Example: decide rules test rulesets/marketing.yaml
    """
    out = render.console()
    passed = failed = 0
    with render.user_errors():
        for path in paths:
            for result in run_tests(load_ruleset(path)):
                if result.passed:
                    passed += 1
                    continue
                failed += 1
                out.print(f"FAIL {result.title}", style="red", markup=False)
                for failure in result.failures:
                    out.print(f"     {failure}", markup=False)
    out.print(f"{passed} passed, {failed} failed", style="bold red" if failed else "bold green", markup=False)
    if failed:
        raise typer.Exit(1)


@rules_app.command("apply")
def apply(
    rules: RulesPath,
    cohort: Annotated[Path, typer.Option(help="cohort: .csv, .parquet or a folder of .parquet files",
                                         show_default=False)],
    out: Annotated[Path, typer.Option(help="decisions file to write: .parquet or .csv", show_default=False,
                                      callback=options.suffixes(".parquet", ".pq", ".csv"))],
    chunk_rows: Annotated[int, typer.Option(help="rows per streamed chunk (Parquet sources)", min=1)] = 1_000_000,
    row_ids: RowIds = False,
) -> None:
    """Apply a ruleset or pipeline to a cohort and write one decision per user.

    The cohort is checked against the rules' fields first (types, categories, min/max, missing values);
    any problem is reported with column, row and value, and nothing is written. Parquet cohorts stream in
    chunks, so a cohort larger than memory works.

    Example: decide rules apply rulesets/marketing.yaml --cohort out/demo/cohort.parquet --out decisions.parquet
    """
    console = render.console()
    options.not_an_input(out, "--out", {"cohort (--cohort)": cohort, "rules file": rules})
    with render.user_errors():
        ruleset = load_ruleset(rules)
        with Progress(TextColumn("applying"), BarColumn(), TextColumn("{task.completed:,} users"),
                      TimeElapsedColumn(), console=render.console(stderr=True), transient=True) as bar:
            task = bar.add_task("apply", total=None)
            result = apply_file(ruleset, cohort, out, lambda done, total: bar.update(task, completed=done,
                                                                                    total=total), chunk_rows, row_ids)
    for table in render.summary_tables(result.summary):
        console.print(table)
    mode = "streamed" if result.streamed else "in memory"
    console.print(f"wrote {result.output} ({result.rows:,} users, {result.seconds:.2f} s, {mode})", markup=False)


@rules_app.command("explain")
def explain(
    rules: RulesPath,
    cohort: Annotated[Path, typer.Option(help="cohort file (.csv or .parquet)", show_default=False)],
    user: Annotated[str, typer.Option(help="the user's id", show_default=False)],
    row_ids: RowIds = False,
) -> None:
    """Explain one user's decision: the rules that fired, in order, with the values that made them fire.

    Rules that could not fire because a value was missing are shown too. PII fields are masked.

    Example: decide rules explain rulesets/marketing.yaml --cohort out/demo/cohort.parquet --user U000000042
    """
    console = render.console()
    with render.user_errors():
        ruleset = load_ruleset(rules)
        loaded = Cohort.load(cohort, ruleset.schema, ruleset.id_field, row_ids)
        console.print(render_text(explain_user(ruleset, loaded, user), ruleset), markup=False)

