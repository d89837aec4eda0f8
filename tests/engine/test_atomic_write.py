"""Outputs appear whole or not at all, and the temporary file has the target's suffix."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.atomic_write import atomic_path


def test_success_replaces_the_target_and_keeps_the_suffix(tmp_path: Path) -> None:
    target = tmp_path / "model.mps"
    target.write_text("old")
    with atomic_path(target) as tmp:
        assert tmp.suffix == ".mps" and tmp != target
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["model.mps"]


def test_failure_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "decisions.parquet"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["decisions.parquet"]
