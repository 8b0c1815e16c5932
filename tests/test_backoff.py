"""Backoff that respects publishers: exponential with jitter, Retry-After, reset on success, no stampede."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from monitor.config import SourceConfig
from monitor.fetch import Fetcher
from monitor.match import Matcher
from monitor.pipeline import Poller, PollResult
from monitor.service import STAGGER_WINDOW, first_polls
from monitor.store import BACKOFF_CAP, Store
from tests.faultserver import FaultServer, serve_faults
from tests.newsroom_pages import rss_feed, when
from tests.servers import serve_newsroom

START = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def faults() -> Iterator[FaultServer]:
    with serve_faults(b"") as site:
        yield site


def source(source_id: str, url: str, every: timedelta = timedelta(minutes=10), **extra: object) -> SourceConfig:
    return SourceConfig.model_validate({"id": source_id, "name": source_id, "url": url, "every": every,
                                        "timeout": timedelta(seconds=2), "fetch_articles": False, **extra})


def poll(store: Store, clock: Clock, *sources: SourceConfig) -> list[PollResult]:
    async def run() -> list[PollResult]:
        async with Fetcher() as fetcher:
            poller = Poller(store=store, fetcher=fetcher, matcher=Matcher([]), routes={}, clock=clock)
            return list(await asyncio.gather(*(poller.poll(s) for s in sources)))
    return asyncio.run(run())


def retry_at(store: Store, source_id: str) -> datetime | None:
    return store.source_state(source_id).retry_at


def test_consecutive_failures_back_off_exponentially(store: Store, faults: FaultServer) -> None:
    """Each failure in a row doubles the wait (one interval, less the half a firing may be early, +-10%)."""
    clock = Clock()
    failing = source("failing", faults.url("/status/500"))
    interval = timedelta(minutes=10)
    delays = []
    for attempt in range(1, 5):
        assert poll(store, clock, failing)[0].status == "error"
        wait = retry_at(store, "failing")
        assert wait is not None
        delays.append(wait - clock.now)
        base = interval * 2 ** (attempt - 1)
        assert base * 0.9 - interval / 2 - timedelta(seconds=1) <= delays[-1] <= base * 1.1 - interval / 2
        clock.now = wait + timedelta(seconds=1)
    assert store.source_state("failing").consecutive_failures == 4
    assert delays == sorted(delays)


def test_an_adaptive_source_backs_off_from_every_less_half_a_firing(store: Store, faults: FaultServer) -> None:
    """An adaptive source's job fires every min_every, so its retry lands at most half of
    that early, not half of ``every`` (which came back after ~5 minutes instead of ~10)."""
    clock = Clock()
    adaptive = source("adaptive", faults.url("/status/500"), min_every=timedelta(minutes=2),
                      max_every=timedelta(hours=2))
    assert poll(store, clock, adaptive)[0].status == "error"
    wait = retry_at(store, "adaptive")
    assert wait is not None
    interval, firing = timedelta(minutes=10), timedelta(minutes=2)
    assert interval * 0.9 - firing / 2 - timedelta(seconds=1) <= wait - clock.now <= interval * 1.1 - firing / 2


def test_sources_failing_together_retry_at_different_moments(store: Store, faults: FaultServer) -> None:
    """Jitter spreads the retries of sources that failed in the same second."""
    clock = Clock()
    sources = [source(f"s{i}", faults.url(f"/status/500?{i}")) for i in range(12)]
    poll(store, clock, *sources)
    moments = {retry_at(store, s.id) for s in sources}
    assert None not in moments and len(moments) >= 6


def test_retry_after_is_honoured_over_a_shorter_backoff(store: Store, faults: FaultServer) -> None:
    """A 503 with Retry-After: 120 keeps a one-minute source away for two minutes, asking nothing meanwhile."""
    clock = Clock()
    limited = source("limited", faults.url("/status/503"), every=timedelta(minutes=1))
    poll(store, clock, limited)
    wait = retry_at(store, "limited")
    assert wait is not None and wait >= START + timedelta(seconds=120)
    asked = len(faults.headers)
    clock.now = START + timedelta(seconds=61)
    assert poll(store, clock, limited)[0].status == "backoff"
    assert len(faults.headers) == asked
    clock.now = wait + timedelta(seconds=1)
    assert poll(store, clock, limited)[0].status == "error"
    assert len(faults.headers) == asked + 1


def test_retry_after_of_a_429_is_honoured(store: Store, faults: FaultServer) -> None:
    """A 429 with Retry-After: 60 keeps a one-minute source away for the minute, past its ~30 s backoff."""
    clock = Clock()
    limited = source("limited", faults.url("/status/429"), every=timedelta(minutes=1))
    assert (poll(store, clock, limited)[0].error or "").startswith("HTTP 429")
    wait = retry_at(store, "limited")
    assert wait is not None and wait >= START + timedelta(seconds=60)


@pytest.mark.parametrize("seconds", ["1000000000000", "1" * 400], ids=["1e12", "inf"])
def test_a_hostile_retry_after_is_recorded_as_an_error_not_raised(
        store: Store, faults: FaultServer, seconds: str) -> None:
    """A Retry-After too large for a date (1e12 s, or digits that parse to infinity) is clamped to the backoff cap."""
    clock = Clock()
    hostile = source("hostile", faults.url(f"/status/503?retry-after={seconds}"))
    [result] = poll(store, clock, hostile)
    assert result.status == "error" and (result.error or "").startswith("HTTP 503")
    assert store.source_state("hostile").consecutive_failures == 1
    assert retry_at(store, "hostile") == START + BACKOFF_CAP


def test_a_retry_after_of_a_year_waits_no_longer_than_the_backoff_cap(store: Store, faults: FaultServer) -> None:
    """A publisher asking for a year's silence is asked again after the backoff cap, not in a year."""
    clock = Clock()
    sulky = source("sulky", faults.url(f"/status/503?retry-after={365 * 24 * 3600}"))
    poll(store, clock, sulky)
    assert retry_at(store, "sulky") == START + BACKOFF_CAP
    clock.now = START + BACKOFF_CAP + timedelta(seconds=1)
    asked = len(faults.headers)
    assert poll(store, clock, sulky)[0].status == "error"
    assert len(faults.headers) == asked + 1


