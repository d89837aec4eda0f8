"""`decide cohort ...`: make example data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from decide import options, render
from decide.example_data import write_cohort

cohort_app = typer.Typer(help="Make example cohorts.", no_args_is_help=True)


@cohort_app.command("generate")
def generate(
    out: Annotated[Path, typer.Option(help="file to write: .parquet or .csv", show_default=False,
                                      callback=options.suffixes(".parquet", ".csv"))],
    rows: Annotated[int, typer.Option(help="number of users", min=1)] = 100_000,
    seed: Annotated[int, typer.Option(help="random seed; the same seed gives the same cohort")] = 20261124,
) -> None:
    """Generate a realistic synthetic cohort of loan-marketing users (seeded; see docs/synthetic-cohort.md).

    Example: decide cohort generate --rows 1000000 --out cohort.parquet
    """
    console = render.console()
    with render.user_errors():
        seconds = write_cohort(out, rows, seed)
    console.print(f"wrote {out} ({rows:,} users, {seconds:.2f} s)", markup=False)
