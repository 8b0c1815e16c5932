"""Listings that span several URLs, through a real Poller against a loopback site: WordPress
paging on a burst, next links on an HTML listing, and robots.txt -> sitemap index -> sitemap."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from monitor.config import SourceConfig
from monitor.fetch import Fetcher
from monitor.match import Matcher
from monitor.pipeline import Poller, PollResult
from monitor.store import Store
from tests.servers import Site, serve_site

START = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


@pytest.fixture
def site() -> Iterator[Site]:
    with serve_site() as state:
        yield state


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def source(url: str, kind: str, **extra: Any) -> SourceConfig:
    return SourceConfig.model_validate({"id": "s", "name": "s", "url": url, "kind": kind,
                                        "timeout": timedelta(seconds=5), "fetch_articles": False, **extra})


def poll(store: Store, config: SourceConfig, clock: Clock | None = None) -> PollResult:
    async def run() -> PollResult:
        async with Fetcher() as fetcher:
            poller = Poller(store=store, fetcher=fetcher, matcher=Matcher([]), routes={}, clock=clock or Clock())
            return await poller.poll(config)
    return asyncio.run(run())


def wp_posts(site: Site, numbers: range) -> str:
    return json.dumps([{
        "id": n, "date_gmt": f"2026-11-{1 + n % 27:02d}T08:00:00",
        "link": f"{site.base_url}/{n}/", "title": {"rendered": f"Post number {n}"},
        "content": {"rendered": f"<p>Body of post {n}.</p>"}, "excerpt": {"rendered": ""},
    } for n in numbers])


def publish_wp(site: Site, newest: int, *, per_page: int = 10, total_pages: int = 6) -> None:
    for page in range(1, 5):
        top = newest - (page - 1) * per_page
        key = "/wp-json/wp/v2/posts" + ("" if page == 1 else f"?page={page}")
        site.put(key, wp_posts(site, range(top, top - per_page, -1)), "application/json; charset=UTF-8",
                 {"X-WP-Total": str(total_pages * per_page), "X-WP-TotalPages": str(total_pages)})


class TestWordPress:
    """Kind ``wordpress`` end to end: the API URL, ``after=``, paging on a burst."""

    def test_baseline_reads_only_the_first_page(self, site: Site, store: Store) -> None:
        """The first poll is a baseline of page one; older pages are history, not a burst."""
        publish_wp(site, 100)
        result = poll(store, source(site.base_url + "/", "wordpress"))
        assert (result.status, result.new) == ("baseline", 10)
        assert site.asked("/wp-json/wp/v2/posts") == ["/wp-json/wp/v2/posts"]

    def test_burst_follows_pages_up_to_max_pages(self, site: Site, store: Store) -> None:
        """When every post on a page is new, the next page is read, up to max_pages in all."""
        publish_wp(site, 100)
        config = source(site.base_url + "/", "wordpress", max_pages=3)
        poll(store, config)
        publish_wp(site, 140)
        result = poll(store, config)
        pages = [parse_qs(urlsplit(r).query).get("page", ["1"])[0] for r in site.asked("/wp-json/wp/v2/posts")]
        assert pages == ["1", "1", "2", "3"]
        assert (result.status, result.new) == ("ok", 30)

    def test_burst_stops_at_a_page_with_a_known_post(self, site: Site, store: Store) -> None:
        """A page holding an already stored post ends the walk."""
        publish_wp(site, 100)
        config = source(site.base_url + "/", "wordpress", max_pages=5)
        poll(store, config)
        publish_wp(site, 115)
        result = poll(store, config)
        assert len(site.asked("/wp-json/wp/v2/posts")) == 3  # baseline, then pages 1 and 2
        assert result.new == 15

    def test_a_burst_past_the_bound_of_new_items_is_read_over_the_next_polls(
            self, site: Site, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        """30 new posts over three pages, 15 a poll: the poll reads the 15 listed last (pages
        two and three), the next finds page one still all new and bursts on to them. Had it
        kept the first 15, page one would be all seen, no burst would begin, and posts
        101-115 would never be read."""
        from monitor import pipeline

        monkeypatch.setattr(pipeline, "MAX_NEW", 15)
        publish_wp(site, 100)
        config = source(site.base_url + "/", "wordpress", max_pages=5)
        poll(store, config)
        publish_wp(site, 130)
        assert [poll(store, config).new for _ in range(2)] == [15, 15]
        stored = {row[0] for row in store.db.execute("SELECT url FROM items")}
        assert {f"{site.base_url}/{n}/" for n in range(91, 131)} == stored

    def test_later_polls_ask_only_for_recent_posts(self, site: Site, store: Store) -> None:
        """After a successful poll, the API is asked for posts after it (less a safety margin)."""
        publish_wp(site, 100)
        config = source(site.base_url + "/", "wordpress")
        clock = Clock()
        poll(store, config, clock)
        clock.now = START + timedelta(hours=1)
        poll(store, config, clock)
        second = parse_qs(urlsplit(site.asked("/wp-json/wp/v2/posts")[1]).query)
        assert second["after"] == ["2026-11-26T09:00:00"]

    def test_posts_carry_their_text_so_no_page_is_fetched(self, site: Site, store: Store) -> None:
        """content.rendered is the article: a new post costs no article fetch."""
        publish_wp(site, 100)
        config = source(site.base_url + "/", "wordpress").model_copy(update={"fetch_articles": True})
        poll(store, config)
        publish_wp(site, 101)
        assert poll(store, config).new == 1
        assert not site.asked("/101/")


def listing(site: Site, numbers: range, next_page: str | None) -> str:
    items = "".join(f'<li class="release"><a href="/release/{n}">Press release number {n} issued</a></li>'
                    for n in numbers)
    pager = f'<nav class="pager"><a rel="next" href="{next_page}">Next</a></nav>' if next_page else ""
    return f"<!DOCTYPE html><html><body><main><ul>{items}</ul>{pager}</main></body></html>"


class TestHtmlListing:
    """Kind ``html``: a burst follows the page's next link."""

    def test_next_link_followed_on_a_burst(self, site: Site, store: Store) -> None:
        """Every item new on page one and two: pages two and three are read, then max_pages stops it."""
        site.put("/releases", listing(site, range(20, 15, -1), "/releases?page=2"))
        config = source(site.base_url + "/releases", "html", max_pages=3)
        poll(store, config)
        site.put("/releases", listing(site, range(35, 30, -1), "/releases?page=2"))
        site.put("/releases?page=2", listing(site, range(30, 25, -1), "/releases?page=3"))
        site.put("/releases?page=3", listing(site, range(25, 20, -1), "/releases?page=4"))
        site.put("/releases?page=4", listing(site, range(20, 15, -1), "/releases?page=5"))
        result = poll(store, config)
        assert result.new == 15
        assert site.asked("/releases")[1:] == ["/releases", "/releases?page=2", "/releases?page=3"]

    def test_a_bursts_next_page_goes_before_the_polls_queued_behind_it(self, site: Site, store: Store) -> None:
        """With one request in flight at a time, the next page of a listing whose first page
        is all new is asked for as soon as the request then in flight ends (a follow-up),
        before the polls of other sources that queued behind the listing's."""
        site.put("/releases", listing(site, range(20, 15, -1), "/releases?page=2"))
        others = [source(site.base_url + f"/other{k}", "html").model_copy(update={"id": f"other{k}"})
                  for k in range(3)]
        for k in range(3):
            site.put(f"/other{k}", listing(site, range(100 * k + 5, 100 * k, -1), None))
        config = source(site.base_url + "/releases", "html", max_pages=2)
        for each in (config, *others):
            poll(store, each)
        site.put("/releases", listing(site, range(35, 30, -1), "/releases?page=2"))
        site.put("/releases?page=2", listing(site, range(30, 25, -1), None))
        for k in range(3):
            site.delays[f"/other{k}"] = 0.3  # long enough for the listing to be read meanwhile
        del site.requests[:]

        async def run() -> list[PollResult]:
            async with Fetcher(max_connections=1, per_host=8) as fetcher:
                poller = Poller(store=store, fetcher=fetcher, matcher=Matcher([]), routes={}, clock=Clock())
                return await asyncio.gather(*(poller.poll(c, force=True) for c in (config, *others)))

        results = asyncio.run(run())
        assert results[0].new == 10
        assert site.requests == ["/releases", "/other0", "/releases?page=2", "/other1", "/other2"]

    def test_failing_next_page_is_a_warning_not_an_error(self, site: Site, store: Store) -> None:
        """A next page that cannot be read leaves the first page's items and a warning."""
        site.put("/releases", listing(site, range(20, 15, -1), "/releases?page=2"))
        config = source(site.base_url + "/releases", "html")
        poll(store, config)
        site.put("/releases", listing(site, range(30, 25, -1), "/releases?page=2"))
        result = poll(store, config)
        assert (result.status, result.new) == ("ok", 5)
        warnings = store.db.execute("SELECT warnings FROM sources WHERE id = 's'").fetchone()[0]
        assert "next page could not be read" in warnings


