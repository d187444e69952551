"""Tools of recipes/agent.toml and recipes/multi-agent.toml (loaded from the recipe's folder).

An agent sees each function as a tool: its JSON schema comes from the signature and type hints,
its description from the docstring (the `Args:` lines describe the parameters).
"""

from __future__ import annotations

import ast
import operator
import re
from pathlib import Path
from typing import Literal

KB = Path(__file__).parent / "data" / "kb"

_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def calculate(expression: str) -> float:
    """Evaluate an arithmetic expression (+ - * / // % ** and parentheses).

    Args:
        expression: the expression, e.g. "(3 + 4) * 2.5"
    """
    tree = ast.parse(expression, mode="eval")
    return _eval(tree.body)


def _eval(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        if isinstance(node.op, ast.Pow) and abs(_eval(node.right)) > 100:
            raise ValueError("exponent too large")
        return _OPS[type(node.op)](_eval(node.left), _eval(node.right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_eval(node.operand))
    raise ValueError(f"not arithmetic: {ast.unparse(node)!r}")


_TO_BASE = {"km": 1000.0, "m": 1.0, "mi": 1609.344, "ft": 0.3048, "kg": 1.0, "lb": 0.45359237}


def convert_units(value: float, from_unit: Literal["km", "m", "mi", "ft", "kg", "lb", "c", "f"],
                  to_unit: Literal["km", "m", "mi", "ft", "kg", "lb", "c", "f"]) -> float:  # fmt: skip
    """Convert a length, weight or temperature from one unit to another.

    Args:
        value: the amount to convert
        from_unit: the unit it is in (km, m, mi, ft, kg, lb, c, f)
        to_unit: the unit wanted
    """
    if {from_unit, to_unit} <= {"c", "f"}:
        celsius = value if from_unit == "c" else (value - 32) * 5 / 9
        return round(celsius if to_unit == "c" else celsius * 9 / 5 + 32, 4)
    lengths, weights = {"km", "m", "mi", "ft"}, {"kg", "lb"}
    if not ({from_unit, to_unit} <= lengths or {from_unit, to_unit} <= weights):
        raise ValueError(f"cannot convert {from_unit} to {to_unit}")
    return round(value * _TO_BASE[from_unit] / _TO_BASE[to_unit], 4)


def lookup(term: str, limit: int = 2) -> list[str]:
    """Search the lazycli documentation for paragraphs mentioning a term.

    Args:
        term: a word or phrase, e.g. "deploy stop"
        limit: how many paragraphs to return at most
    """
    words = [w for w in re.findall(r"\w+", term.lower()) if len(w) > 1]
    scored = []
    for path in sorted(KB.glob("*.md")):
        for paragraph in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
            text = paragraph.lower()
            score = sum(text.count(w) for w in words)
            if score:
                scored.append((score, f"({path.name}) {' '.join(paragraph.split())}"))
    scored.sort(key=lambda item: -item[0])
    return [text for _, text in scored[:limit]] or [f"nothing found for {term!r}"]
