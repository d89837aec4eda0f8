"""Every mistake in bad_rulesets/ is reported as data (code, line, column) and as rendered text (golden)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import RuleFileError, load_ruleset
from engine.diagnostics import Diagnostic, Severity

BAD = Path(__file__).parent / "bad_rulesets"
CASES = sorted(p.stem for p in BAD.glob("*.yaml"))


def _errors(name: str, monkeypatch: pytest.MonkeyPatch) -> RuleFileError:
    monkeypatch.chdir(BAD)  # rendered paths are relative to the working directory
    with pytest.raises(RuleFileError) as caught:
        load_ruleset(f"{name}.yaml")
    return caught.value


@pytest.mark.parametrize("name", CASES)
def test_rendered_diagnostics_match_golden(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rendered = _errors(name, monkeypatch).render() + "\n"
    golden = BAD / f"{name}.txt"
    assert rendered == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("unknown_field", [("unknown-field", 11, 11)], id="typo-in-field"),
        pytest.param("unknown_category", [("unknown-category", 8, 19), ("unknown-category", 8, 42)],
                     id="category-values"),
        pytest.param("type_mismatch", [("type-mismatch", 10, 11), ("type-mismatch", 10, 33),
                                       ("type-mismatch", 13, 20), ("type-mismatch", 16, 11)], id="types"),
        pytest.param("forbidden_syntax", [("unsupported-syntax", 8, 11), ("unknown-function", 11, 11),
                                          ("unsupported-syntax", 14, 13), ("unsupported-operator", 17, 11),
                                          ("unknown-function", 20, 11)], id="whitelist"),
        pytest.param("yaml_syntax", [("yaml-syntax", 7, 10)], id="yaml"),
        pytest.param("unknown_key", [("invalid-value", 3, 13), ("unknown-key", 5, 26), ("missing-key", 7, 5),
                                     ("unknown-key", 8, 5)], id="schema"),
        pytest.param("missing_default", [("missing-default", 1, 1), ("duplicate-rule-id", 12, 9),
                                         ("unknown-category", 14, 18), ("unknown-output", 14, 24)], id="policy"),
        # Columns count characters: 负债 starts at character 46 although it is byte 52 of the line.
        pytest.param("chinese_text", [("unknown-field", 11, 46), ("type-mismatch", 14, 11)], id="chinese"),
        pytest.param("block_scalar", [("unknown-field", 12, 11)], id="multi-line-expression"),
        pytest.param("duplicate_key", [("duplicate-key", 6, 3)], id="duplicate-key"),
        pytest.param("bad_output_value", [("type-mismatch", 14, 38), ("unknown-field", 14, 55),
                                          ("bad-arguments", 15, 37)], id="then-values"),
    ],
)
def test_diagnostic_data(name: str, expected: list[tuple[str, int, int]], monkeypatch: pytest.MonkeyPatch) -> None:
    errors = _errors(name, monkeypatch).errors
    assert [(d.code, d.line, d.column) for d in errors] == expected
    assert all(d.path == f"{name}.yaml" for d in errors)


def test_every_case_is_covered_by_the_data_test() -> None:
    assert len(CASES) == 11


def test_caret_counts_display_cells_for_wide_characters() -> None:
    # "ab" is characters 4-5, but 营销 take two terminal cells each, so the caret sits under cells 6-7.
    diagnostic = Diagnostic("x", "m", "f.yaml", 1, 4, length=2)
    assert diagnostic.render("营销 ab") == "f.yaml:1:4: m [x]\n    营销 ab\n         ^^"


def test_warnings_do_not_fail_a_load(tmp_path: Path) -> None:
    path = tmp_path / "warn.yaml"
    path.write_text(
        "ruleset: w\nhit_policy: collect\nfields:\n  a: {type: number}\n  unused: {type: number}\n"
        "rules:\n  - id: r\n    when: a > 1\n    then: {tags: [t]}\n",
        encoding="utf-8",
    )
    ruleset = load_ruleset(path)
    assert [(w.code, w.severity) for w in ruleset.warnings] == [("unused-field", Severity.WARNING)]
