"""Cohort: a Polars frame loaded and checked against the rules' field schema.

Categories become pl.Enum, missing values null (NaN too: in Polars `NaN > x` is true, which would silently
change what a rule means). Every bad value is reported with its column, row and value (PII masked), all of
them counted, the first few shown; nothing is evaluated on a cohort that failed its checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl

from engine.compiled import FieldInfo
from engine.expression_ast import Kind

PII_MASK = "<pii hidden>"
NO_COLUMN = "-"  # the column of a problem with the whole file (not found, wrong kind of output)
MAX_SHOWN = 20
_TRUE = ["true", "t", "yes", "y", "1"]
_FALSE = ["false", "f", "no", "n", "0"]


@dataclass(frozen=True, slots=True)
class CohortProblem:
    code: str
    column: str
    message: str
    count: int = 1
    rows: tuple[int, ...] = ()  # 1-based data rows (the header is not a row)
    values: tuple[str, ...] = ()

    def render(self, source: str, csv: bool) -> str:
        # A problem with the file itself (column "-") names no column: it would read like a column named '-'.
        where = f"{source}: column '{self.column}'" if self.column != NO_COLUMN else source
        if not self.rows:
            return f"{where}: {self.message} [{self.code}]"
        shown = ", ".join(
            f"row {r}{f' (line {r + 1})' if csv else ''}: {v}" for r, v in zip(self.rows, self.values, strict=True)
        )
        more = f" … and {self.count - len(self.rows):,} more" if self.count > len(self.rows) else ""
        return f"{where}: {self.message} — {self.count:,} row(s): {shown}{more} [{self.code}]"


class CohortError(Exception):
    """The cohort does not fit the rules' schema. Holds every problem found (each counted, a few shown)."""

    def __init__(self, source: str, problems: Sequence[CohortProblem], csv: bool = False) -> None:
        self.source = source
        self.problems = tuple(problems)
        self.csv = csv
        super().__init__(self.render())

    def render(self) -> str:
        lines = [p.render(self.source, self.csv) for p in self.problems[:MAX_SHOWN]]
        if len(self.problems) > MAX_SHOWN:
            lines.append(f"… and {len(self.problems) - MAX_SHOWN} more kinds of problem")
        bad_values = sum(p.count for p in self.problems if p.rows)
        columns = sum(1 for p in self.problems if not p.rows and p.column != NO_COLUMN)
        files = sum(1 for p in self.problems if not p.rows and p.column == NO_COLUMN)
        found = ", ".join(part for part in (
            f"{bad_values:,} bad value(s)" if bad_values else "", f"{columns} column problem(s)" if columns else "",
            f"{files} file problem(s)" if files else "") if part)
        lines.append(f"{found} in {self.source}; nothing was written")
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class _Check:
    code: str
    column: str
    message: str
    mask: pl.Expr  # true on a bad row
    shown: pl.Expr  # the raw value, for the message


def target_dtype(info: FieldInfo) -> pl.DataType:
    kind = info.type.kind
    if kind is Kind.NUMBER:
        return pl.Float64()
    if kind is Kind.INTEGER:
        return pl.Int64()
    if kind is Kind.BOOLEAN:
        return pl.Boolean()
    if kind is Kind.CATEGORY:
        return pl.Enum(list(info.type.values))
    return pl.String()


def _shown(column: str, info: FieldInfo | None) -> pl.Expr:
    if info is not None and info.pii:
        return pl.lit(PII_MASK)
    return pl.col(column).cast(pl.String).fill_null("<missing>")


def conform(raw_schema: pl.Schema, schema: dict[str, FieldInfo], id_field: str
            ) -> tuple[list[pl.Expr], list[_Check], list[CohortProblem]]:
    """Expressions that turn raw columns into typed ones, the row checks, and the column-level problems."""
    exprs: list[pl.Expr] = []
    checks: list[_Check] = []
    problems: list[CohortProblem] = []
    if id_field not in raw_schema:
        problems.append(CohortProblem(
            "missing-column", id_field,
            "the user id column is missing (with --row-ids, users are numbered by their row instead)"))
    else:
        exprs.append(pl.col(id_field).cast(pl.String))
        checks.append(_Check("missing-id", id_field, "user id is missing", pl.col(id_field).is_null(),
                             pl.lit("<missing>")))
    for name, info in schema.items():
        if name == id_field:
            continue
        if name not in raw_schema:
            if info.required:
                problems.append(CohortProblem("missing-column", name,
                                              f"required column is missing (declared in {info.declared_in})"))
            else:
                exprs.append(pl.lit(None, dtype=target_dtype(info)).alias(name))
            continue
        typed, type_check = _convert(name, info, raw_schema[name])
        if type_check is not None:
            checks.append(type_check)
        exprs.append(typed.alias(name))
        checks.extend(_value_checks(name, info, typed, raw_present=pl.col(name).is_not_null()))
    return exprs, checks, problems


