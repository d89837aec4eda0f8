"""Write the synthetic cohort to a file, in chunks, atomically (so 20,000,000 users fit in memory too)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from engine.atomic_write import atomic_path
from simulations.synthetic_cohort import generate_cohort

CHUNK_ROWS = 1_000_000


def write_cohort(out: str | Path, rows: int, seed: int, chunk_rows: int = CHUNK_ROWS) -> float:
    """Generate `rows` users with `seed` into a .parquet or .csv file; returns the seconds it took.

    Each chunk has its own generator spawned from the seed, so the file depends only on (rows, seed, chunk_rows).
    """
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise FileNotFoundError(f"{out}: the cohort file must end in .parquet or .csv")
    started = time.perf_counter()
    chunks = max(1, -(-rows // chunk_rows))
    generators = np.random.default_rng(seed).spawn(chunks)
    with atomic_path(out) as tmp:
        writer: pq.ParquetWriter | None = None
        try:
            for index, rng in enumerate(generators):
                start = index * chunk_rows
                frame = generate_cohort(min(chunk_rows, rows - start), rng, id_offset=start)
                if suffix == ".csv":
                    with tmp.open("ab") as handle:
                        frame.write_csv(handle, include_header=index == 0)
                    continue
                table = frame.to_arrow()
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
                writer.write_table(table)
        finally:
            if writer is not None:
                writer.close()
    return time.perf_counter() - started
