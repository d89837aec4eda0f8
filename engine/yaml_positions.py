"""The only YAML reader: plain data plus the position of every key and value, from `yaml.compose()`.

Positions are what make rule-file errors actionable (`path:line:col`). PyYAML's marks count characters,
so columns are right for Chinese text too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from engine.diagnostics import Diagnostic

Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Span:
    """Where a YAML node starts (1-based line and column) and how its scalar text is quoted."""

    line: int
    column: int
    style: str | None = None  # None (plain), "'", '"', "|", ">"
    end_line: int = 0
    end_column: int = 0


@dataclass(frozen=True, slots=True)
class PositionedDocument:
    data: Any
    values: dict[Loc, Span]  # where each value starts
    keys: dict[Loc, Span]  # where the key of each mapping entry starts
    source: str
    path: str

    def span(self, loc: Loc) -> Span:
        """The closest known position for `loc` (walks up to the parent when a location has none)."""
        while loc:
            if loc in self.values:
                return self.values[loc]
            loc = loc[:-1]
        return self.values.get((), Span(1, 1))

    def key_span(self, loc: Loc) -> Span:
        return self.keys.get(loc) or self.span(loc)


class YamlSyntaxError(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.headline())
        self.diagnostic = diagnostic


def load_positioned(source: str, path: str) -> PositionedDocument:
    """Parse one YAML document. A syntax error or a duplicate key raises YamlSyntaxError with its position."""
    loader = yaml.SafeLoader(source)
    try:
        node = loader.get_single_node()
        if node is None:
            return PositionedDocument(None, {(): Span(1, 1)}, {}, source, path)
        values: dict[Loc, Span] = {}
        keys: dict[Loc, Span] = {}
        _walk(loader, node, (), values, keys, path)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = f"YAML syntax error: {err.problem or err.context}"
        raise YamlSyntaxError(Diagnostic("yaml-syntax", message, path, line, col)) from err
    finally:
        loader.dispose()
    return PositionedDocument(data, values, keys, source, path)


def _span(node: yaml.Node) -> Span:
    style = getattr(node, "style", None)
    return Span(
        node.start_mark.line + 1,
        node.start_mark.column + 1,
        style if isinstance(node, yaml.ScalarNode) else None,
        node.end_mark.line + 1,
        node.end_mark.column + 1,
    )


def _walk(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    loc: Loc,
    values: dict[Loc, Span],
    keys: dict[Loc, Span],
    path: str,
) -> None:
    values[loc] = _span(node)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int):
                key = str(key)
            if key in seen:
                raise YamlSyntaxError(
                    Diagnostic(
                        "duplicate-key",
                        f"duplicate key '{key}' (YAML would silently keep only the last one)",
                        path,
                        key_node.start_mark.line + 1,
                        key_node.start_mark.column + 1,
                        length=len(str(key)),
                    )
                )
            seen.add(key)
            keys[(*loc, key)] = _span(key_node)
            _walk(loader, value_node, (*loc, key), values, keys, path)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(loader, item, (*loc, index), values, keys, path)


def expression_origin(span: Span, source: str) -> tuple[int, int]:
    """Line and column in the file of the first character of an expression held by a scalar at `span`.

    Plain scalars start at their mark; quoted ones one character later; block scalars (`|`, `>`) on the next
    line at its indentation.
    """
    if span.style in ("'", '"'):
        return span.line, span.column + 1
    if span.style in ("|", ">"):
        lines = source.splitlines()
        line_no = span.line + 1
        while line_no <= len(lines) and not lines[line_no - 1].strip():
            line_no += 1
        if line_no <= len(lines):
            text = lines[line_no - 1]
            return line_no, len(text) - len(text.lstrip()) + 1
    return span.line, span.column
