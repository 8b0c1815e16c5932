"""Adaptive polling: the pure rule, a real Poller honouring ttl and max-age, config and status."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.cadence import Cadence, Hints, cadence, due_at
from monitor.config import SourceConfig, load_config
from monitor.fetch import Fetcher
from monitor.match import Matcher
from monitor.pipeline import Poller, PollResult
from monitor.report import as_json, build_status, render_status
from monitor.store import Store
from tests.servers import Site, serve_site

START = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
MIN = timedelta(minutes=5)
MAX = timedelta(hours=6)
EVERY = timedelta(minutes=10)


def hourly(count: int, *, last: datetime = START) -> list[datetime]:
    return [last - timedelta(hours=n) for n in range(count)]


def decide(*, arrivals: list[datetime] | None = None, now: datetime = START, every: timedelta = EVERY,
           **hints: Any) -> Cadence:
    return cadence(every=every, min_every=MIN, max_every=MAX, arrivals=arrivals or [], hints=Hints(**hints), now=now)


RULES = {
    "every, without rhythm or hints": ({}, EVERY, "every 10m"),
    "every clamped up to min_every": ({"every": timedelta(minutes=1)}, MIN, "every 1m, raised to min_every"),
    "hourly arrivals poll every 30m": ({"arrivals": hourly(10)}, timedelta(minutes=30), "rhythm: median gap 1h"),
    "too few arrivals fall back to every": ({"arrivals": hourly(2)}, EVERY, "every 10m"),
    "one poll's many items are one arrival": ({"arrivals": [START, START, START, START - timedelta(hours=1)]},
                                              EVERY, "every 10m"),
    "a quiet spell slows the source": ({"arrivals": hourly(5, last=START - timedelta(hours=4))},
                                       timedelta(hours=2), "rhythm: quiet for 4h"),
    "silent for days drifts to max_every": ({"arrivals": hourly(5, last=START - timedelta(days=3))}, MAX,
                                            "rhythm: quiet for 3d, capped at max_every"),
    "a fast publisher is held at min_every": ({"arrivals": [START - timedelta(minutes=2 * n) for n in range(5)]},
                                              MIN, "rhythm: median gap 2m, raised to min_every"),
    "max-age waits": ({"cache_control": "public, max-age=3600"}, timedelta(hours=1), "max-age=3600"),
    "max-age with no-cache is ignored": ({"cache_control": "no-cache, max-age=3600"}, EVERY, "every 10m"),
    "max-age with no-store is ignored": ({"cache_control": "max-age=3600, no-store"}, EVERY, "every 10m"),
    "expires less date waits": ({"expires": "Sat, 28 Nov 2026 11:00:00 GMT", "date": "Sat, 28 Nov 2026 10:00:00 GMT"},
                                timedelta(hours=1), "expires in 1h"),
    "expires without date counts from now": ({"expires": "Sat, 28 Nov 2026 09:45:00 GMT"}, timedelta(minutes=45),
                                             "expires in 45m"),
    "expires in the past or unreadable is no hint": ({"expires": "0"}, EVERY, "every 10m"),
    "ttl waits": ({"ttl": timedelta(minutes=60)}, timedelta(hours=1), "ttl 1h"),
    "the largest hint wins": ({"ttl": timedelta(minutes=90), "cache_control": "max-age=600"},
                              timedelta(minutes=90), "ttl 1h30m"),
    "a hint shorter than the rhythm changes nothing": ({"arrivals": hourly(10), "cache_control": "max-age=60"},
                                                       timedelta(minutes=30), "rhythm: median gap 1h"),
    "a huge hint is capped at max_every": ({"cache_control": "max-age=99999999999999999999"}, MAX,
                                           "max-age=31622400, capped at max_every"),
    "a max-age of 5,000 digits is capped, not an error": ({"cache_control": "max-age=" + "9" * 5000}, MAX,
                                                          "max-age=31622400, capped at max_every"),
}


@pytest.mark.parametrize(("given", "interval", "reason"), list(RULES.values()), ids=list(RULES))
def test_rule(given: dict[str, Any], interval: timedelta, reason: str) -> None:
    """The interval and reason follow the documented rule: every, rhythm, the largest hint, clamped."""
    assert decide(**given) == Cadence(interval=interval, reason=reason)


def test_due_time_is_half_a_firing_early() -> None:
    """The firing nearest the interval runs: due is the interval less half of min_every."""
    assert due_at(START, timedelta(hours=1), firing_every=MIN) == START + timedelta(minutes=57, seconds=30)


# -- through a real Poller ---------------------------------------------------------------------


class Feed:
    """One feed at /feed.xml on a loopback site, with the headers a test gives it."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.url = site.base_url + "/feed.xml"

    def serve(self, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.site.put("/feed.xml", body, "application/rss+xml", headers)

    @property
    def hits(self) -> int:
        return len(self.site.asked("/feed.xml"))


@pytest.fixture
def feed() -> Iterator[Feed]:
    with serve_site() as site:
        yield Feed(site)


def rss(*, ttl: int | None = None) -> bytes:
    extra = f"<ttl>{ttl}</ttl>" if ttl is not None else ""
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>{extra}'
            "<item><title>One</title><link>http://news.test/1</link></item></channel></rss>").encode()


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def source(url: str, **extra: Any) -> SourceConfig:
    return SourceConfig.model_validate({"id": "wire", "name": "wire", "url": url, "kind": "feed",
                                        "timeout": timedelta(seconds=5), "fetch_articles": False, **extra})


