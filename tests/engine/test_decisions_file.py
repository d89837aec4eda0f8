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
    full = pl.read_parquet(folder / "decisions.parquet").drop("inputs_digest")
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


def test_decisions_for_other_inputs_are_refused(pipeline: CompiledRuleset, written: tuple[Cohort, Path]) -> None:
    """The same ids with other data (another cohort, or data changed since): those users are named."""
    cohort, folder = written
    changed = cohort.frame.with_columns(
        pl.when(pl.int_range(pl.len()).is_in([4, 9, 200])).then(pl.lit(3)).otherwise(pl.col("overdue_12m"))
        .alias("overdue_12m"))
    changed = changed.with_columns(pl.when(pl.int_range(pl.len()) == 9).then(pl.lit(5)).otherwise(
        pl.col("overdue_12m")).alias("overdue_12m"))
    now = Cohort(changed, cohort.schema, cohort.id_field, "changed.parquet")
    differing = int((changed["overdue_12m"] != cohort.frame["overdue_12m"]).sum())
    assert differing >= 1
    with pytest.raises(CohortError) as err:
        load_decisions(folder / "decisions.parquet", pipeline, now)
    text = err.value.render()
    assert f"{differing} user(s) of the cohort changed.parquet have other inputs" in text
    assert "[other-inputs]" in text


def test_decisions_made_by_other_rules_are_refused(pipeline: CompiledRuleset, written: tuple[Cohort, Path],
                                                   tmp_path: Path) -> None:
    cohort, folder = written
    for name in ("pipeline.yaml", "risk.yaml", "contact.yaml"):
        text = (FIXTURES / name).read_text(encoding="utf-8")
        (tmp_path / name).write_text(text.replace("credit_score >= 700", "credit_score >= 720"), encoding="utf-8")
    edited = load_ruleset(tmp_path / "pipeline.yaml")
    with pytest.raises(CohortError, match=r"these decisions were made by the rules 'small' \(version 1\), whose "
                                          r"files are not those of"):
        load_decisions(folder / "decisions.parquet", edited, cohort)


def test_what_could_not_be_checked_is_said(pipeline: CompiledRuleset, written: tuple[Cohort, Path]) -> None:
    cohort, folder = written
    slim = Cohort(cohort.frame.select("user_id", "income"),
                  {name: cohort.schema[name] for name in ("user_id", "income")}, cohort.id_field)
    read = load_decisions(folder / "decisions.parquet", pipeline, slim)
    assert read.unchecked.startswith("the cohort does not hold the rules' inputs (")
    pl.read_parquet(folder / "decisions.parquet").drop("inputs_digest").write_parquet(folder / "other.parquet")
    read = load_decisions(folder / "other.parquet", pipeline, cohort)
    assert "no inputs_digest column" in read.unchecked
    assert load_decisions(folder / "decisions.parquet", pipeline, cohort).unchecked == ""


def test_the_digest_does_not_depend_on_how_the_file_was_written(pipeline: CompiledRuleset,
                                                                written: tuple[Cohort, Path]) -> None:
    cohort, folder = written
    cohort.frame.write_csv(folder / "cohort.csv")
    apply_file(pipeline, folder / "cohort.csv", folder / "memory.parquet")  # in memory, not streamed
    apply_file(pipeline, folder / "cohort.parquet", folder / "chunks.parquet", chunk_rows=70)
    digests = [pl.read_parquet(folder / f)["inputs_digest"] for f in ("memory.parquet", "chunks.parquet",
                                                                     "decisions.parquet")]
    assert digests[0].equals(digests[1]) and digests[1].equals(digests[2])
    assert digests[0].n_unique() > 300
