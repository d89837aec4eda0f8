"""Diagnostics as data: where (file, line, column), a stable code, a message, and how to render them."""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem in one file. `line` and `column` are 1-based; columns count characters, not bytes."""

    code: str
    message: str
    path: str = "<string>"
    line: int = 0
    column: int = 0
    length: int = 1
    hint: str | None = None
    severity: Severity = Severity.ERROR
    subject: str | None = None  # the field, rule or key the diagnostic is about, when there is one

    def location(self) -> str:
        if self.line <= 0:
            return self.path
        return f"{self.path}:{self.line}:{self.column}"

    def headline(self) -> str:
        prefix = "" if self.severity is Severity.ERROR else "warning: "
        return f"{self.location()}: {prefix}{self.message} [{self.code}]"

    def render(self, source: str | None = None) -> str:
        """`path:line:col: message [code]`, then the source line with a caret under the culprit, then the hint."""
        lines = [self.headline()]
        if source is not None and self.line > 0:
            src_lines = source.splitlines()
            if self.line <= len(src_lines):
                text = src_lines[self.line - 1]
                lines.append("    " + text)
                # East Asian wide characters take two terminal cells: pad the caret line to match.
                pad = _display_width(text[: max(self.column - 1, 0)])
                span = text[max(self.column - 1, 0) : max(self.column - 1, 0) + max(self.length, 1)]
                lines.append("    " + " " * pad + "^" * max(_display_width(span), 1))
        if self.hint:
            lines.append(f"    hint: {self.hint}")
        return "\n".join(lines)


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


@dataclass(frozen=True)
class RuleFileError(Exception):
    """Every diagnostic found in one or more rule files, sorted by position."""

    diagnostics: tuple[Diagnostic, ...]
    sources: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.diagnostics, key=lambda d: (d.path, d.line, d.column, d.code)))
        object.__setattr__(self, "diagnostics", ordered)

    def __str__(self) -> str:
        return self.render()

    def render(self) -> str:
        return "\n".join(d.render(self.sources.get(d.path)) for d in self.diagnostics)

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.ERROR)


def did_you_mean(name: str, candidates: list[str] | tuple[str, ...] | set[str]) -> str | None:
    import difflib

    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return close[0] if close else None


def display_path(path: Path | str) -> str:
    """A path as the user would type it: relative to the working directory when it is below it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)