def news_sitemap(site: Site, numbers: range) -> str:
    urls = "".join(
        f"<url><loc>{site.base_url}/story/{n}</loc><news:news><news:publication><news:name>Desk</news:name>"
        f"<news:language>en</news:language></news:publication>"
        f"<news:publication_date>2026-11-20T10:{n:02d}:00+05:00</news:publication_date>"
        f"<news:title>Story number {n}</news:title></news:news></url>"
        for n in numbers)
    return ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{urls}</urlset>')


class TestSitemap:
    """Kind ``sitemap`` from a home page: robots.txt, then the index, then its sitemaps."""

    def publish(self, site: Site, numbers: range) -> None:
        site.put("/robots.txt", f"User-agent: *\nDisallow: /admin\nSitemap: {site.base_url}/sitemap_index.xml\n",
                 "text/plain")
        site.put("/sitemap_index.xml", (
            '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{site.base_url}/post-sitemap.xml</loc><lastmod>2020-01-01</lastmod></sitemap>"
            f"<sitemap><loc>{site.base_url}/news-sitemap.xml</loc></sitemap></sitemapindex>"),
            "application/xml")
        site.put("/news-sitemap.xml", news_sitemap(site, numbers), "application/xml")
        site.put("/post-sitemap.xml", news_sitemap(site, range(0)), "application/xml")

    def test_home_page_leads_to_the_news_sitemap(self, site: Site, store: Store) -> None:
        """robots.txt names the index, the index names the news sitemap: its stories are the items."""
        self.publish(site, range(1, 4))
        result = poll(store, source(site.base_url, "sitemap"))
        assert (result.status, result.new) == ("baseline", 3)
        titles = [r[0] for r in store.db.execute("SELECT title FROM items ORDER BY url")]
        assert titles == ["Story number 1", "Story number 2", "Story number 3"]

    def test_unchanged_robots_still_reads_the_sitemaps(self, site: Site, store: Store) -> None:
        """A sitemap changes under an unchanged robots.txt and index; its new stories are found."""
        self.publish(site, range(1, 4))
        config = source(site.base_url, "sitemap")
        poll(store, config)
        self.publish(site, range(1, 6))
        assert poll(store, config).new == 2


