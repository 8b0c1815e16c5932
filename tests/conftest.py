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