ADAPTIVE = {"every": timedelta(minutes=10), "min_every": timedelta(minutes=10), "max_every": timedelta(hours=6)}


def polls(store: Store, config: SourceConfig, clock: Clock, offsets: list[timedelta], *,
          force: bool = False) -> list[PollResult]:
    """Poll at START plus each offset, as the daemon's firings would (``force``: as `monitor once`)."""
    async def run() -> list[PollResult]:
        results = []
        async with Fetcher() as fetcher:
            poller = Poller(store=store, fetcher=fetcher, matcher=Matcher([]), routes={}, clock=clock)
            for offset in offsets:
                clock.now = START + offset
                results.append(await poller.poll(config, force=force))
        return results
    return asyncio.run(run())


FIRINGS = [timedelta(minutes=m) for m in (0, 10, 20, 30, 40, 50, 60)]


class TestPoller:
    """A real Poller against a loopback feed skips firings before the source is due."""

    def test_ttl_of_an_hour_skips_the_firings_before_it(self, store: Store, feed: Feed) -> None:
        """A feed with <ttl>60</ttl> polled every 10m is fetched at 0 and 60m, not in between."""
        feed.serve(rss(ttl=60))
        results = polls(store, source(feed.url, **ADAPTIVE), Clock(), FIRINGS)
        assert [r.status for r in results] == ["baseline", *["not-due"] * 5, "unchanged"]
        assert feed.hits == 2

    def test_max_age_of_an_hour_skips_the_firings_before_it(self, store: Store, feed: Feed) -> None:
        """Cache-Control: max-age=3600 is honoured like a ttl."""
        feed.serve(rss(), {"Cache-Control": "max-age=3600"})
        results = polls(store, source(feed.url, **ADAPTIVE), Clock(), FIRINGS)
        assert [r.status for r in results].count("not-due") == 5 and feed.hits == 2

    def test_stored_ttl_still_counts_after_an_unchanged_poll_committed_with_it(self, store: Store,
                                                                               feed: Feed) -> None:
        """A poll that reads no body keeps the feed's last ttl, so the source stays on its hour;
        each poll commits once, its next due time in the same transaction as the rest."""
        feed.serve(rss(ttl=60))
        commits: list[str] = []
        store.db.conn.set_trace_callback(lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None)
        results = polls(store, source(feed.url, **ADAPTIVE), Clock(), [timedelta(0), timedelta(minutes=60)])
        store.db.conn.set_trace_callback(None)
        assert [r.status for r in results] == ["baseline", "unchanged"]
        assert store.source_state("wire").due_at == START + timedelta(minutes=115)
        assert len(commits) == 2

    def test_a_lowered_max_every_cuts_a_due_time_stored_under_the_old_one(self, store: Store, feed: Feed) -> None:
        """A due time a day away (max-age under max_every 7d) gives way when a reload lowers max_every to 30m."""
        feed.serve(rss(), {"Cache-Control": "max-age=86400"})
        long = {**ADAPTIVE, "max_every": timedelta(days=7)}
        polls(store, source(feed.url, **long), Clock(), [timedelta(0)])
        assert store.source_state("wire").due_at == START + timedelta(hours=24) - timedelta(minutes=5)
        short = {**ADAPTIVE, "max_every": timedelta(minutes=30)}
        results = polls(store, source(feed.url, **short), Clock(), [timedelta(minutes=20), timedelta(minutes=30)])
        assert [r.status for r in results] == ["not-due", "unchanged"] and feed.hits == 2

    def test_source_without_bounds_is_fetched_on_every_firing(self, store: Store, feed: Feed) -> None:
        """Without min_every and max_every the ttl changes nothing: every firing fetches."""
        feed.serve(rss(ttl=60))
        polls(store, source(feed.url), Clock(), FIRINGS)
        assert feed.hits == len(FIRINGS) and store.source_state("wire").due_at is None

    def test_monitor_once_polls_a_source_not_yet_due(self, store: Store, feed: Feed) -> None:
        """force (monitor once) polls even before the due time."""
        feed.serve(rss(ttl=60))
        config, clock = source(feed.url, **ADAPTIVE), Clock()
        polls(store, config, clock, [timedelta(0)])
        assert [r.status for r in polls(store, config, clock, [timedelta(minutes=10)], force=True)] == ["unchanged"]


