"""Fail when a module or a function in bot/ or training/ grows past what one reader can hold at once.

A module over MAX_MODULE_LINES usually does more than one job, and a function over MAX_FUNCTION_LINES
usually hides a step that deserves a name; either is split by job rather than waved through. What is
counted is physical lines (a function from its `def` line to its last line, docstring and comments
included), less the lines of data literals: a table of words or a mapping of labels is read entry by
entry, not held in the head, so its length says nothing about the code around it.

A data literal is a list, tuple, set or dict display whose elements are all literals themselves
(nested displays, strings, numbers, True/False/None), or a string assigned to a name (a template, a
word list); a docstring is not one, it counts. The literal is subtracted only when it spans more than
one line.

    python tools/check_sizes.py            # checks bot/ and training/, exits 1 naming each offender
    python tools/check_sizes.py PATH ...   # checks these files or folders instead
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
DEFAULT_ROOTS = ("bot", "training")


@dataclass(frozen=True)
class Oversize:
    """One module or function over its limit, as `path:line: what (counted > limit)`."""

    path: Path
    line: int
    what: str
    counted: int
    limit: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what} has {self.counted} lines (limit {self.limit})"


def _is_literal(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        return _is_literal(node.operand)
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return all(_is_literal(element) for element in node.elts)
    if isinstance(node, ast.Dict):
        return all(key is not None and _is_literal(key) for key in node.keys) and all(
            _is_literal(value) for value in node.values
        )
    return False


def _data_literals(tree: ast.Module) -> Iterator[ast.expr]:
    """The data literals of `tree`; one nested in another is yielded again, harmless for a set of lines."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            value = node.value
            if isinstance(value, ast.Constant) and isinstance(value.value, str | bytes):
                yield value
                continue
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.List | ast.Tuple | ast.Set | ast.Dict) and _is_literal(child):
                yield child


def _literal_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for literal in _data_literals(tree):
        end = literal.end_lineno or literal.lineno
        if end > literal.lineno:
            lines.update(range(literal.lineno, end + 1))
    return lines


def check_source(source: str, path: Path) -> list[Oversize]:
    """The modules and functions of one file's `source` that exceed their limits."""
    tree = ast.parse(source, filename=str(path))
    literal = _literal_lines(tree)
    found: list[Oversize] = []
    module_lines = len(source.splitlines())
    counted = module_lines - len(literal)
    if counted > MAX_MODULE_LINES:
        found.append(Oversize(path, 1, "module", counted, MAX_MODULE_LINES))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            end = node.end_lineno or node.lineno
            span = range(node.lineno, end + 1)
            counted = len(span) - sum(1 for line in span if line in literal)
            if counted > MAX_FUNCTION_LINES:
                found.append(Oversize(path, node.lineno, f"function {node.name}()", counted, MAX_FUNCTION_LINES))
    return found


def python_files(roots: Iterable[Path]) -> Iterator[Path]:
    """Every .py file under `roots` (a root that is a file is itself), in a stable order."""
    for root in roots:
        if root.is_file():
            yield root
        else:
            yield from sorted(root.rglob("*.py"))


def main(argv: list[str] | None = None) -> int:
    """Check the named paths (bot/ and training/ when none) and print each offender; 1 if any."""
    args = sys.argv[1:] if argv is None else argv
    roots = [Path(arg) for arg in args] or [Path(root) for root in DEFAULT_ROOTS]
    found = [oversize for path in python_files(roots) for oversize in check_source(path.read_text("utf-8"), path)]
    for oversize in found:
        print(oversize)  # noqa: T201 - the report of a command-line check, read by a person
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
