"""Expression nodes (frozen dataclasses that keep their source spans) and the value types they carry."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field


class Kind(enum.Enum):
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    STRING = "string"
    CATEGORY = "category"


@dataclass(frozen=True, slots=True)
class Type:
    kind: Kind
    values: tuple[str, ...] = ()  # the categories, in order, for Kind.CATEGORY

    @property
    def is_numeric(self) -> bool:
        return self.kind in (Kind.NUMBER, Kind.INTEGER)

    def describe(self) -> str:
        if self.kind is Kind.CATEGORY:
            shown = ", ".join(self.values[:6]) + (", …" if len(self.values) > 6 else "")
            return f"category [{shown}]"
        return str(self.kind.value)


NUMBER = Type(Kind.NUMBER)
INTEGER = Type(Kind.INTEGER)
BOOLEAN = Type(Kind.BOOLEAN)
STRING = Type(Kind.STRING)


@dataclass(frozen=True, slots=True)
class SrcSpan:
    """Position inside the expression text: 0-based line offset, 0-based character columns [start, end)."""

    line: int = 0
    start: int = 0
    end: int = 0


@dataclass(frozen=True, slots=True)
class Expr:
    span: SrcSpan = field(default_factory=SrcSpan, kw_only=True)
    type: Type | None = field(default=None, kw_only=True, compare=False)

    def children(self) -> tuple[Expr, ...]:
        return ()

    def walk(self) -> Iterator[Expr]:
        yield self
        for child in self.children():
            yield from child.walk()

    @property
    def t(self) -> Type:
        """The checked type; only typed trees (from expression_types.check) are compiled or evaluated."""
        assert self.type is not None, f"untyped expression node {self!r}"
        return self.type


Scalar = int | float | str | bool


@dataclass(frozen=True, slots=True)
class Literal(Expr):
    value: Scalar


@dataclass(frozen=True, slots=True)
class Name(Expr):
    name: str


@dataclass(frozen=True, slots=True)
class Unary(Expr):
    op: str  # "-", "+", "not"
    operand: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.operand,)


@dataclass(frozen=True, slots=True)
class Binary(Expr):
    op: str  # "+", "-", "*", "/", "%"
    left: Expr
    right: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)


@dataclass(frozen=True, slots=True)
class BoolOp(Expr):
    op: str  # "and", "or"
    operands: tuple[Expr, ...]

    def children(self) -> tuple[Expr, ...]:
        return self.operands


@dataclass(frozen=True, slots=True)
class Compare(Expr):
    op: str  # "==", "!=", "<", "<=", ">", ">="
    left: Expr
    right: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)


@dataclass(frozen=True, slots=True)
class InList(Expr):
    operand: Expr
    items: tuple[Literal, ...]
    negated: bool = False

    def children(self) -> tuple[Expr, ...]:
        return (self.operand, *self.items)


@dataclass(frozen=True, slots=True)
class IfElse(Expr):
    cond: Expr
    then: Expr
    orelse: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.cond, self.then, self.orelse)


@dataclass(frozen=True, slots=True)
class Call(Expr):
    func: str
    args: tuple[Expr, ...]

    def children(self) -> tuple[Expr, ...]:
        return self.args


def names_in(expr: Expr) -> list[str]:
    """Field and derived-value names an expression reads, in order of first appearance."""
    seen: dict[str, None] = {}
    for node in expr.walk():
        if isinstance(node, Name):
            seen.setdefault(node.name, None)
    return list(seen)


def tags_in(expr: Expr) -> list[str]:
    seen: dict[str, None] = {}
    for node in expr.walk():
        if isinstance(node, Call) and node.func == "has_tag" and node.args:
            arg = node.args[0]
            if isinstance(arg, Literal) and isinstance(arg.value, str):
                seen.setdefault(arg.value, None)
    return list(seen)
