"""Where a decisions file came from: the rules that made it and the inputs of each user, so that decisions are
never used for users whose data they were not made from.

`decide rules apply` writes, beside each user's decision, a digest of that user's inputs (every field the rules
read, hashed together: not reversible, PII included), and in a Parquet file's metadata the ruleset's name,
version and a SHA-256 of its source files. `decide optimize --decisions` checks both: decisions made by other
rules are refused, and so are decisions for users whose inputs in the cohort differ from the ones they were
made from (the same ids for other people: `decide cohort generate` with another --rows gives exactly that).

Polars' row hash is stable within a Polars version, not across versions; the file records the version, so a
mismatch after an upgrade is reported as such rather than as changed data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from engine.pipeline import CompiledRuleset

INPUTS_DIGEST = "inputs_digest"  # the column: a user's inputs, hashed (UInt64; read back as text)
_SEED = 0x5EED_D1CE
_PRIME = 1_099_511_628_211  # FNV-1a's 64-bit prime
_KEYS = ("decide.rules", "decide.rules_version", "decide.rules_sha256", "decide.digest")


def input_fields(ruleset: CompiledRuleset) -> list[str]:
    """The cohort columns the rules read, in a fixed order."""
    return sorted(name for name in ruleset.schema if name != ruleset.id_field)


def inputs_digest(ruleset: CompiledRuleset) -> pl.Expr:
    """One UInt64 per user from the typed inputs: equal inputs give equal digests (within a Polars version).

    Each column's hash, folded FNV-style (wrapping multiply and add): a third of the time of hashing the
    row as a struct, and the order of the fields counts."""
    fields = input_fields(ruleset)
    if not fields:
        return pl.lit(0, dtype=pl.UInt64).alias(INPUTS_DIGEST)
    digest = pl.col(fields[0]).hash(seed=_SEED)
    for name in fields[1:]:
        digest = digest * _PRIME + pl.col(name).hash(seed=_SEED)
    return digest.alias(INPUTS_DIGEST)


def rules_sha256(ruleset: CompiledRuleset) -> str:
    """The rule files' text, in load order: the same files give the same digest wherever they are."""
    digest = hashlib.sha256()
    for text in ruleset.sources.values():
        digest.update(text.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def metadata(ruleset: CompiledRuleset) -> dict[str, str]:
    return dict(zip(_KEYS, (ruleset.name, ruleset.version, rules_sha256(ruleset), f"polars {pl.__version__}"),
                    strict=True))


@dataclass(frozen=True, slots=True)
class Provenance:
    rules: str
    version: str
    sha256: str
    digest: str  # "polars 2.1.0": the hash function of the inputs' digests


def read_provenance(path: Path) -> Provenance | None:
    """What a Parquet decisions file (or the first file of a folder) records; None for CSV or another writer."""
    if path.is_dir():
        files = sorted(path.rglob("*.parquet"))
        if not files:
            return None
        path = files[0]
    if path.suffix.lower() not in (".parquet", ".pq"):
        return None
    try:
        found = pl.read_parquet_metadata(path)
    except (OSError, pl.exceptions.ComputeError):
        return None  # not readable as Parquet: the loader says why
    if not all(key in found for key in _KEYS):
        return None
    return Provenance(*(found[key] for key in _KEYS))
