"""Log lines from the CLI: JSON lines (`--log-format json`), plain text (`text`), and `auto`
choosing text on a terminal and JSON otherwise; one canonical line per poll and per delivery."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.newsroom_pages import article_page, rss_feed, when
from tests.servers import Newsroom, WebhookReceiver, serve_newsroom, serve_webhook
from tests.terminal import on_terminal

pytestmark = pytest.mark.slow

SOURCES = ("desknews", "wire")
OLD = ("old", "Old story", "The municipal library extended its opening hours for the winter reading season.")
TALKS = ("Commanders from ISAF and the border force met in Kabul on Tuesday to agree new patrol schedules "
         "along the eastern frontier, officials said after the meeting.")
CONVOY = ("A supply convoy of forty trucks crossed the Torkham crossing overnight and reached an ISAF base "
          "near Jalalabad, where fuel and medical stores were unloaded by dawn.")
TEXT_LINE = re.compile(r"^\d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) +[\w.]+: \S")


@dataclass
class World:
    site: Newsroom
    hook: WebhookReceiver
    config: Path
    tmp: Path

    def command(self, *log_format: str) -> list[str]:
        return [sys.executable, "-m", "monitor", *log_format, "once", "-c", str(self.config)]

    def monitor(self, *log_format: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(*log_format), capture_output=True, text=True, timeout=90, cwd=self.tmp)

    def publish(self, source: str, stories: list[tuple[str, str, str]]) -> None:
        """Publish ``source``'s feed with these (slug, title, text) stories and their article pages."""
        items = [(f"/{source}/{slug}", title, text, when(20 + i)) for i, (slug, title, text) in enumerate(stories)]
        for path, title, text, _ in items:
            self.site.publish(path, article_page(title=title, paragraphs=[text]))
        self.site.publish(f"/{source}.xml", rss_feed(base=self.site.base_url, items=items), "application/rss+xml")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with serve_newsroom() as site, serve_webhook() as hook:
        sources = "\n".join(f'  - {{id: {s}, url: "{site.url(f"/{s}.xml")}"}}' for s in SOURCES)
        config = tmp_path / "monitor.yaml"
        config.write_text(f"""
database: monitor.db
channels: {{chat: "{hook.apprise_url}"}}
sources:
{sources}
watchlists:
  - {{name: desk, keywords: [ISAF], notify: [chat]}}
""")
        world = World(site=site, hook=hook, config=config, tmp=tmp_path)
        for source in SOURCES:
            world.publish(source, [OLD])
        yield world


def _json_lines(stderr: str) -> list[dict[str, str]]:
    return [json.loads(line) for line in stderr.splitlines()]


def test_json_gives_a_poll_line_per_source_and_a_delivery_line_per_alert(world: World) -> None:
    """With `--log-format json` every stderr line is a JSON object; a run logs one `poll source=`
    line per source and one `delivery` line per alert sent."""
    baseline = world.monitor("--log-format", "json")
    assert baseline.returncode == 0, baseline.stderr
    # Unrelated stories: two tellings of one story would make one alert.
    world.publish("desknews", [("talks", "ISAF commanders meet in Kabul", TALKS), OLD])
    world.publish("wire", [("convoy", "Supply convoy reaches ISAF base", CONVOY), OLD])

    result = world.monitor("--log-format", "json")
    assert result.returncode == 0, result.stderr
    records = _json_lines(result.stderr)
    assert all({"time", "level", "logger", "message"} <= record.keys() for record in records)
    messages = [record["message"] for record in records]
    polls = [m for m in messages if m.startswith("poll source=")]
    assert sorted(m.split()[1] for m in polls) == [f"source={s}" for s in SOURCES]
    deliveries = [m for m in messages if m.startswith("delivery channel=chat alert=") and "status=sent" in m]
    assert len(world.hook.received) == 2 and len(deliveries) == 2


def test_text_gives_plain_lines(world: World) -> None:
    """With `--log-format text` every stderr line is `HH:MM:SS LEVEL logger: message`, not JSON."""
    result = world.monitor("--log-format", "text")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines and all(TEXT_LINE.match(line) for line in lines), result.stderr
    assert sum(" monitor.pipeline: poll source=" in line for line in lines) == len(SOURCES)


def test_auto_is_text_on_a_terminal(world: World) -> None:
    """Without `--log-format`, log lines on a terminal are text."""
    code, _, terminal = on_terminal(world.command(), world.tmp)
    assert code == 0, terminal
    polls = [line for line in terminal.splitlines() if "poll source=" in line]
    assert len(polls) == len(SOURCES)
    assert all(re.search(r"\d\d:\d\d:\d\d INFO +monitor\.pipeline: poll source=", line) for line in polls), terminal
    assert not any(line.lstrip().startswith("{") for line in terminal.splitlines())


def test_auto_is_json_when_piped(world: World) -> None:
    """Without `--log-format`, log lines written to a pipe are JSON."""
    result = world.monitor()
    assert result.returncode == 0, result.stderr
    messages = [record["message"] for record in _json_lines(result.stderr)]
    assert sum(m.startswith("poll source=") for m in messages) == len(SOURCES)
