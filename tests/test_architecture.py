"""The layers of the package, checked on its import statements: features -> models -> storage -> voice ->
app (use cases) -> http, with operator commands beside http, never through it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "speakerverify"
WEB_FRAMEWORKS = ("fastapi", "starlette", "pydantic")


def _imports(path: Path, root: Path = PACKAGE.parent) -> set[str]:
    """Absolute names of the modules ``path`` (below ``root``) imports, relative imports resolved."""
    package = list(path.relative_to(root).parts)[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _modules(layer: str) -> list[Path]:
    root = PACKAGE / layer
    return sorted(root.rglob("*.py")) if root.is_dir() else [PACKAGE / f"{layer}.py"]


def _offenders(layer: str, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    out = {}
    for path in _modules(layer):
        bad = sorted(m for m in _imports(path) if any(m == f or m.startswith(f + ".") for f in forbidden))
        if bad:
            out[str(path.relative_to(PACKAGE))] = bad
    return out


ABOVE = {
    "features": ("speakerverify.models", "speakerverify.storage", "speakerverify.voice", "speakerverify.app"),
    "models": ("speakerverify.storage", "speakerverify.voice", "speakerverify.app", "speakerverify.http"),
    "storage": ("speakerverify.voice", "speakerverify.app", "speakerverify.http", "speakerverify.operator"),
    "voice": ("speakerverify.app", "speakerverify.http", "speakerverify.operator", *WEB_FRAMEWORKS),
    "app": ("speakerverify.http", "speakerverify.operator", *WEB_FRAMEWORKS),
    "operator": ("speakerverify.http", *WEB_FRAMEWORKS),
    "config": ("speakerverify.storage", "speakerverify.app", "speakerverify.http"),
}


@pytest.mark.parametrize("layer", sorted(ABOVE))
def test_a_layer_imports_nothing_above_it(layer: str) -> None:
    assert _offenders(layer, ABOVE[layer]) == {}


def test_only_the_auth_dependency_and_the_app_factory_touch_both_storage_and_http() -> None:
    both = []
    for path in sorted(PACKAGE.rglob("*.py")):
        names = _imports(path)
        storage = any(m.startswith("speakerverify.storage") for m in names)
        web = any(
            m.split(".")[0] in ("fastapi", "starlette") or m.startswith("speakerverify.http.problems") for m in names
        )
        if storage and web:
            both.append(str(path.relative_to(PACKAGE)))
    assert both == ["http/app.py", "http/auth.py"]


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    """Relative imports are resolved, so a use case reaching into http is seen whichever way it is written."""
    bad = tmp_path / "speakerverify" / "app" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("from ..http.problems import ProblemError\nfrom . import errors\nimport fastapi\n")
    names = _imports(bad, tmp_path)
    assert {"speakerverify.http.problems", "speakerverify.app.errors", "fastapi"} <= names
