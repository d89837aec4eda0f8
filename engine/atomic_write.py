"""Outputs are written to a temporary file beside the target and renamed into place: a failed or
interrupted run never leaves a half-written file where a good one is expected."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `target`, on error it is removed.

    The temporary name keeps the target's suffix, so writers that choose a format by suffix (.mps, .lp,
    .parquet) write the same format they would for the target itself."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.tmp-{os.getpid()}{target.suffix}")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
