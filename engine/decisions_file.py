"""Decisions read back from a file: what `decide rules apply` wrote, or any system that writes the same columns.

A planner who applied the rules once (or whose decisions come from the nightly batch) hands them to the
optimizer instead of applying the rules again. The file is held to what the ruleset would produce: every
column it would write, each in its type (tiers among the ruleset's tiers, tags and eligibility true/false,
never missing), one row per user, and a decision for every user of the cohort. Decisions for users who are not
in the cohort are left out and counted: the nightly batch covers everyone, a campaign's cohort is a part.
Where the file records its provenance (engine/decisions_provenance.py), decisions made by other rules, or for
users whose inputs in the cohort differ from the ones they were made from, are refused.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from engine.cohort import NO_COLUMN, PII_MASK, Cohort, CohortError, CohortProblem, hash_pii, target_dtype
from engine.compiled import FieldInfo
from engine.decisions import ELIGIBLE_PREFIX, Decisions
from engine.decisions_provenance import (
    INPUTS_DIGEST,
    Provenance,
    input_fields,
    inputs_digest,
    read_provenance,
    rules_sha256,
)
from engine.diagnostics import display_path
from engine.evaluate_batch import decision_plan, decisions_from_frame
from engine.expression_ast import BOOLEAN, INTEGER, NUMBER, STRING, Kind, Type
from engine.expression_polars import TAG_PREFIX
from engine.pipeline import CompiledRuleset

_SHOWN = 5


@dataclass(frozen=True)
class LoadedDecisions:
    decisions: Decisions  # in the cohort's order
    ignored: int  # decisions for users not in the cohort
    unchecked: str = ""  # why the decisions could not be checked against the cohort's inputs; "" when they were


def decision_columns(ruleset: CompiledRuleset) -> pl.Schema:
    """The columns `ruleset.apply` writes, with their types: the plan of an empty cohort, never run."""
    cohort = {ruleset.id_field: pl.String(), **{
        name: target_dtype(info) for name, info in ruleset.schema.items() if name != ruleset.id_field}}
    return decision_plan(ruleset, pl.LazyFrame(schema=cohort)).collect_schema()


def _field(name: str, dtype: pl.DataType, rule_columns: frozenset[str], source: str) -> FieldInfo:
    flag = name.startswith((TAG_PREFIX, ELIGIBLE_PREFIX)) and dtype == pl.Boolean
    if isinstance(dtype, pl.Enum):
        typ = Type(Kind.CATEGORY, tuple(dtype.categories.to_list()))
    elif dtype == pl.Boolean:
        typ = BOOLEAN
    elif dtype.is_integer():
        typ = INTEGER
    elif dtype.is_numeric():
        typ = NUMBER
    else:
        typ = STRING
    # A missing tag or eligibility would be read as "no" by one reader and "unknown" by another: refuse it.
    # The rule that decided a tier is for explanations; a file from another system may leave it out.
    return FieldInfo(name, typ, nullable=not flag, required=name not in rule_columns,
                     declared_in=f"the outputs of {source}")


def load_decisions(path: str | Path, ruleset: CompiledRuleset, cohort: Cohort) -> LoadedDecisions:
    """Read, check and align a decisions file to the cohort's users. Raises CohortError naming the file, the
    column and the rows for every problem: a missing column, a bad value, a repeated id, users without one."""
    columns = decision_columns(ruleset)
    id_field = ruleset.id_field
    rule_columns = frozenset(s.rule_column for s in ruleset.stages if s.rule_column)
    writer = os.path.normpath(display_path(ruleset.path))
    schema = {name: _field(name, dtype, rule_columns, writer)
              for name, dtype in columns.items() if name != id_field}
    schema[INPUTS_DIGEST] = FieldInfo(INPUTS_DIGEST, STRING, required=False)
    provenance = read_provenance(Path(path))
    if provenance is not None and provenance.sha256 != rules_sha256(ruleset):
        raise CohortError(str(path), [CohortProblem(
            "other-rules", NO_COLUMN,
            f"these decisions were made by the rules '{provenance.rules}' (version {provenance.version}), whose files "
            f"are not those of {writer} (version {ruleset.version}): apply these rules again (decide rules apply), "
            "or point the plan at the rules that made the decisions")])
    read = Cohort.load(path, schema, id_field)
    source = read.source
    id_info = cohort.schema.get(id_field)
    hashed = id_info is not None and id_info.pii  # `rules apply` writes such ids hashed: compare them hashed
    ids = pl.col(id_field)
    wanted = cohort.frame.select(hash_pii(ids).alias(id_field) if hashed else ids).with_row_index("__row", offset=1)
    matched = wanted.join(read.frame.with_columns(pl.lit(True).alias("__found")), on=id_field, how="left",
                          maintain_order="left")
    missing = matched.filter(pl.col("__found").is_null())
    if missing.height:
        shown = missing.head(_SHOWN)
        values = tuple(PII_MASK if hashed else f"'{v}'" for v in shown[id_field].to_list())
        raise CohortError(source, [CohortProblem(
            "missing-decision", id_field,
            f"{missing.height:,} user(s) of the cohort {cohort.source} have no decision here (were the decisions "
            "made from another cohort?); rows of the cohort", missing.height, tuple(shown["__row"].to_list()),
            values)])
    unchecked = _check_inputs(matched, ruleset, cohort, source, provenance)
    frame = matched.select([pl.col(name).cast(dtype) if name in matched.columns
                            else pl.lit(None, dtype=dtype).alias(name) for name, dtype in columns.items()])
    return LoadedDecisions(decisions_from_frame(ruleset, frame), read.height - cohort.height, unchecked)


def _check_inputs(matched: pl.DataFrame, ruleset: CompiledRuleset, cohort: Cohort, source: str,
                  provenance: Provenance | None) -> str:
    """Refuse decisions for users whose inputs differ from the ones they were made from; or say why that could
    not be checked (returned: a note for the planner)."""
    if matched[INPUTS_DIGEST].null_count():
        return ("the file does not record the inputs each decision was made from (no inputs_digest column), so "
                "the decisions could not be checked against the cohort")
    missing = [name for name in input_fields(ruleset) if name not in cohort.frame.columns]
    if missing:
        return (f"the cohort does not hold the rules' inputs ({', '.join(missing[:4])}"
                f"{', …' if len(missing) > 4 else ''}), so the decisions could not be checked against it")
    now = cohort.frame.select(inputs_digest(ruleset).cast(pl.String))[INPUTS_DIGEST]  # as the file is read
    differ = matched.with_columns(now.alias("__now")).filter(pl.col(INPUTS_DIGEST) != pl.col("__now"))
    if differ.height == 0:
        return ""
    id_info = cohort.schema.get(ruleset.id_field)
    hashed = id_info is not None and id_info.pii
    shown = differ.head(_SHOWN)
    version = f"polars {pl.__version__}"
    upgrade = (f"; the file's digests were made with {provenance.digest}, this is {version}: if only that changed, "
               "apply the rules again" if provenance is not None and provenance.digest != version else "")
    raise CohortError(source, [CohortProblem(
        "other-inputs", ruleset.id_field,
        f"{differ.height:,} user(s) of the cohort {cohort.source} have other inputs than the ones these decisions "
        f"were made from (the same ids for other people, or data changed since){upgrade}; rows of the cohort",
        differ.height, tuple(shown["__row"].to_list()),
        tuple(PII_MASK if hashed else f"'{v}'" for v in cohort.frame[ruleset.id_field].gather(
            [r - 1 for r in shown["__row"].to_list()]).to_list()))])
