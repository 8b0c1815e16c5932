"""`monitor status`, `items` and `alerts` on a seeded database."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.config import Config, load_config
from monitor.fetch import Fetcher
from monitor.match import Matcher
from monitor.models import Hit, Match
from monitor.pipeline import Poller
from monitor.report import build_status, render_status
from monitor.store import NewItem, Store, utcnow
from monitor.store_report import recent_alerts, recent_items, source_records
from tests.servers import serve_newsroom

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def _item(source: str, slug: str, *, matched: bool, title: str) -> NewItem:
    match = Match(watchlist="desk", terms=("ISAF",), snippet="ISAF met",
                  hits=(Hit(term="ISAF", field="body", start=0, end=4),))
    return NewItem(url=f"http://news.test/{slug}", guid=None, source_id=source, title=title, summary="",
                   published=None, main_text="ISAF met", text_origin="article", fetch_error=None,
                   content_hash=slug, baseline=False, matches=(match,) if matched else (),
                   deliveries=(("desk", "chat"), ("desk", "mail")) if matched else ())


@pytest.fixture
def seeded(tmp_path: Path) -> Config:
    """Two configured sources (one failing), one removed source, and alerts sent and queued."""
    (tmp_path / "monitor.yaml").write_text("""
database: monitor.db
channels: {chat: "console://", mail: "console://", pager: "console://"}
sources:
  - {id: wire, url: "http://news.test/feed.xml", kind: feed}
  - {id: ministry, url: "http://ministry.test/press"}
""")
    config = load_config(tmp_path / "monitor.yaml")
    store = Store(config.database)
    try:
        earlier = NOW - timedelta(minutes=30)
        store.commit_poll("wire", url="http://news.test/feed.xml", now=earlier, etag=None, last_modified=None,
                          body_hash="1", warnings=(), baseline=False,
                          items=[_item("wire", "a", matched=True, title="ISAF talks"),
                                 _item("wire", "b", matched=False, title="Weather")])
        store.record_next_polls({"wire": NOW + timedelta(minutes=4)})
        store.commit_poll("gone", url="http://gone.test/", now=earlier, etag=None, last_modified=None,
                          body_hash="2", warnings=(), baseline=False,
                          items=[_item("gone", "c", matched=False, title="Old")])
        for _ in range(3):
            store.record_failure("ministry", url="http://ministry.test/press", now=NOW - timedelta(minutes=2),
                                 error="http://ministry.test/press answered 503 Service Unavailable",
                                 retry_at=NOW + timedelta(minutes=40))
        sent = next(a for a in store.queued_alerts() if a.channel == "chat")
        store.mark_sent(sent.id, now=NOW - timedelta(minutes=29))
    finally:
        store.close()
    return config


def _status_text(config: Config) -> str:
    store = Store(config.database)
    try:
        return render_status(build_status(config, store, now=NOW))
    finally:
        store.close()


def test_status_table_shows_each_source_and_channel(seeded: Config) -> None:
    """The sources table has one row per configured (and removed) source with its counts and times."""
    text = _status_text(seeded)
    wire = next(line for line in text.splitlines() if line.startswith("wire "))
    assert wire.split()[:6] == ["wire", "feed", "30m", "ago", "ok", "30m"]
    assert "in 4m" in wire and " 2 " in wire
    ministry = next(line for line in text.splitlines() if line.startswith("ministry "))
    assert ministry.split()[:2] == ["ministry", "auto"] and "error" in ministry and "(backoff)" in ministry
    assert "gone (removed)" in text


def test_status_lists_failing_sources_with_their_last_error(seeded: Config) -> None:
    """A failing source shows its failure count and last error below the table."""
    assert "ministry: 3 in a row: http://ministry.test/press answered 503" in _status_text(seeded)


def test_status_counts_the_outbox_per_channel(seeded: Config) -> None:
    """Each configured channel has a row: queued, failed and sent today."""
    rows = {line.split()[0]: line.split()[1:4] for line in _status_text(seeded).split("Outbox")[1].splitlines()[2:]}
    assert rows == {"chat": ["0", "0", "1"], "mail": ["1", "0", "0"], "pager": ["0", "0", "0"]}


def test_status_says_channel_in_the_singular_for_one(seeded: Config, tmp_path: Path) -> None:
    """The outbox heading reads "1 channel" for one and "3 channels" for three."""
    (tmp_path / "one.yaml").write_text('database: one.db\nchannels: {chat: "console://"}\n')
    one = load_config(tmp_path / "one.yaml")
    Store(one.database).close()
    assert "Outbox (1 channel)\n" in _status_text(one)
    assert "Outbox (3 channels)\n" in _status_text(seeded)


def _warn(config: Config, source_id: str, warnings: tuple[str, ...]) -> None:
    store = Store(config.database)
    try:
        store.commit_poll(source_id, url="http://news.test/feed.xml", now=NOW, etag=None, last_modified=None,
                          body_hash="3", warnings=warnings, baseline=False, items=[])
    finally:
        store.close()


def test_source_records_carry_the_last_polls_warnings(seeded: Config) -> None:
    """source_records reads back the warnings a poll stored; a source without any has none."""
    _warn(seeded, "wire", ("http://news.test/feed.xml: feed is not well-formed (line 1); read anyway",))
    store = Store(seeded.database)
    try:
        records = source_records(store)
    finally:
        store.close()
    assert records["wire"].warnings == ("http://news.test/feed.xml: feed is not well-formed (line 1); read anyway",)
    assert records["ministry"].warnings == ()


def test_status_lists_warnings_below_the_table(seeded: Config) -> None:
    """Each warning of a source's last poll is a line under "Warnings:"; none means no section."""
    assert "Warnings:" not in _status_text(seeded)
    _warn(seeded, "wire", ("first problem", "second problem"))
    text = _status_text(seeded)
    section = text.split("Warnings:\n")[1].split("\n\n")[0]
    assert section.splitlines() == ["  wire: first problem", "  wire: second problem"]


