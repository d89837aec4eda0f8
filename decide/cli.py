"""The `decide` command line: wiring only, the work is done in engine/ (and later optimizer/, simulations/).

A user mistake (a bad rule file, a bad cohort, a missing file) prints what is wrong and exits 2, with no
traceback; a bug in decide keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from decide import options, render
from decide.cohort_commands import cohort_app
from decide.demo import run_demo
from decide.optimize_commands import PlanNotSolved, frontier_command, optimize
from decide.policy_commands import policy_command
from decide.rules_commands import rules_app

app = typer.Typer(
    name="decide",
    help="A rules-and-optimization decision engine for consumer-loan marketing.\n\n"
    "Start with: decide demo",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)
app.add_typer(rules_app, name="rules")
app.add_typer(cohort_app, name="cohort")
app.command("optimize")(optimize)
app.command("frontier")(frontier_command)
app.command("policy")(policy_command)


@app.command()
def demo(
    rows: Annotated[int, typer.Option(help="users in the synthetic cohort", min=1)] = 200_000,
    out: Annotated[Path, typer.Option(help="folder for the demo's files", callback=options.folder)] = Path("out/demo"),
    seed: Annotated[int, typer.Option(help="seed of the synthetic cohort")] = 20261124,
) -> None:
    """Run everything decide can do so far, end to end, on a synthetic cohort.

    Generates a seeded cohort of users, checks and tests the shipped rulesets, applies the marketing
    pipeline (fraud → risk tiers → tags → contact policy → channel eligibility), prints the summary,
    explains one user, then allocates the spring campaign's budget and call-centre capacity across the
    users (plans/spring_campaign.yaml, reading the decisions it wrote) with a certified optimality gap,
    shows the budget frontier and the same campaign staffed per shift, decides later arrivals at the plan's
    prices, solves a lender's book with a few business clients through the Python API (deciding those lumpy
    users apart), and checks the German Credit tiers against the real bad rate.

    Example: decide demo --rows 100000
    """
    console = render.console()
    with render.user_errors():
        try:
            run_demo(console, rows=rows, out=out, seed=seed)
        except PlanNotSolved as err:  # the shipped plans' limits and minimums need enough users to be met
            errors = render.console(stderr=True)
            errors.print(str(err), markup=False)
            errors.print(f"the shipped plans are sized for about 200,000 users; {rows:,} cannot meet them: run the "
                         "demo with a larger --rows", markup=False)
            raise typer.Exit(err.exit_code) from None


def main() -> None:
    app()


if __name__ == "__main__":
    main()
