"""What one poll takes on: a listing's entries, its new items, its article pages in hand at
once. Each bound keeps a broken or hostile source's cost on that source; nothing past a
bound is lost while the listing still holds it (the bounds are lowered here to keep the
lists short)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitor import pipeline
from monitor.config import SourceConfig
from monitor.fetch import Fetcher
from monitor.match import Matcher, WatchRule
from monitor.pipeline import Poller, PollResult
from monitor.store import Store
from tests.faultserver import serve_faults
from tests.newsroom_pages import rss_feed, when
from tests.servers import Newsroom, serve_newsroom


def source(url: str, **options: object) -> SourceConfig:
    return SourceConfig.model_validate({"id": "desk", "name": "desk", "url": url, "every": timedelta(minutes=10),
                                        "fetch_articles": False, **options})


def poll(store: Store, config: SourceConfig, *, per_host: int = 4) -> PollResult:
    async def run() -> PollResult:
        async with Fetcher(per_host=per_host) as fetcher:
            poller = Poller(store=store, fetcher=fetcher, routes={"desk": ("chat",)},
                            matcher=Matcher([WatchRule(name="desk", keywords=("ISAF",))]))
            return await poller.poll(config, force=True)
    return asyncio.run(run())


def feed(newsroom: Newsroom, count: int, *, first: int = 0) -> None:
    items = [(f"/news/{n}", f"ISAF item {n}", f"ISAF text {n}.", when(1 + n % 28)) for n in range(first, count)]
    newsroom.publish("/feed.xml", rss_feed(base=newsroom.base_url, items=items), "application/rss+xml")


def warnings(store: Store) -> str:
    return str(store.db["sources"].get("desk")["warnings"])


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[tuple[Newsroom, Store]]:
    with serve_newsroom() as newsroom:
        store = Store(tmp_path / "monitor.db")
        try:
            yield newsroom, store
        finally:
            store.close()


def test_new_items_past_the_bound_wait_for_the_next_polls_even_when_the_feed_is_unchanged(
        desk: tuple[Newsroom, Store], monkeypatch: pytest.MonkeyPatch) -> None:
    """7 new items, 3 a poll: 3, 3, then 1, though the server answers with the same ETag
    and body each time (the polls that deferred some keep no validators and no body hash);
    the source's warning says how many wait, and goes once none do."""
    monkeypatch.setattr(pipeline, "MAX_NEW", 3)
    newsroom, store = desk
    feed(newsroom, 1)
    assert poll(store, source(newsroom.url("/feed.xml"))).status == "baseline"
    feed(newsroom, 8)
    first = poll(store, source(newsroom.url("/feed.xml")))
    assert "7 new items at once: the 3 listed last were read" in warnings(store)
    rest = [poll(store, source(newsroom.url("/feed.xml"))) for _ in range(3)]
    assert [(r.status, r.new, r.matched) for r in (first, *rest)] == [
        ("ok", 3, 3), ("ok", 3, 3), ("ok", 1, 1), ("not-modified", 0, 0)]
    assert store.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 7
    assert warnings(store) == "None"


def test_a_listing_is_read_up_to_the_entry_bound(desk: tuple[Newsroom, Store], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "MAX_ENTRIES", 5)
    newsroom, store = desk
    feed(newsroom, 8)
    result = poll(store, source(newsroom.url("/feed.xml")))
    assert (result.status, result.new, result.entries) == ("baseline", 5, 5)
    assert "the listing holds 8 entries: only the first 5 were read" in warnings(store)


def test_a_source_holds_a_bounded_number_of_article_pages_at_once(
        desk: tuple[Newsroom, Store], monkeypatch: pytest.MonkeyPatch) -> None:
    """Six new items whose pages each take 0.3 s: at most two are fetched at once (the
    host and the fetcher would allow six), so the pages of one source never take every
    slot of the pool from the others."""
    monkeypatch.setattr(pipeline, "MAX_PAGES_AT_ONCE", 2)
    monkeypatch.setattr("monitor.pages.PAGES_PER_HOST", 6)
    newsroom, store = desk
    with serve_faults(b"") as faults:
        def publish(count: int) -> None:
            items = "".join(f"<item><title>ISAF item {n}</title><link>{faults.url('/slow')}?n={n}</link>"
                            f"<description>ISAF</description></item>" for n in range(count))
            newsroom.publish("/feed.xml", f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
                                          f"{items}</channel></rss>", "application/rss+xml")

        publish(1)
        poll(store, source(newsroom.url("/feed.xml"), fetch_articles=True), per_host=6)
        publish(7)
        result = poll(store, source(newsroom.url("/feed.xml"), fetch_articles=True), per_host=6)
    assert (result.status, result.new) == ("ok", 6)
    assert faults.peak == 2
