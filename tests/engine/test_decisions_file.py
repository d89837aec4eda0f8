"""Decisions read back from a file (engine.decisions_file): the same frame as applying the rules, in the cohort's
order, and every way a file can fail to be the cohort's decisions is named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from engine import CohortError, CompiledRuleset, apply_file, load_ruleset
from engine.cohort import Cohort
from engine.decisions_file import decision_columns, load_decisions
from tests.engine.test_cohort_and_files import FIXTURES, random_cohort


@pytest.fixture(scope="module")
def pipeline() -> CompiledRuleset:
    return load_ruleset(FIXTURES / "pipeline.yaml")


@pytest.fixture
def written(pipeline: CompiledRuleset, rng: np.random.Generator, tmp_path: Path) -> tuple[Cohort, Path]:
    frame = random_cohort(400, rng)
    frame.write_parquet(tmp_path / "cohort.parquet")
    apply_file(pipeline, tmp_path / "cohort.parquet", tmp_path / "decisions.parquet")
    return Cohort.from_frame(frame, pipeline.schema, pipeline.id_field, "cohort.parquet"), tmp_path


def test_columns_are_those_apply_writes(pipeline: CompiledRuleset, rng: np.random.Generator) -> None:
    applied = pipeline.apply(Cohort.from_frame(random_cohort(10, rng), pipeline.schema, pipeline.id_field))
    assert decision_columns(pipeline) == applied.frame.schema


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_read_back_equals_applied_in_cohort_order(pipeline: CompiledRuleset, written: tuple[Cohort, Path],
                                                  suffix: str) -> None:
    cohort, folder = written
    applied = pipeline.apply(cohort)
    shuffled = pl.read_parquet(folder / "decisions.parquet").sample(fraction=1.0, shuffle=True, seed=3)
    path = folder / f"shuffled{suffix}"
    if suffix == ".csv":
        shuffled.with_columns(pl.col(pl.Enum).cast(pl.String)).write_csv(path)
    else:
        shuffled.write_parquet(path)
    read = load_decisions(path, pipeline, cohort)
    assert read.ignored == 0
    # The user ids are PII here: the file holds them hashed, and they are matched hashed.
    assert not set(read.decisions.frame["user_id"].to_list()) & set(cohort.frame["user_id"].to_list())
    assert read.decisions.frame.equals(applied.frame)
    assert read.decisions.actions == applied.actions and read.decisions.tiers == applied.tiers
    assert (read.decisions.eligible_matrix() == applied.eligible_matrix()).all()


def test_decisions_for_other_users_are_counted_and_left_out(pipeline: CompiledRuleset,
                                                            written: tuple[Cohort, Path]) -> None:
    cohort, folder = written
    full = pl.read_parquet(folder / "decisions.parquet")
    part = Cohort(cohort.frame.slice(50, 300), cohort.schema, cohort.id_field, "part")
    read = load_decisions(folder / "decisions.parquet", pipeline, part)
    assert read.ignored == 100
    assert read.decisions.frame.equals(full.slice(50, 300))


def test_users_without_a_decision_are_an_error(pipeline: CompiledRuleset, written: tuple[Cohort, Path]) -> None:
    cohort, folder = written
    pl.read_parquet(folder / "decisions.parquet").slice(0, 390).write_parquet(folder / "short.parquet")
    with pytest.raises(CohortError) as err:
        load_decisions(folder / "short.parquet", pipeline, cohort)
    text = err.value.render()
    assert "10 user(s) of the cohort cohort.parquet have no decision" in text
    assert "row 391" in text and "[missing-decision]" in text
    assert "U000390" not in text  # the ids are PII: masked, as in every other message


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: d.drop("eligible_sms"), "column 'eligible_sms': required column is missing"),
    (lambda d: d.with_columns(pl.col("tier").cast(pl.String).replace("prime", "gold")),
     "column 'tier': not one of its categories"),
    (lambda d: d.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(None).otherwise(pl.col("tag_callable"))
                              .alias("tag_callable")), "column 'tag_callable': missing, but the field is not nullable"),
    (lambda d: pl.concat([d, d.head(2)]), "user ids must be unique"),
    (lambda d: d.with_columns(pl.lit("many").alias("credit_limit")), "column 'credit_limit': not a number"),
])
def test_a_file_that_is_not_these_decisions_is_refused(pipeline: CompiledRuleset, written: tuple[Cohort, Path],
                                                       change: object, expected: str) -> None:
    cohort, folder = written
    bad = change(pl.read_parquet(folder / "decisions.parquet"))  # type: ignore[operator]
    bad.write_parquet(folder / "bad.parquet")
    with pytest.raises(CohortError, match=expected):
        load_decisions(folder / "bad.parquet", pipeline, cohort)


def test_the_rule_column_may_be_left_out(pipeline: CompiledRuleset, written: tuple[Cohort, Path]) -> None:
    cohort, folder = written
    pl.read_parquet(folder / "decisions.parquet").drop("tier_rule").write_parquet(folder / "slim.parquet")
    read = load_decisions(folder / "slim.parquet", pipeline, cohort)
    assert read.decisions.frame["tier_rule"].null_count() == cohort.height
    assert read.decisions.frame.drop("tier_rule").equals(pipeline.apply(cohort).frame.drop("tier_rule"))