# -- config and status -------------------------------------------------------------------------


CONFIG = """
database: monitor.db
defaults: {every: 10m, min_every: 5m, max_every: 2h}
sources:
  - {id: wire, url: "http://news.test/feed.xml", kind: feed}
  - {id: fixed, url: "http://fixed.test/feed.xml", cron: "*/5 * * * *"}
"""


def test_a_cron_source_inherits_no_adaptive_bounds(tmp_path: Path) -> None:
    """Bounds in defaults make interval sources adaptive and leave cron sources on their times."""
    (tmp_path / "monitor.yaml").write_text(CONFIG)
    config = load_config(tmp_path / "monitor.yaml")
    assert config.source("wire").adaptive and config.source("wire").firing_every == timedelta(minutes=5)
    assert not config.source("fixed").adaptive and config.source("fixed").min_every is None


def test_status_shows_the_current_interval_and_its_reason(tmp_path: Path) -> None:
    """`monitor status` shows an adaptive source's interval and reason, in the table and in JSON."""
    (tmp_path / "monitor.yaml").write_text(CONFIG)
    config = load_config(tmp_path / "monitor.yaml")
    store = Store(config.database)
    try:
        store.record_not_modified("wire", now=START)
        store.record_cadence("wire", due_at=START + timedelta(minutes=28), interval=timedelta(minutes=30),
                             reason="rhythm: median gap 1h", feed_ttl=None)
        view = build_status(config, store, now=START)
    finally:
        store.close()
    wire = next(line for line in render_status(view).splitlines() if line.startswith("wire "))
    assert wire.endswith("in 28m (adaptive)  30m (rhythm: median gap 1h)")
    shown = json.loads(json.dumps(as_json(view)))["sources"][0]
    assert (shown["interval_seconds"], shown["interval_reason"]) == (1800, "rhythm: median gap 1h")
    assert shown["due_at"] == "2026-11-28T09:28:00+00:00"
