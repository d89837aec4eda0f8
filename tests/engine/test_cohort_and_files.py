"""Loading and checking cohorts; applying to files (in memory, streamed in chunks, one Arrow batch at a time)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from engine import CohortError, CompiledRuleset, apply_arrow, apply_file, evaluate_record, load_ruleset
from engine.cohort import Cohort

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def pipeline() -> CompiledRuleset:
    return load_ruleset(FIXTURES / "pipeline.yaml")


def random_cohort(n: int, rng: np.random.Generator) -> pl.DataFrame:
    def maybe_missing(values: np.ndarray, share: float) -> list[object]:
        return [None if m else v for v, m in zip(values.tolist(), rng.random(n) < share, strict=True)]

    return pl.DataFrame(
        {
            "user_id": [f"U{i:06d}" for i in range(n)],
            "id_number": [f"4401{i:014d}" if i % 50 else "X" for i in range(n)],
            "credit_score": maybe_missing(rng.uniform(300, 900, n).round(1), 0.2),
            "overdue_12m": rng.poisson(0.3, n),
            "income": maybe_missing(rng.lognormal(8.8, 0.6, n).round(0), 0.1),
            "on_blacklist": maybe_missing(rng.random(n) < 0.03, 0.05),
            "city_tier": rng.integers(1, 5, n),
            "occupation": maybe_missing(rng.choice(["office", "blue_collar", "owner"], n), 0.05),
        },
        schema_overrides={"credit_score": pl.Float64, "income": pl.Float64, "on_blacklist": pl.Boolean},
    )


def test_every_bad_value_is_reported_with_row_and_value(pipeline: CompiledRuleset) -> None:
    frame = pl.DataFrame({
        "user_id": ["a", "b", "c", None],
        "id_number": ["secret-1", "secret-2", "secret-3", "secret-4"],
        "credit_score": ["700", "abc", "950", None],
        "overdue_12m": ["0", "1.5", None, "-1"],
        "income": [1.0, 2.0, 3.0, 4.0],
        "on_blacklist": ["yes", "maybe", "false", "0"],
        "city_tier": [1, 5, 2, 3],
        "occupation": ["office", "pilot", None, "owner"],
    })
    with pytest.raises(CohortError) as caught:
        Cohort.from_frame(frame, pipeline.schema, pipeline.id_field)
    found = {(p.code, p.column, p.rows, p.values) for p in caught.value.problems}
    assert found == {
        ("missing-id", "user_id", (4,), ("'<missing>'",)),
        ("wrong-type", "credit_score", (2,), ("'abc'",)),
        ("above-max", "credit_score", (3,), ("'950'",)),
        ("wrong-type", "overdue_12m", (2,), ("'1.5'",)),
        ("missing-value", "overdue_12m", (3,), ("'<missing>'",)),
        ("below-min", "overdue_12m", (4,), ("'-1'",)),
        ("wrong-type", "on_blacklist", (2,), ("'maybe'",)),
        ("not-allowed", "city_tier", (2,), ("'5'",)),
        ("unknown-category", "occupation", (2,), ("'pilot'",)),
    }


def test_missing_required_columns_are_named(pipeline: CompiledRuleset) -> None:
    with pytest.raises(CohortError) as caught:
        Cohort.from_frame(pl.DataFrame({"user_id": ["a"]}), pipeline.schema, pipeline.id_field)
    missing = sorted(p.column for p in caught.value.problems if p.code == "missing-column")
    assert missing == sorted(c for c in pipeline.schema if c != "user_id")


def test_pii_values_never_appear_in_errors(pipeline: CompiledRuleset) -> None:
    schema = dict(pipeline.schema)
    frame = random_cohort(5, np.random.default_rng(1)).with_columns(
        pl.Series("id_number", ["secret-a", None, "secret-c", "secret-d", "secret-e"]))
    from dataclasses import replace

    schema["id_number"] = replace(schema["id_number"], nullable=False)
    with pytest.raises(CohortError) as caught:
        Cohort.from_frame(frame, schema, "user_id")
    assert "secret" not in caught.value.render()


def test_nan_is_missing(pipeline: CompiledRuleset) -> None:
    frame = random_cohort(3, np.random.default_rng(2)).with_columns(
        pl.Series("credit_score", [float("nan"), 800.0, None]))
    cohort = Cohort.from_frame(frame, pipeline.schema, pipeline.id_field)
    assert cohort.frame["credit_score"].to_list() == [None, 800.0, None]


def test_batch_equals_reference_on_a_random_cohort(pipeline: CompiledRuleset, rng: np.random.Generator) -> None:
    cohort = Cohort.from_frame(random_cohort(500, rng), pipeline.schema, pipeline.id_field)
    decisions = pipeline.apply(cohort).frame
    assert decisions.columns[:3] == ["user_id", "tier", "tier_rule"]
    for record, row in zip(cohort.frame.iter_rows(named=True), decisions.iter_rows(named=True), strict=True):
        expected = evaluate_record(pipeline, record)
        assert row["tier"] == expected.values["tier"]
        assert row["tier_rule"] == expected.rules["tier_rule"]
        assert row["credit_limit"] == pytest.approx(expected.values["credit_limit"])
        assert {t for t in pipeline.tags if row[f"tag_{t}"]} == expected.tags
        assert {a for a in pipeline.action_ids if row[f"eligible_{a}"]} == expected.eligible


def test_pii_id_is_hashed_in_decisions(pipeline: CompiledRuleset, rng: np.random.Generator) -> None:
    frame = random_cohort(20, rng)
    decisions = pipeline.apply(Cohort.from_frame(frame, pipeline.schema, pipeline.id_field)).frame
    assert not set(decisions["user_id"].to_list()) & set(frame["user_id"].to_list())
    assert "id_number" not in decisions.columns
    assert decisions["user_id"].n_unique() == 20


def test_streamed_chunks_equal_in_memory(pipeline: CompiledRuleset, rng: np.random.Generator, tmp_path: Path) -> None:
    frame = random_cohort(2_500, rng)
    folder = tmp_path / "cohort"
    folder.mkdir()
    frame.slice(0, 1_000).write_parquet(folder / "part-0.parquet")
    frame.slice(1_000).write_parquet(folder / "part-1.parquet")
    frame.write_csv(tmp_path / "cohort.csv")
    seen: list[tuple[int, int]] = []
    streamed = apply_file(pipeline, folder, tmp_path / "streamed.parquet", lambda d, t: seen.append((d, t)),
                          chunk_rows=700)
    in_memory = apply_file(pipeline, tmp_path / "cohort.csv", tmp_path / "memory.parquet")
    assert streamed.streamed and not in_memory.streamed
    assert seen == [(700, 2500), (1400, 2500), (2100, 2500), (2500, 2500)]
    assert pl.read_parquet(tmp_path / "streamed.parquet").equals(pl.read_parquet(tmp_path / "memory.parquet"))
    assert streamed.summary == in_memory.summary
    assert streamed.summary.users == 2_500


def test_bad_cohort_writes_nothing(pipeline: CompiledRuleset, rng: np.random.Generator, tmp_path: Path) -> None:
    frame = random_cohort(100, rng).with_columns(pl.lit(5_000.0).alias("credit_score"))
    frame.write_parquet(tmp_path / "bad.parquet")
    out = tmp_path / "decisions.parquet"
    with pytest.raises(CohortError) as caught:
        apply_file(pipeline, tmp_path / "bad.parquet", out)
    assert caught.value.problems[0].count == 100
    assert list(tmp_path.iterdir()) == [tmp_path / "bad.parquet"]


def _with_repeated_ids(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows 4 and 7 repeat the id of row 1, row 9 that of row 2: 2 ids appear more than once, in 5 rows."""
    ids = frame["user_id"].to_list()
    ids[3] = ids[6] = ids[0]
    ids[8] = ids[1]
    return frame.with_columns(pl.Series("user_id", ids))


