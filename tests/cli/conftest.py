"""The cohort the command-line tests share: 3,000 synthetic users, written once per module."""

from __future__ import annotations

from pathlib import Path

import pytest

from decide.example_data import write_cohort


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cohort") / "cohort.parquet"
    write_cohort(path, 3_000, seed=5)
    return path