def _convert(name: str, info: FieldInfo, dtype: pl.DataType) -> tuple[pl.Expr, _Check | None]:
    raw = pl.col(name)
    kind = info.type.kind
    shown = _shown(name, info)
    if kind in (Kind.NUMBER, Kind.INTEGER):
        if dtype.is_numeric():
            as_float = raw.cast(pl.Float64)
            bad_parse = pl.lit(False)
        elif dtype == pl.Boolean:
            return raw.cast(target_dtype(info)), _Check(
                "wrong-type", name, f"expected {kind.value}, got true/false", raw.is_not_null(), shown)
        else:
            as_float = raw.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
            bad_parse = raw.is_not_null() & as_float.is_null()
        if kind is Kind.NUMBER:
            value = raw.cast(pl.Float64) if dtype.is_numeric() else as_float
            return value.fill_nan(None), _Check("wrong-type", name, "not a number", bad_parse, shown) if not (
                dtype.is_numeric()) else None
        if dtype.is_integer():
            return raw.cast(pl.Int64), None
        fractional = as_float.is_not_null() & ~as_float.is_nan() & (as_float != as_float.floor())
        bad = bad_parse | fractional
        value = pl.when(~fractional & ~as_float.is_nan()).then(as_float).cast(pl.Int64, strict=False)
        return value, _Check("wrong-type", name, "not a whole number", bad, shown)
    if kind is Kind.BOOLEAN:
        if dtype == pl.Boolean:
            return raw, None
        text = raw.cast(pl.String).str.strip_chars().str.to_lowercase()
        value = pl.when(text.is_in(_TRUE)).then(True).when(text.is_in(_FALSE)).then(False).otherwise(None)
        bad = raw.is_not_null() & ~text.is_in(_TRUE + _FALSE)
        return value.cast(pl.Boolean), _Check("wrong-type", name, "not true/false", bad, shown)
    if kind is Kind.CATEGORY:
        enum = target_dtype(info)
        if dtype == enum:
            return raw, None
        text = raw.cast(pl.String)
        unknown = text.is_not_null() & ~text.is_in(list(info.type.values))
        values = ", ".join(info.type.values[:8]) + (", …" if len(info.type.values) > 8 else "")
        return pl.when(~unknown).then(text).cast(enum), _Check(
            "unknown-category", name, f"not one of its categories ({values})", unknown, shown)
    return raw.cast(pl.String), None


def _value_checks(name: str, info: FieldInfo, typed: pl.Expr, raw_present: pl.Expr) -> list[_Check]:
    shown = _shown(name, info)
    checks: list[_Check] = []
    if info.minimum is not None:
        checks.append(_Check("below-min", name, f"below its minimum {info.minimum:g}", typed < info.minimum, shown))
    if info.maximum is not None:
        checks.append(_Check("above-max", name, f"above its maximum {info.maximum:g}", typed > info.maximum, shown))
    if info.allowed is not None:
        allowed = ", ".join(map(str, info.allowed[:8]))
        checks.append(_Check("not-allowed", name, f"not one of its allowed values ({allowed})",
                             typed.is_not_null() & ~typed.is_in(list(info.allowed)), shown))
    if not info.nullable:
        # A value that failed to parse is reported once, as a wrong type, not again as missing.
        checks.append(_Check("missing-value", name, "missing, but the field is not nullable",
                             typed.is_null() & ~raw_present, shown))
    return checks


def find_problems(raw: pl.LazyFrame, checks: list[_Check], streaming: bool = False) -> list[CohortProblem]:
    """Count every check's bad rows in one pass; fetch a few examples for the checks that failed."""
    if not checks:
        return []
    engine: Literal["streaming", "auto"] = "streaming" if streaming else "auto"
    counts = raw.select(
        [c.mask.fill_null(False).sum().alias(f"c{i}") for i, c in enumerate(checks)]
    ).collect(engine=engine).row(0)
    problems: list[CohortProblem] = []
    for check, count in zip(checks, counts, strict=True):
        if not count:
            continue
        examples = (
            raw.with_row_index("__row", offset=1)
            .filter(check.mask.fill_null(False))
            .select(pl.col("__row"), check.shown.alias("__value"))
            .head(5)
            .collect(engine=engine)
        )
        problems.append(CohortProblem(
            check.code, check.column, check.message, int(count), tuple(examples["__row"].to_list()),
            tuple(f"'{v}'" if v != "<pii hidden>" else v for v in examples["__value"].to_list())))
    return problems


