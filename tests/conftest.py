"""Shared fixtures: the shared corpora, skipping clearly when they are absent (failing under CI=true)."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.shared_data import require_fsdd, require_speechocean


@pytest.fixture(scope="session")
def fsdd() -> Path:
    return require_fsdd()


@pytest.fixture(scope="session")
def speechocean() -> Path:
    return require_speechocean()


def _xdist_group(item: pytest.Item) -> str:
    """Which tests belong together: used to hand out the files holding slow tests first. scripts/test.sh
    runs `--dist loadfile`, which keeps each file on one worker (its module fixtures built once, its
    order-dependent tests in order); `--dist loadgroup` split the browser group across workers."""
    path = Path(str(item.path))
    if "e2e" in path.parts:
        return "e2e"
    if "sample_db" in getattr(item, "fixturenames", ()):
        return "operator-sample-db"
    return str(path)


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not hasattr(config, "workerinput") and config.getoption("dist", "no") == "no":
        return  # a plain run: collection order and nothing added
    groups = {item.nodeid: _xdist_group(item) for item in items}
    slow = {groups[item.nodeid] for item in items if item.get_closest_marker("slow") or "e2e" in groups[item.nodeid]}
    for item in items:
        item.add_marker(pytest.mark.xdist_group(groups[item.nodeid]))
    # Groups with slow tests first, so that no long file is handed out last and runs alone at the end.
    items.sort(key=lambda item: groups[item.nodeid] not in slow)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop this process's PostgreSQL server (if a test started one) at the end of the session: an
    xdist worker may end without running atexit handlers."""
    from support import pgserver

    if pgserver._server is not None:
        pgserver._server.stop()
