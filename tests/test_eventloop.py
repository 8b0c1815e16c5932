"""monitor.eventloop: the commands run on uvloop where it is installed, asyncio's loop otherwise."""

from __future__ import annotations

import asyncio
import sys

import pytest

from monitor import eventloop


async def _answer() -> tuple[str, int]:
    await asyncio.sleep(0)
    return eventloop.loop_name(), 42


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop, a dependency elsewhere, has no Windows build")
def test_runs_on_uvloop_when_it_is_installed() -> None:
    assert eventloop.run(_answer()) == ("uvloop", 42)


def test_falls_back_to_asyncio_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # `import uvloop` raises ImportError
    assert eventloop.run(_answer()) == ("asyncio", 42)
