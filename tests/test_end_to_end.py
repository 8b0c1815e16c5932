"""The whole daemon through its CLI, against a loopback newsroom, SMTP server and webhook."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.newsroom_pages import FILLER, article_page, listing_page, rss_feed, when
from tests.servers import Mailbox, Newsroom, WebhookReceiver, serve_newsroom, serve_smtp, serve_webhook

REPO = Path(__file__).resolve().parents[1]


@dataclass
class World:
    site: Newsroom
    hook: WebhookReceiver
    mail: Mailbox
    config: Path
    tmp: Path

    def monitor(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "MONITOR_TEST_SECRET": "s3cr3t-pa55word"}
        return subprocess.run([sys.executable, "-m", "monitor", "--log-format", "text", *args, "-c", str(self.config)],
                              capture_output=True, text=True, timeout=timeout, cwd=self.tmp, env=env)


FEED_ITEMS = [
    ("/news/budget", "Budget debate resumes", "Lawmakers return to the budget.", when(20)),
    ("/news/floods", "Flood relief reaches villages", "Relief goods were delivered.", when(21)),
]
LISTING_ITEMS = [("/press-release/1", "Release one", "20 Nov 2026"), ("/press-release/2", "Release two", "21 Nov 2026")]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with serve_newsroom() as site, serve_webhook() as hook, serve_smtp() as mail:
        site.publish("/feed.xml", rss_feed(base=site.base_url, items=FEED_ITEMS), "application/rss+xml")
        site.publish("/press-release", listing_page(items=LISTING_ITEMS))
        for path, title, *_ in FEED_ITEMS + LISTING_ITEMS:
            site.publish(path, article_page(title=title, paragraphs=[FILLER] * 3))
        (tmp_path / "watchlists").mkdir()
        (tmp_path / "watchlists" / "afpak.yaml").write_text(
            "name: afpak-military\nkeywords: [Kayani, ISAF]\nexclude: [cricket]\n"
            "notify: [console, chat, email]\n")
        config = tmp_path / "monitor.yaml"
        config.write_text(f"""
database: data/monitor.db
timezone: Asia/Karachi
defaults: {{every: 10m, timeout: 10s}}
channels:
  console: "console://"
  chat: "{hook.apprise_url}"
  email: "mailto://desk:${{MONITOR_TEST_SECRET}}@127.0.0.1:{mail.port}?from=monitor@example.org&to=desk@example.org"
sources:
  - id: desknews
    name: Desk News
    url: {site.url('/feed.xml')}
  - id: ispr
    name: ISPR press releases
    url: {site.url('/press-release')}
    kind: html
    select: {{item: ".press-release", link: "a", title: "h3", date: ".date"}}
watchlists: ["watchlists/*.yaml"]
""")
        yield World(site=site, hook=hook, mail=mail, config=config, tmp=tmp_path)


def publish_round_two(world: World) -> None:
    """A new feed item whose keyword is only in the article body, a new item whose keyword is
    only in the page's Recent News sidebar, and a new press release mentioning Kayani."""
    site = world.site
    site.publish("/news/isaf-talks", article_page(
        title="Border coordination talks held",
        paragraphs=[FILLER, "Commanders of ISAF and the Pakistan Army met to discuss border coordination "
                    "mechanisms along the Durand Line.", FILLER]))
    site.publish("/news/sidebar-only", article_page(
        title="Wheat support price announced", paragraphs=[FILLER, FILLER],
        sidebar=["Gen Kayani visits troops in Swat", "ISAF commander meets officials"]))
    site.publish("/press-release/3", article_page(
        title="COAS visits Corps Headquarters",
        paragraphs=["RAWALPINDI: General Ashfaq Parvez Kayani, Chief of Army Staff, visited the Corps "
                    "Headquarters today and was briefed on the operational situation.", FILLER]))
    items = [
        ("/news/isaf-talks", "Border coordination talks held", "Officials met on Tuesday.", when(22)),
        ("/news/sidebar-only", "Wheat support price announced", "The cabinet approved a price.", when(22, 10)),
        *FEED_ITEMS,
    ]
    site.publish("/feed.xml", rss_feed(base=site.base_url, items=items), "application/rss+xml")
    site.publish("/press-release", listing_page(items=[("/press-release/3", "COAS visits Corps Headquarters",
                                                        "22 Nov 2026"), *LISTING_ITEMS]))


@pytest.mark.slow
def test_baseline_then_one_alert_per_channel_and_no_repeats(world: World) -> None:
    """Baseline poll alerts nothing; a new body-only match alerts once per channel; a sidebar-only
    mention does not; polling again and restarting repeat nothing."""
    first = world.monitor("once")
    assert first.returncode == 0, first.stderr
    assert "baseline" in first.stdout
    assert world.hook.received == [] and world.mail.messages == []
    assert world.site.hits("/news/budget") == [], "baseline items must not be fetched"

    publish_round_two(world)
    second = world.monitor("once")
    assert second.returncode == 0, second.stderr
    titles = sorted(str(m["title"]) for m in world.hook.received)
    assert titles == ["[afpak-military] Border coordination talks held",
                      "[afpak-military] COAS visits Corps Headquarters"]
    assert len(world.mail.messages) == 2
    email = next(m for m in world.mail.messages if "Border coordination" in str(m["Subject"]))
    body = email.get_body(preferencelist=("plain", "html")).get_content()  # type: ignore[union-attr]
    assert "ISAF" in body and "Pakistan Army met" in body, "the matched term comes with its context"
    assert "Desk News" in body and world.site.url("/news/isaf-talks") in body
    assert second.stdout.count("[afpak-military]") == 2, "the console channel printed both alerts"
    assert "Wheat support" not in second.stdout

    third = world.monitor("once")
    assert third.returncode == 0
    assert world.site.hits("/feed.xml")[-1] == 304
    assert len(world.hook.received) == 2 and len(world.mail.messages) == 2
    assert world.site.hits("/news/isaf-talks") == [200], "an article page is fetched once, ever"
    assert "s3cr3t-pa55word" not in first.stderr + second.stderr + third.stderr


@pytest.mark.slow
def test_failing_source_exits_1_and_others_still_alert(world: World) -> None:
    """One source answering 500 is reported and exits 1; the healthy source carries on."""
    world.monitor("once")
    world.site.publish("/press-release", "boom", status=500)
    publish_round_two(world)
    world.site.publish("/press-release", "boom", status=500)
    result = world.monitor("once")
    assert result.returncode == 1
    assert "ispr: error" in result.stdout and "HTTP 500" in result.stdout
    assert [m["title"] for m in world.hook.received] == ["[afpak-military] Border coordination talks held"]


@pytest.mark.slow
def test_validate_prints_summary_without_secrets(world: World) -> None:
    """`monitor validate` summarises the config and never prints a channel URL."""
    result = world.monitor("validate")
    assert result.returncode == 0, result.stderr
    assert "desknews" in result.stdout and "afpak-military" in result.stdout
    assert "s3cr3t-pa55word" not in result.stdout + result.stderr
    assert "mailto" not in result.stdout


def test_test_notify_reaches_the_webhook(world: World) -> None:
    """`monitor test-notify chat` sends one test message through the real receiver."""
    result = world.monitor("test-notify", "chat")
    assert result.returncode == 0, result.stderr
    assert [m["title"] for m in world.hook.received] == ["press-monitor test alert"]