def test_duplicate_ids_are_rejected_with_count_and_examples(pipeline: CompiledRuleset,
                                                            rng: np.random.Generator) -> None:
    frame = _with_repeated_ids(random_cohort(50, rng))
    public = {**pipeline.schema, "user_id": dataclasses.replace(pipeline.schema["user_id"], pii=False)}
    with pytest.raises(CohortError) as caught:
        Cohort.from_frame(frame, public, pipeline.id_field)
    [problem] = caught.value.problems
    assert (problem.code, problem.column, problem.count) == ("duplicate-id", "user_id", 5)
    assert problem.rows == (1, 2, 4, 7, 9)
    assert problem.values == ("'U000000'", "'U000001'", "'U000000'", "'U000000'", "'U000001'")
    assert "2 id(s) appear more than once" in caught.value.render()
    # An id that is personal data is shown by its row only, like every other PII value.
    with pytest.raises(CohortError) as caught:
        Cohort.from_frame(frame, pipeline.schema, pipeline.id_field)
    assert caught.value.problems[0].values == ("<pii hidden>",) * 5
    assert "U000000" not in caught.value.render()


@pytest.mark.parametrize("layout", ["csv", "parquet folder"])
def test_duplicate_ids_write_nothing(pipeline: CompiledRuleset, rng: np.random.Generator, tmp_path: Path,
                                     layout: str) -> None:
    """The id repeats across two Parquet files of a streamed folder: still caught before anything is written."""
    frame = random_cohort(40, rng)
    frame = frame.with_columns(pl.when(pl.int_range(pl.len()) == 30).then(pl.lit("U000003"))
                               .otherwise(pl.col("user_id")).alias("user_id"))
    if layout == "csv":
        source = tmp_path / "cohort.csv"
        frame.write_csv(source)
    else:
        source = tmp_path / "cohort"
        source.mkdir()
        frame.slice(0, 20).write_parquet(source / "part-0.parquet")
        frame.slice(20).write_parquet(source / "part-1.parquet")
    out = tmp_path / "decisions.parquet"
    with pytest.raises(CohortError) as caught:
        apply_file(pipeline, source, out, chunk_rows=10)
    assert [(p.code, p.count, p.rows) for p in caught.value.problems] == [("duplicate-id", 2, (4, 31))]
    assert not out.exists()


