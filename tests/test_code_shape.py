"""Issue 10: no function in bot/ over 50 lines without a comment near its top saying why."""

from __future__ import annotations

import ast
import re
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent / "bot"
MAX_LINES = 50
# A reason from the `def` line to the first lines of the body: "long", "50 lines", or
# `noqa: C901 - <why>`.
REASON = re.compile(r"#.*(\blong\b|50 lines|noqa: C901\s*[-:—]\s*\S)", re.IGNORECASE)
REASON_WINDOW = 3


def _first_statement_line(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """The line of the body's first statement after the docstring (the signature and the
    docstring may take many lines: the reason goes right below them)."""
    body = node.body
    has_docstring = (
        isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    )
    return body[1].lineno if has_docstring and len(body) > 1 else body[0].lineno


def long_functions_without_reason(root: Path) -> list[str]:
    """`path:name (N lines)` for every function over MAX_LINES lines with no reason comment."""
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in ast.walk(ast.parse("\n".join(lines), str(path))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            assert node.end_lineno is not None
            length = node.end_lineno - node.lineno + 1
            if length <= MAX_LINES:
                continue
            head = lines[node.lineno - 1 : _first_statement_line(node) + REASON_WINDOW - 1]
            if any(REASON.search(line) for line in head):
                continue
            found.append(f"{path.relative_to(root).as_posix()}:{node.name} ({length} lines)")
    return found


def test_no_long_function_without_a_reason() -> None:
    assert long_functions_without_reason(BOT) == []


def test_the_check_flags_a_long_function_and_accepts_a_reason(tmp_path: Path) -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_LINES))
    (tmp_path / "a.py").write_text(f"def bare():\n{body}", encoding="utf-8")
    (tmp_path / "b.py").write_text(
        f"def kept():  # noqa: C901 - a declaration table\n{body}", encoding="utf-8"
    )
    (tmp_path / "c.py").write_text(f"def table():\n    # long: one line per rule\n{body}")
    assert long_functions_without_reason(tmp_path) == [f"a.py:bare ({MAX_LINES + 1} lines)"]
