"""Expression text → Expr nodes, through the standard `ast` module and a whitelist. Nothing is ever evaluated.

Every refusal is a Diagnostic with the exact span of the offending piece, in characters (ast reports UTF-8
byte offsets, which we convert so that carets line up under Chinese text).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from engine.expression_ast import Binary as BinaryNode
from engine.expression_ast import (
    BoolOp,
    Call,
    Compare,
    Expr,
    IfElse,
    InList,
    Literal,
    Name,
    SrcSpan,
    Unary,
)

_BINOPS: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Mod: "%",
}
_CMPOPS: dict[type[ast.cmpop], str] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
}
_REFUSED: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access is not allowed",
    ast.Subscript: "subscripts are not allowed",
    ast.Lambda: "lambdas are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.NamedExpr: "assignment expressions are not allowed",
    ast.Await: "await is not allowed",
    ast.Dict: "dict literals are not allowed",
    ast.Set: "set literals are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.Starred: "starred expressions are not allowed",
}
_BOOL_WORDS = {"true": True, "false": False, "True": True, "False": False}


@dataclass(frozen=True, slots=True)
class ParseProblem:
    code: str
    message: str
    span: SrcSpan
    hint: str | None = None


class ExpressionSyntaxError(Exception):
    def __init__(self, problems: list[ParseProblem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def parse_expression(text: str) -> Expr:
    """Parse one expression. Raises ExpressionSyntaxError with every problem found."""
    stripped = text.strip()
    if not stripped:
        raise ExpressionSyntaxError([ParseProblem("empty-expression", "empty expression", SrcSpan(0, 0, 1))])
    # A multi-line expression (YAML block scalar) is one expression: wrap it so newlines are allowed.
    source = f"({text})" if "\n" in text else text
    shift = 1 if source is not text else 0
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as err:
        line = max((err.lineno or 1) - 1, 0)
        col = _char_col(source, line, (err.offset or 1) - 1) - (shift if line == 0 else 0)
        message = f"invalid expression: {err.msg}"
        raise ExpressionSyntaxError(
            [ParseProblem("expression-syntax", message, SrcSpan(line, max(col, 0), max(col, 0) + 1))]
        ) from None
    return _Converter(source, shift).convert(tree.body)


def _char_col(source: str, line: int, byte_col: int) -> int:
    lines = source.split("\n")
    if line >= len(lines):
        return byte_col
    return len(lines[line].encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))


class _Converter:
    def __init__(self, source: str, shift: int) -> None:
        self.source = source
        self.shift = shift
        self.problems: list[ParseProblem] = []

    def convert(self, node: ast.expr) -> Expr:
        expr = self._expr(node)
        if self.problems:
            raise ExpressionSyntaxError(self.problems)
        return expr

    def _span(self, node: ast.AST) -> SrcSpan:
        lineno = getattr(node, "lineno", 1) - 1
        end_lineno = getattr(node, "end_lineno", lineno + 1) - 1
        start = _char_col(self.source, lineno, getattr(node, "col_offset", 0))
        end = _char_col(self.source, end_lineno, getattr(node, "end_col_offset", 0) or 0)
        if end_lineno != lineno:
            end = len(self.source.split("\n")[lineno])
        if lineno == 0:
            start, end = start - self.shift, end - self.shift
        return SrcSpan(lineno, max(start, 0), max(end, start + 1))

    def _refuse(self, node: ast.AST, code: str, message: str, hint: str | None = None) -> Expr:
        self.problems.append(ParseProblem(code, message, self._span(node), hint))
        return Literal(False, span=self._span(node))

    def _expr(self, node: ast.expr) -> Expr:
        span = self._span(node)
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool | int | float | str):
                return Literal(value, span=span)
            if value is None:
                return self._refuse(
                    node,
                    "unsupported-syntax",
                    "None is not a value in rule expressions",
                    "test for a missing value with is_missing(x), or give a fallback with coalesce(x, d)",
                )
            return self._refuse(node, "unsupported-syntax", f"unsupported literal {value!r}")
        if isinstance(node, ast.Name):
            if node.id in _BOOL_WORDS:
                return Literal(_BOOL_WORDS[node.id], span=span)
            if node.id.startswith("__"):
                return self._refuse(node, "forbidden-name", f"name '{node.id}' is not allowed")
            return Name(node.id, span=span)
        if isinstance(node, ast.UnaryOp):
            operand = self._expr(node.operand)
            if isinstance(node.op, ast.Not):
                return Unary("not", operand, span=span)
            if isinstance(node.op, ast.USub):
                if isinstance(operand, Literal) and isinstance(operand.value, int | float) and not isinstance(
                    operand.value, bool
                ):
                    return Literal(-operand.value, span=span)
                return Unary("-", operand, span=span)
            if isinstance(node.op, ast.UAdd):
                return Unary("+", operand, span=span)
            return self._refuse(node, "unsupported-operator", "the operator '~' is not allowed")
        if isinstance(node, ast.BinOp):
            op = _BINOPS.get(type(node.op))
            if op is None:
                symbol = {ast.Pow: "**", ast.FloorDiv: "//", ast.BitAnd: "&", ast.BitOr: "|"}.get(
                    type(node.op), type(node.op).__name__
                )
                hint = {
                    "**": "use exp(log(x) * y), or multiply",
                    "//": "use round(x / y) or x - x % y",
                    "&": "use 'and'",
                    "|": "use 'or'",
                }.get(symbol)
                return self._refuse(node, "unsupported-operator", f"the operator '{symbol}' is not allowed", hint)
            return BinaryNode(op, self._expr(node.left), self._expr(node.right), span=span)
        if isinstance(node, ast.BoolOp):
            op = "and" if isinstance(node.op, ast.And) else "or"
            return BoolOp(op, tuple(self._expr(v) for v in node.values), span=span)
        if isinstance(node, ast.Compare):
            return self._compare(node, span)
        if isinstance(node, ast.IfExp):
            return IfElse(self._expr(node.test), self._expr(node.body), self._expr(node.orelse), span=span)
        if isinstance(node, ast.Call):
            return self._call(node, span)
        if isinstance(node, ast.List | ast.Tuple):
            return self._refuse(
                node, "unsupported-syntax", "a list may only follow 'in' or 'not in'", "write x in [a, b]"
            )
        message = _REFUSED.get(type(node), f"'{type(node).__name__}' expressions are not allowed")
        return self._refuse(node, "unsupported-syntax", message)

    def _compare(self, node: ast.Compare, span: SrcSpan) -> Expr:
        parts: list[Expr] = []
        left_node = node.left
        left = self._expr(left_node)
        for op_node, right_node in zip(node.ops, node.comparators, strict=True):
            pair_span = SrcSpan(span.line, self._span(left_node).start, self._span(right_node).end)
            if isinstance(op_node, ast.In | ast.NotIn):
                parts.append(self._in_list(left, right_node, isinstance(op_node, ast.NotIn), pair_span))
                right = left  # `a in [..] < b` is meaningless; the type checker will refuse it
            else:
                op = _CMPOPS.get(type(op_node))
                right = self._expr(right_node)
                if op is None:
                    parts.append(
                        self._refuse(node, "unsupported-operator", f"'{type(op_node).__name__}' is not allowed",
                                     "use == or !=")
                    )
                else:
                    parts.append(Compare(op, left, right, span=pair_span))
            left_node, left = right_node, right
        # A chained comparison a < b < c means a < b and b < c, in three-valued logic like any 'and'.
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts), span=span)

    def _in_list(self, operand: Expr, right: ast.expr, negated: bool, span: SrcSpan) -> Expr:
        if not isinstance(right, ast.List | ast.Tuple | ast.Set):
            return self._refuse(right, "unsupported-syntax", "'in' needs a list of literals", "write x in [a, b]")
        items: list[Literal] = []
        for element in right.elts:
            item = self._expr(element)
            if isinstance(item, Literal):
                items.append(item)
            else:
                self._refuse(element, "unsupported-syntax", "the items of an 'in' list must be literals")
        if not items:
            return self._refuse(right, "unsupported-syntax", "an empty 'in' list never matches")
        return InList(operand, tuple(items), negated, span=span)

    def _call(self, node: ast.Call, span: SrcSpan) -> Expr:
        if not isinstance(node.func, ast.Name):
            return self._refuse(node.func, "unsupported-syntax", "only the built-in functions may be called")
        if node.keywords:
            return self._refuse(node.keywords[0].value, "unsupported-syntax",
                                "keyword arguments are not allowed", "pass arguments by position")
        return Call(node.func.id, tuple(self._expr(a) for a in node.args), span=span)