def duplicate_ids(raw: pl.LazyFrame, id_field: str, schema: dict[str, FieldInfo],
                  streaming: bool = False) -> list[CohortProblem]:
    """A user id that appears twice would be decided, and contacted, twice: count the repeated ids and show
    the first few rows that hold one. Missing ids are reported by their own check, not here."""
    if id_field not in raw.collect_schema():
        return []
    engine: Literal["streaming", "auto"] = "streaming" if streaming else "auto"
    ids = pl.col(id_field).cast(pl.String)
    repeated = (
        raw.select(ids.alias("__id")).drop_nulls()
        .group_by("__id").agg(pl.len().alias("__rows"))
        .filter(pl.col("__rows") > 1)
        .collect(engine=engine)
    )
    if repeated.is_empty():
        return []
    examples = (
        raw.with_row_index("__row", offset=1)
        .filter(ids.is_in(repeated["__id"].implode()))
        .select(pl.col("__row"), _shown(id_field, schema.get(id_field)).alias("__value"))
        .head(5)
        .collect(engine=engine)
    )
    return [CohortProblem(
        "duplicate-id", id_field,
        f"user ids must be unique, but {repeated.height:,} id(s) appear more than once",
        int(repeated["__rows"].sum()), tuple(examples["__row"].to_list()),
        tuple(f"'{v}'" if v != PII_MASK else v for v in examples["__value"].to_list()))]


def with_row_ids(frame: pl.LazyFrame, id_field: str) -> pl.LazyFrame:
    """Number users 1..N by row, for a cohort that has no id column (asked for explicitly, never silently)."""
    if id_field in frame.collect_schema():
        return frame
    return frame.with_row_index(id_field, offset=1).with_columns(pl.col(id_field).cast(pl.String))


def hash_pii(value: pl.Expr) -> pl.Expr:
    """A stable, non-reversible stand-in for a PII value (for ids that are themselves personal data)."""
    return value.hash(seed=0x5EED).cast(pl.String)


@dataclass(frozen=True)
class Cohort:
    """Typed cohort columns: the id (String), then every schema field in its declared type."""

    frame: pl.DataFrame
    schema: dict[str, FieldInfo]
    id_field: str
    source: str = "<frame>"

    @property
    def height(self) -> int:
        return self.frame.height

    @classmethod
    def from_frame(cls, frame: pl.DataFrame | pl.LazyFrame, schema: dict[str, FieldInfo], id_field: str = "user_id",
                   source: str = "<frame>", row_ids: bool = False) -> Cohort:
        lazy = with_row_ids(frame.lazy(), id_field) if row_ids else frame.lazy()
        exprs, checks, problems = conform(lazy.collect_schema(), schema, id_field)
        if problems:
            raise CohortError(source, problems)
        problems = find_problems(lazy, checks) + duplicate_ids(lazy, id_field, schema)
        if problems:
            raise CohortError(source, problems)
        typed = lazy.select(exprs).collect()
        return cls(typed, schema, id_field, source)

    @classmethod
    def load(cls, path: str | Path, schema: dict[str, FieldInfo], id_field: str = "user_id",
             row_ids: bool = False) -> Cohort:
        """Read a CSV or Parquet file (or a folder of Parquet files) and check it against the schema.

        With `row_ids`, a cohort without an id column gets its 1-based row numbers as ids."""
        path = Path(path)
        source = str(path)
        if not path.exists():
            raise CohortError(source, [CohortProblem("file-not-found", NO_COLUMN, "no such file or folder")])
        if _is_csv(path):
            frame = _read_csv(path, schema, id_field)
            try:
                return cls.from_frame(frame, schema, id_field, source, row_ids)
            except CohortError as err:
                raise CohortError(source, err.problems, csv=True) from None
        return cls.from_frame(scan_parquet(path), schema, id_field, source, row_ids)


def cohort_columns(path: str | Path) -> frozenset[str]:
    """The columns a cohort file (or folder of Parquet files) holds, without reading its rows; empty when there
    is no such file (loading it then says so)."""
    path = Path(path)
    if not path.exists():
        return frozenset()
    if _is_csv(path):
        separator = "\t" if path.suffix.lower() == ".tsv" else ","
        return frozenset(pl.read_csv(path, n_rows=0, separator=separator).columns)
    return frozenset(scan_parquet(path).collect_schema().names())


def _is_csv(path: Path) -> bool:
    return (path.is_file() and path.suffix.lower() in (".csv", ".txt", ".tsv")) or path.name.endswith(".csv.gz")


def scan_parquet(path: Path) -> pl.LazyFrame:
    target = path / "**/*.parquet" if path.is_dir() else path
    return pl.scan_parquet(target)


def _read_csv(path: Path, schema: dict[str, FieldInfo], id_field: str) -> pl.DataFrame:
    """Fast path: let the CSV reader parse every declared column in its type. If any value does not parse,
    read those columns as text instead, so that conform() can say which rows and values are wrong."""
    separator = "\t" if path.suffix.lower() == ".tsv" else ","
    header = pl.read_csv(path, n_rows=0, separator=separator)
    wanted = [c for c in header.columns if c in schema or c == id_field]
    typed: dict[str, pl.DataType] = {id_field: pl.String()} if id_field in header.columns else {}
    for name in wanted:
        if name in schema and schema[name].type.kind is not Kind.CATEGORY:
            typed[name] = target_dtype(schema[name])
        elif name in schema:
            typed[name] = pl.String()
    try:
        return pl.read_csv(path, columns=wanted, schema_overrides=typed, separator=separator)
    except (pl.exceptions.ComputeError, pl.exceptions.InvalidOperationError):
        return pl.read_csv(path, columns=wanted, infer_schema=False, separator=separator)