def test_status_json_carries_warnings(seeded: Config) -> None:
    """`monitor status --json` gives each source a list of warnings (empty when there are none)."""
    _warn(seeded, "wire", ("first problem",))
    result = CliRunner().invoke(main, ["--log-format", "text", "status", "--json", "-c", str(seeded.path)])
    assert result.exit_code == 0, result.output
    warnings = {s["id"]: s["warnings"] for s in json.loads(result.output)["sources"]}
    assert warnings["wire"] == ["first problem"] and warnings["ministry"] == []


def test_polling_a_malformed_feed_shows_its_warning_in_status(tmp_path: Path) -> None:
    """A real poll of a feed that is not well-formed stores its items and `monitor status` flags the source."""
    with serve_newsroom() as site:
        url = site.publish("/rss", b"<rss version='2.0'><channel><title>AT&T</title><item><title>One & two</title>"
                                   b"<link>https://example.org/1</link></item></channel>",
                           content_type="application/rss+xml")
        (tmp_path / "monitor.yaml").write_text(
            f"database: monitor.db\nsources:\n  - {{id: broken, url: \"{url}\", kind: feed, fetch_articles: false}}\n")
        config = load_config(tmp_path / "monitor.yaml")
        store = Store(config.database)
        try:
            async def run() -> str:
                async with Fetcher() as fetcher:
                    poller = Poller(store=store, fetcher=fetcher, matcher=Matcher([]), routes={})
                    return (await poller.poll(config.sources[0])).status
            assert asyncio.run(run()) == "baseline"
            assert [i.url for i in recent_items(store)] == ["https://example.org/1"]
        finally:
            store.close()
    text = _status_text(config)
    assert "Warnings:\n  broken: " in text and "feed is not well-formed" in text


def test_status_json_is_machine_readable(seeded: Config) -> None:
    """`monitor status --json` prints the same facts as JSON with ISO times."""
    result = CliRunner().invoke(main, ["--log-format", "text", "status", "--json", "-c", str(seeded.path)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    wire = next(s for s in data["sources"] if s["id"] == "wire")
    assert wire["items"] == 2 and wire["last_status"] == "ok" and wire["next_poll_at"] == "2026-11-28T12:04:00+00:00"
    assert {c["channel"]: c["queued"] for c in data["channels"]} == {"chat": 0, "mail": 1, "pager": 0}


def test_status_without_a_database_exits_1(tmp_path: Path) -> None:
    """Reading commands never create the database: they say there is none yet."""
    (tmp_path / "monitor.yaml").write_text("database: none.db\n")
    result = CliRunner().invoke(main, ["status", "-c", str(tmp_path / "monitor.yaml")])
    assert result.exit_code == 1 and "no database" in result.output
    assert not (tmp_path / "none.db").exists()


def test_items_filters_by_source_and_match(seeded: Config) -> None:
    """recent_items returns newest first and honours --source and --matched."""
    store = Store(seeded.database)
    try:
        assert {i.title for i in recent_items(store)} == {"ISAF talks", "Weather", "Old"}
        assert [i.title for i in recent_items(store, source_ids=("wire",), matched_only=True)] == ["ISAF talks"]
        assert recent_items(store, source_ids=("wire",), matched_only=True)[0].watchlists == ("desk",)
        assert recent_items(store, since=NOW) == []
        assert len(recent_items(store, limit=1)) == 1
    finally:
        store.close()


def test_items_command_prints_a_table(seeded: Config) -> None:
    """`monitor items --matched` prints the matched item with its watch list."""
    result = CliRunner().invoke(main, ["items", "--matched", "-c", str(seeded.path)])
    assert result.exit_code == 0, result.output
    assert "ISAF talks" in result.output and "desk" in result.output and "Weather" not in result.output


def test_alerts_filter_by_channel_and_status(seeded: Config) -> None:
    """recent_alerts shows what was sent where and what is still queued."""
    store = Store(seeded.database)
    try:
        assert [(a.channel, a.status) for a in recent_alerts(store, channels=("chat",))] == [("chat", "sent")]
        assert [a.channel for a in recent_alerts(store, statuses=("queued",))] == ["mail"]
    finally:
        store.close()


def test_alerts_command_rejects_a_bad_since(seeded: Config) -> None:
    """--since takes a duration or an ISO date; anything else is a usage error (exit 2)."""
    result = CliRunner().invoke(main, ["alerts", "--since", "yesterday", "-c", str(seeded.path)])
    assert result.exit_code == 2 and "neither a duration" in result.output
    # The seed is dated NOW, not today: reach it with a duration measured from the real clock.
    days_back = (utcnow() - NOW).days + 2
    ok = CliRunner().invoke(main, ["alerts", "--since", f"{days_back}d", "-c", str(seeded.path)])
    assert ok.exit_code == 0 and "sent" in ok.output and "queued" in ok.output
    dated = CliRunner().invoke(main, ["alerts", "--since", (NOW - timedelta(hours=1)).isoformat(),
                                      "-c", str(seeded.path)])
    assert dated.exit_code == 0 and "sent" in dated.output and "queued" in dated.output


def test_relative_times_read_naturally() -> None:
    """Times in tables read as '3m ago' or 'in 2h'; missing ones as 'never'."""
    from monitor.report import ago

    now = utcnow()
    assert ago(now - timedelta(minutes=3), now) == "3m ago"
    assert ago(now + timedelta(hours=2), now) == "in 2h"
    assert ago(None, now) == "never"