def test_missing_ids_are_not_counted_as_duplicates(pipeline: CompiledRuleset, rng: np.random.Generator) -> None:
    frame = random_cohort(10, rng).with_columns(
        pl.when(pl.int_range(pl.len()) < 3).then(None).otherwise(pl.col("user_id")).alias("user_id"))
    with pytest.raises(CohortError) as caught:
        Cohort.from_frame(frame, pipeline.schema, pipeline.id_field)
    assert [p.code for p in caught.value.problems] == ["missing-id"]


def test_arrow_batch_equals_whole_frame(pipeline: CompiledRuleset, rng: np.random.Generator) -> None:
    frame = random_cohort(300, rng)
    whole = pipeline.apply(Cohort.from_frame(frame, pipeline.schema, pipeline.id_field)).frame
    parts = [pl.from_arrow(apply_arrow(pipeline, batch)) for batch in frame.to_arrow().to_batches(max_chunksize=128)]
    assert pl.concat(parts).equals(whole)  # type: ignore[arg-type]


def test_csv_output_has_plain_text_categories(pipeline: CompiledRuleset, rng: np.random.Generator,
                                              tmp_path: Path) -> None:
    random_cohort(50, rng).write_parquet(tmp_path / "c.parquet")
    apply_file(pipeline, tmp_path / "c.parquet", tmp_path / "d.csv")
    back = pl.read_csv(tmp_path / "d.csv")
    assert set(back["tier"].unique().to_list()) <= {"reject", "watch", "potential", "prime"}
    assert back.height == 50


def test_eligible_matrix_shape_and_order(pipeline: CompiledRuleset, rng: np.random.Generator) -> None:
    decisions = pipeline.apply(Cohort.from_frame(random_cohort(40, rng), pipeline.schema, pipeline.id_field))
    matrix = decisions.eligible_matrix()
    assert matrix.shape == (40, 3) and matrix.dtype == np.bool_
    assert (matrix[:, 1] == decisions.frame["eligible_telesales"].to_numpy()).all()
    codes = decisions.tier_codes()
    assert [decisions.tiers[c] for c in codes] == decisions.frame["tier"].to_list()


def test_has_tag_of_a_tag_nobody_gives_is_false_in_batch_as_in_reference(tmp_path: Path) -> None:
    path = tmp_path / "alone.yaml"
    path.write_text("ruleset: alone\nhit_policy: collect\nfields: {a: {type: number}}\nrules:\n"
                    "  - {id: vip, when: \"has_tag('vip') or a > 1\", then: {tags: [big]}}\n", encoding="utf-8")
    ruleset = load_ruleset(path)
    frame = pl.DataFrame({"user_id": ["u1", "u2"], "a": [2.0, 0.0]})
    decisions = ruleset.apply(Cohort.from_frame(frame, ruleset.schema))
    assert decisions.frame["tag_big"].to_list() == [True, False]
    assert decisions.frame.columns == ["user_id", "tag_big"]
    assert [evaluate_record(ruleset, r).tags for r in frame.iter_rows(named=True)] == [{"big"}, set()]
