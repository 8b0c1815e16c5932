"""Long CLI work (`monitor once` over many sources, `monitor backtest` over the archive):
a progress bar on a terminal, nothing when piped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monitor.store import Store
from tests.newsroom_pages import rss_feed, when
from tests.servers import Newsroom, serve_newsroom
from tests.terminal import on_terminal
from tests.test_match_archive import ARCHIVE, seed

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


def test_once_draws_a_bar_on_a_terminal_and_nothing_when_piped(tmp_path: Path) -> None:
    """With stderr on a terminal `once` shows `polling [###] 4/4`; piped, stderr has only log lines."""
    with serve_newsroom() as site:
        config = _config(tmp_path, site, 4)
        command = [sys.executable, "-m", "monitor", "--log-format", "json", "once", "-c", str(config)]
        code, stdout, terminal = on_terminal(command, tmp_path)
        assert code == 0
        assert stdout.count(b": baseline") == 4
        assert "polling" in terminal and "4/4" in terminal

        piped = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert piped.returncode == 0
    assert "polling" not in piped.stderr and "[#" not in piped.stderr


def _backtest(tmp: Path) -> list[str]:
    """A config over a seeded archive of five items, and the backtest command for a draft list."""
    store = Store(tmp / "monitor.db")
    seed(store, ARCHIVE)
    store.close()
    (tmp / "monitor.yaml").write_text('database: monitor.db\nchannels: {desk: "console://"}\nsources:\n'
                                      '  - {id: ispr, url: "https://example.org/ispr"}\n'
                                      '  - {id: dawn, url: "https://example.org/dawn"}\n')
    (tmp / "draft.yaml").write_text("keywords: [Karachi]\nnotify: desk\n")
    return [sys.executable, "-m", "monitor", "--log-format", "json", "backtest", str(tmp / "draft.yaml"),
            "-c", str(tmp / "monitor.yaml")]


def test_backtest_draws_a_bar_on_a_terminal(tmp_path: Path) -> None:
    """With stderr on a terminal `backtest` shows `backtesting [###] 5/5`, and stdout still lists every alert."""
    code, stdout, terminal = on_terminal(_backtest(tmp_path), tmp_path)
    assert code == 0
    assert "backtesting" in terminal and "5/5" in terminal
    assert stdout.decode().rstrip().endswith("draft: 2 alerts in 5 stored items (nothing sent)")
    assert stdout.count(b"matched: Karachi") == 2


def test_backtest_is_quiet_when_piped(tmp_path: Path) -> None:
    """Piped, `backtest` writes no bar to stderr."""
    piped = subprocess.run(_backtest(tmp_path), capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert piped.returncode == 0, piped.stderr
    assert "backtesting" not in piped.stderr and "[#" not in piped.stderr
