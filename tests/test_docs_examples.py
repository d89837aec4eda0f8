"""Every example file in docs/examples runs (Typer's docs_src idea): what the docs show works."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "docs" / "examples").glob("*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(path), run_name="__main__")
    assert "certified gap" in capsys.readouterr().out


def test_readme_shows_the_example_calls() -> None:
    readme = (EXAMPLES[0].parents[2] / "README.md").read_text(encoding="utf-8")
    source = (EXAMPLES[0].parent / "allocation_api.py").read_text(encoding="utf-8")
    for line in ("weight=np.stack([cost, minutes]),", "allocation = solve_lagrangian(problem)"):
        assert line in readme and line in source