def test_a_success_restores_the_normal_interval(store: Store) -> None:
    """After failures, one good poll clears the count and the retry time, so the next firing polls."""
    clock = Clock()
    with serve_newsroom() as site:
        feed = rss_feed(base=site.base_url, items=[("/news/1", "One", "First.", when(20))])
        site.publish("/feed.xml", feed, "application/rss+xml", status=500)
        flaky = source("flaky", site.url("/feed.xml"))
        for _ in range(2):
            assert poll(store, clock, flaky)[0].status == "error"
            clock.now = (retry_at(store, "flaky") or clock.now) + timedelta(seconds=1)
        site.publish("/feed.xml", feed, "application/rss+xml")
        assert poll(store, clock, flaky)[0].status == "baseline"
        state = store.source_state("flaky")
        assert (state.consecutive_failures, state.retry_at) == (0, None)
        assert poll(store, clock, flaky)[0].status == "not-modified"


def test_first_polls_are_spread_over_a_minute_at_most() -> None:
    """Many overdue sources at start poll at distinct moments within a minute, the first at once."""
    sources = [source(f"s{i}", f"https://example.org/{i}") for i in range(100)]
    starts = first_polls(sources, START)
    offsets = sorted(moment - START for moment in starts.values())
    assert offsets[0] == timedelta(0)
    assert offsets[-1] < STAGGER_WINDOW
    assert len(set(offsets)) == 100


def test_first_polls_of_a_frequent_source_stay_within_its_interval() -> None:
    """A source polled every 5 s never waits longer than 5 s for its first poll."""
    sources = [source(f"s{i}", f"https://example.org/{i}", every=timedelta(seconds=5)) for i in range(10)]
    assert max(first_polls(sources, START).values()) < START + timedelta(seconds=5)


def test_a_source_broken_for_weeks_keeps_its_backoff_at_the_cap(store: Store, faults: FaultServer) -> None:
    """Failure 1,100 in a row (a 10-minute source down for months) waits the cap, not 2**1099 intervals."""
    clock = Clock()
    broken = source("broken", faults.url("/status/500"))
    poll(store, clock, broken)
    store.db["sources"].update("broken", {"consecutive_failures": 1100})
    clock.now = START + BACKOFF_CAP * 2
    result = poll(store, clock, broken)[0]
    assert result.status == "error" and "internal error" not in (result.error or "")
    wait = retry_at(store, "broken")
    assert wait is not None
    assert BACKOFF_CAP * 0.9 - timedelta(minutes=5) <= wait - clock.now <= BACKOFF_CAP * 1.1
    assert store.source_state("broken").consecutive_failures == 1101
