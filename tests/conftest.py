"""Fixtures shared by the test modules; a module with a store of its own (seeded, say) defines its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """An empty, migrated database in the test's own folder, closed after the test."""
    opened = Store(tmp_path / "monitor.db")
    yield opened
    opened.close()


@pytest.fixture(autouse=True, scope="session")
def every_apprise_plugin() -> None:
    """The test process loads every apprise plugin up front. Why: a test that loads a config
    the daemon's way (monitor.config.apart) would otherwise leave apprise knowing only that
    config's schemes, and later tests' URLs unknown. tests/test_plugins.py checks the
    daemon's selective loading in fresh interpreters."""
    from monitor.notify.plugins import modules_for, register_console

    modules_for([])
    register_console()