def test_a_large_listing_is_parsed_off_the_event_loop_and_a_small_one_on_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """feedparser took 35 s over a 10 MB feed on the event loop, and the polls beside it
    timed out: a body of PARSE_IN_THREAD or more is parsed in a thread, whose result the
    poll stores as it would any other."""
    import threading

    from monitor import crawl
    from monitor.models import Listing
    from monitor.sources.feed import FeedSource
    from tests.newsroom_pages import rss_feed, when
    from tests.servers import serve_newsroom

    threads: list[str] = []
    original = FeedSource.parse

    def recording(self: FeedSource, body: bytes, **options: Any) -> Listing:
        threads.append(threading.current_thread().name)
        return original(self, body, **options)

    monkeypatch.setattr(FeedSource, "parse", recording)
    with serve_newsroom() as newsroom:
        def feed(path: str, padding: str = "") -> str:
            items = [(f"{path}/1", "ISAF talks", f"ISAF met.{padding}", when(20))]
            return newsroom.publish(f"{path}.xml", rss_feed(base=newsroom.base_url, items=items), "application/rss+xml")

        small, large = feed("/small"), feed("/large", " " + "x" * crawl.PARSE_IN_THREAD)
        store = Store(tmp_path / "monitor.db")
        try:
            for sid, url in (("small", small), ("large", large)):
                result = poll(store, source(url, "feed", id=sid))
                assert (result.status, result.new) == ("baseline", 1), result
        finally:
            store.close()
    assert threads[0] == threading.main_thread().name and threads[1] != threading.main_thread().name, threads
