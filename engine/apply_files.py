"""Cohort file → decisions file. Parquet sources (a file or a folder of files) stream in row chunks, so
memory stays bounded whatever the cohort's size; CSV sources are read whole. Either way the cohort is fully
checked before anything is written, and the output appears atomically."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from engine.atomic_write import atomic_path
from engine.cohort import (
    NO_COLUMN,
    Cohort,
    CohortError,
    CohortProblem,
    conform,
    duplicate_ids,
    find_problems,
    scan_parquet,
    with_row_ids,
)
from engine.decisions import DecisionSummary, summarize
from engine.decisions_provenance import INPUTS_DIGEST, inputs_digest, metadata
from engine.evaluate_batch import decision_plan
from engine.pipeline import CompiledRuleset

Progress = Callable[[int, int], None]  # (rows done, rows in all)
DEFAULT_CHUNK_ROWS = 1_000_000


@dataclass(frozen=True, slots=True)
class ApplyResult:
    rows: int
    seconds: float
    streamed: bool
    output: Path
    summary: DecisionSummary


def _output_kind(out: Path) -> str:
    suffix = out.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix == ".csv":
        return "csv"
    raise CohortError(str(out), [CohortProblem("bad-output", NO_COLUMN, "the output must end in .parquet or .csv")])


def apply_file(ruleset: CompiledRuleset, cohort_path: str | Path, out: str | Path,
               progress: Progress | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS,
               row_ids: bool = False) -> ApplyResult:
    source, target = Path(cohort_path), Path(out)
    kind = _output_kind(target)
    started = time.perf_counter()
    if source.is_dir() or source.suffix.lower() in (".parquet", ".pq"):
        rows = _stream_parquet(ruleset, source, target, kind, progress, chunk_rows, row_ids)
        streamed = True
    else:
        cohort = Cohort.load(source, ruleset.schema, ruleset.id_field, row_ids)
        decisions = ruleset.apply(cohort)
        written = decisions.frame.with_columns(cohort.frame.select(inputs_digest(ruleset)))
        with atomic_path(target) as tmp:
            if kind == "parquet":
                written.write_parquet(tmp, metadata=metadata(ruleset))
            else:
                _csv_frame(written).write_csv(tmp)
        rows = decisions.height
        streamed = False
        if progress:
            progress(rows, rows)
    seconds = time.perf_counter() - started
    reader = pl.scan_parquet(target) if kind == "parquet" else pl.scan_csv(target)
    tier = ruleset.outputs.get("tier")
    summary = summarize(reader, tier.values if tier else (), ruleset.tags, ruleset.action_ids)
    return ApplyResult(rows, seconds, streamed, target, summary)


def _csv_frame(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col(pl.Enum).cast(pl.String))


def _stream_parquet(ruleset: CompiledRuleset, source: Path, target: Path, kind: str,
                    progress: Progress | None, chunk_rows: int, row_ids: bool) -> int:
    if not source.exists():
        raise CohortError(str(source), [CohortProblem("file-not-found", NO_COLUMN, "no such file or folder")])
    scan = with_row_ids(scan_parquet(source), ruleset.id_field) if row_ids else scan_parquet(source)
    exprs, checks, problems = conform(scan.collect_schema(), ruleset.schema, ruleset.id_field)
    if problems:
        raise CohortError(str(source), problems)
    # First pass: every check over every row, streaming; nothing is written unless all pass.
    problems = find_problems(scan, checks, streaming=True) + duplicate_ids(scan, ruleset.id_field, ruleset.schema,
                                                                           streaming=True)
    if problems:
        raise CohortError(str(source), problems)
    total = int(scan.select(pl.len()).collect().item())
    # The digest rides along in the rules' own pass: a second plan over the same scan read the cohort twice.
    plan = decision_plan(ruleset, scan.select(exprs).with_columns(inputs_digest(ruleset)), keep=(INPUTS_DIGEST,))
    with atomic_path(target) as tmp:
        if kind == "csv":
            plan.select(pl.all()).with_columns(pl.col(pl.Enum).cast(pl.String)).sink_csv(tmp, engine="streaming")
            if progress:
                progress(total, total)
            return total
        writer: pq.ParquetWriter | None = None
        try:
            for offset in range(0, max(total, 1), chunk_rows):
                table = plan.slice(offset, chunk_rows).collect(engine="streaming").to_arrow()
                if writer is None:
                    schema = table.schema.with_metadata(metadata(ruleset))
                    writer = pq.ParquetWriter(tmp, schema, compression="zstd")
                writer.write_table(table)
                if progress:
                    progress(min(offset + chunk_rows, total), total)
        finally:
            if writer is not None:
                writer.close()
    return total
