"""`monitor once` over many sources: a progress bar on a terminal, nothing when piped."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.newsroom_pages import rss_feed, when
from tests.servers import Newsroom, serve_newsroom

pytestmark = pytest.mark.slow


def _config(tmp: Path, site: Newsroom, count: int) -> Path:
    lines = []
    for i in range(count):
        site.publish(f"/f{i}.xml", rss_feed(base=site.base_url, items=[(f"/n/{i}", f"Story {i}", "x", when(20))]),
                     "application/rss+xml")
        lines.append(f'  - {{id: s{i}, url: "{site.url(f"/f{i}.xml")}", kind: feed}}')
    config = tmp / "monitor.yaml"
    config.write_text("database: m.db\nsources:\n" + "\n".join(lines) + "\n")
    return config


def _drain(fd: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_once_draws_a_bar_on_a_terminal_and_nothing_when_piped(tmp_path: Path) -> None:
    """With stderr on a terminal `once` shows `polling [###] 4/4`; piped, stderr has only log lines."""
    with serve_newsroom() as site:
        config = _config(tmp_path, site, 4)
        command = [sys.executable, "-m", "monitor", "--log-format", "json", "once", "-c", str(config)]
        main, child = pty.openpty()
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=child, cwd=tmp_path)
        os.close(child)
        terminal = _drain(main).decode("utf-8", "replace")
        os.close(main)
        assert proc.wait(timeout=60) == 0
        assert proc.stdout is not None and proc.stdout.read().count(b": baseline") == 4
        assert "polling" in terminal and "4/4" in terminal

        piped = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert piped.returncode == 0
    assert "polling" not in piped.stderr and "[#" not in piped.stderr
