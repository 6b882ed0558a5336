"""No import cycles among bot/ modules, counting function-level and TYPE_CHECKING imports (issue
10, item 2); one parser imports one kind; the settings depend on value types only."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent / "bot"


def _module_names() -> dict[str, Path]:
    names = {}
    for path in BOT.rglob("*.py"):
        parts = list(path.relative_to(BOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _imports(path: Path, known: set[str]) -> set[str]:
    """Every bot module `path` imports anywhere in its body (ast.walk visits function bodies and
    `if TYPE_CHECKING:` blocks too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found & known


def import_graph() -> dict[str, set[str]]:
    """bot module -> the bot modules it imports."""
    names = _module_names()
    return {name: _imports(path, set(names)) - {name} for name, path in names.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path that ends where it starts, or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_no_import_cycle_among_bot_modules() -> None:
    assert find_cycle(import_graph()) is None


def test_find_cycle_sees_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_settings_import_only_value_types() -> None:
    # Config types used to live in bot.config, which reached into the registry (issue 10, item 2).
    assert import_graph()["bot.settings"] == {"bot.models", "bot.schedule"}


def test_importing_one_parser_loads_one_kind() -> None:
    # bot/sources/__init__.py used to import all kinds, so `import bot.sources.lever` loaded 16.
    code = (
        "import sys, bot.sources.lever\n"
        "print(sorted(m for m in sys.modules if m.startswith('bot.sources.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "['bot.sources.base', 'bot.sources.common', 'bot.sources.lever']"
