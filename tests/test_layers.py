"""The package's shape, read from its source (AST): no test tooling inside it, and short functions."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "speakerverify"
# Only the test extra installs these; a plain `pip install speakerverify` must import everything without them.
TEST_ONLY = {"schemathesis", "hypothesis", "httpx", "pytest", "_pytest"}
MAX_FUNCTION_LINES = 60
# Alembic revisions are frozen once released (never edited, so never split); their upgrade() lists tables.
FROZEN = PACKAGE / "storage" / "migrations" / "versions"


def _modules() -> Iterator[tuple[str, ast.Module]]:
    paths = sorted(p for p in PACKAGE.rglob("*.py") if "node_modules" not in p.parts)
    assert len(paths) > 20, paths  # the walk found the package
    for path in paths:
        yield path.relative_to(SRC).as_posix(), ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module]
    return []


def test_the_package_imports_no_test_tooling() -> None:
    found = [
        f"{name}:{node.lineno} imports {module}"
        for name, tree in _modules()
        for node in ast.walk(tree)
        for module in _imported(node)
        if module.split(".")[0] in TEST_ONLY
    ]
    assert found == [], "test tooling belongs in tests/support:\n" + "\n".join(found)


def long_functions() -> list[str]:
    """``module:line name (N lines)`` for every function or method longer than MAX_FUNCTION_LINES."""
    out = []
    for name, tree in _modules():
        if (SRC / name).is_relative_to(FROZEN):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    out.append(f"{name}:{node.lineno} {node.name} ({lines} lines)")
    return out


def test_no_function_is_longer_than_60_lines() -> None:
    found = long_functions()
    assert found == [], f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(found)
