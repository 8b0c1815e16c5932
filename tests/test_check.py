"""`monitor check SOURCE_ID` (a dry run) and `monitor validate -v` (what a source offers),
against the loopback Newsroom."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.sources.discover import discover
from tests.newsroom_pages import FILLER, article_page, rss_feed, when
from tests.servers import Newsroom, serve_newsroom

FEED_ITEMS = [
    ("/news/budget", "Budget debate resumes", "Lawmakers return to the budget.", when(20, 4)),
    ("/news/isaf-talks", "Border coordination talks held", "Officials met.", when(21)),
]
HOME = """<!DOCTYPE html><html><head><title>Desk News</title>
<link rel="alternate" type="application/rss+xml" title="Desk News &raquo; Feed" href="/feed.xml">
<link rel="alternate" type="application/rss+xml" title="Desk News &raquo; Comments Feed" href="/comments/feed">
<link rel="https://api.w.org/" href="/wp-json/">
</head><body><main><h1>Desk News</h1></main></body></html>"""


@pytest.fixture
def site() -> Iterator[Newsroom]:
    with serve_newsroom() as newsroom:
        newsroom.publish("/feed.xml", rss_feed(base=newsroom.base_url, items=FEED_ITEMS), "application/rss+xml")
        newsroom.publish("/news/budget", article_page(title="Budget debate resumes", paragraphs=[FILLER] * 2))
        newsroom.publish("/news/isaf-talks", article_page(
            title="Border coordination talks held",
            paragraphs=["Commanders of ISAF and the Pakistan Army met at the border.", FILLER],
            sidebar=["Kayani visits troops"]))
        newsroom.publish("/", HOME)
        yield newsroom


def write_config(tmp_path: Path, site: Newsroom) -> Path:
    config = tmp_path / "monitor.yaml"
    config.write_text(f"""
database: data/monitor.db
timezone: Asia/Karachi
channels: {{console: "console://"}}
sources:
  - id: desknews
    url: {site.url('/feed.xml')}
    timeout: 10s
  - id: home
    url: {site.url('/')}
    kind: html
    timeout: 10s
watchlists:
  - name: afpak
    keywords: [ISAF, Kayani]
    notify: console
  - name: elsewhere
    keywords: [budget]
    sources: [home]
    notify: console
""")
    return config


def test_check_prints_items_text_and_matches(tmp_path: Path, site: Newsroom) -> None:
    """Each item shows title, URL, local date, the article's first words and each watch list's verdict."""
    config = write_config(tmp_path, site)
    result = CliRunner().invoke(main, ["check", "desknews", "-c", str(config)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "desknews (kind feed, detected" not in out and "desknews (kind feed): 2 item(s)" in out
    assert "1. Budget debate resumes" in out and site.url("/news/budget") in out
    assert "date: 2026-11-20 09:00 PKT" in out
    assert "text (article, " in out and "Commanders of ISAF and the Pakistan Army" in out
    assert "afpak: MATCH on ISAF" in out and "afpak: no match" in out
    assert "elsewhere" not in out  # that list is for another source
    assert "Kayani" not in out.split("2. Border")[1].split("afpak: MATCH")[0]  # sidebar is not the text


def test_check_writes_nothing(tmp_path: Path, site: Newsroom) -> None:
    """A dry run creates no database (so no item, no outbox row, no alert)."""
    config = write_config(tmp_path, site)
    CliRunner().invoke(main, ["check", "desknews", "-c", str(config)])
    assert not (tmp_path / "data" / "monitor.db").exists()


def test_check_unknown_source_is_a_usage_error(tmp_path: Path, site: Newsroom) -> None:
    """An unknown id exits 2 and lists the configured ones."""
    result = CliRunner().invoke(main, ["check", "nope", "-c", str(write_config(tmp_path, site))])
    assert result.exit_code == 2 and "desknews, home" in result.output


def test_check_unreadable_listing_exits_1(tmp_path: Path, site: Newsroom) -> None:
    """A listing that cannot be fetched is reported with exit 1."""
    site.publish("/feed.xml", "gone", "text/plain", status=404)
    result = CliRunner().invoke(main, ["check", "desknews", "-c", str(write_config(tmp_path, site))])
    assert result.exit_code == 1 and "could not be read" in result.output


def test_validate_verbose_reports_offers(tmp_path: Path, site: Newsroom) -> None:
    """validate -v fetches each source once and names the feed and WordPress API a home page declares."""
    result = CliRunner().invoke(main, ["validate", "-v", "-c", str(write_config(tmp_path, site))])
    assert result.exit_code == 0, result.output
    assert "desknews: 2 item(s) (kind feed, detected)" in result.output
    assert f'offers RSS "Desk News » Feed": use kind: feed, url: {site.url("/feed.xml")}' in result.output
    assert f"offers WordPress API: use kind: wordpress, url: {site.url('/wp-json/wp/v2/posts')}" in result.output
    assert "Comments Feed" not in result.output


def test_validate_verbose_exits_1_when_a_source_cannot_be_read(tmp_path: Path, site: Newsroom) -> None:
    """Like `monitor once`: a CI step or a deploy script running validate -v is stopped by a
    source that answers 404, not told all is well."""
    config = write_config(tmp_path, site)
    config.write_text(config.read_text().replace(site.url("/feed.xml"), site.url("/moved.xml")))
    result = CliRunner().invoke(main, ["validate", "-v", "-c", str(config)])
    assert result.exit_code == 1, result.output
    assert "desknews: could not be read" in result.output and "404" in result.output


def test_discover_reads_head_links() -> None:
    """Feeds and the WordPress route are found in page order, comment feeds left out, URLs absolute."""
    offers = discover(HOME.encode(), url="https://desk.example/")
    assert [(o.kind, o.url) for o in offers] == [
        ("feed", "https://desk.example/feed.xml"), ("wordpress", "https://desk.example/wp-json/wp/v2/posts")]


@pytest.mark.parametrize("command", [["status"], ["once"], ["alerts"]])
def test_a_file_that_is_not_a_database_is_a_clear_error_with_exit_2(tmp_path: Path, command: list[str]) -> None:
    """A database path holding something else (a restored backup of the wrong file, random
    bytes): every command says so and exits 2, no traceback, and systemd does not restart
    the daemon into the same error every 10 s (RestartPreventExitStatus=2)."""
    (tmp_path / "monitor.db").write_bytes(b"\x8bnot sqlite at all\x00" * 512)
    config = tmp_path / "monitor.yaml"
    config.write_text("database: monitor.db\nsources: []\n")
    result = CliRunner().invoke(main, [*command, "-c", str(config)])
    assert result.exit_code == 2, result.output
    assert "monitor.db" in result.output and "not a database" in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, sqlite3.Error)


def test_a_database_path_that_is_a_folder_is_a_config_error_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    config = tmp_path / "monitor.yaml"
    config.write_text("timezone: UTC\ndatabase: data\n")
    result = CliRunner().invoke(main, ["validate", "-c", str(config)])
    assert result.exit_code == 2, result.output
    assert "monitor.yaml:2: database: " in result.output and "is a folder" in result.output
