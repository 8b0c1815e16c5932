"""Per-source settings of issue 3: ``max_pages`` (burst paging depth), ``timezone`` (the
zone of dates a source writes without one) and how a source kind uses the zone, and
``select: {content: ...}`` pinning the article text for kinds that fetch article pages."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.config import load_config
from monitor.config.schema import DEFAULT_MAX_PAGES
from monitor.errors import ConfigError
from monitor.fetch import Fetcher
from monitor.match import Matcher, WatchRule
from monitor.pipeline import Poller
from monitor.sources.base import ListingSelectors
from monitor.sources.registry import make_source
from monitor.store import Store
from monitor.store_report import recent_items
from tests.newsroom_pages import listing_page, rss_feed, when
from tests.servers import serve_newsroom


def load(tmp_path: Path, text: str):  # noqa: ANN201 - Config
    path = tmp_path / "monitor.yaml"
    path.write_text(text)
    return load_config(path)


class TestMaxPages:
    """``max_pages``: a default, inherited from defaults, overridable, bounded."""

    def test_default_and_inherited(self, tmp_path: Path) -> None:
        """Sources get 3 pages unless defaults or the source itself say otherwise."""
        config = load(tmp_path, "defaults: {max_pages: 5}\nsources:\n"
                                "  - {id: a, url: 'https://a.example/'}\n"
                                "  - {id: b, url: 'https://b.example/', max_pages: 1}\n")
        assert [s.max_pages for s in config.sources] == [5, 1]
        plain = load(tmp_path, "sources: [{id: a, url: 'https://a.example/'}]\n")
        assert plain.sources[0].max_pages == DEFAULT_MAX_PAGES

    @pytest.mark.parametrize("value", ["0", "21", "many"])
    def test_out_of_range_is_a_config_error(self, tmp_path: Path, value: str) -> None:
        """A page count outside 1..20 is refused with the line and the valid range."""
        with pytest.raises(ConfigError, match=r"monitor.yaml:2: sources\[0\].max_pages") as info:
            load(tmp_path, f"sources:\n  - {{id: a, url: 'https://a.example/', max_pages: {value}}}\n")
        assert "1 to 20" in str(info.value) or "number" in str(info.value)


class TestTimezone:
    """``timezone`` per source, defaulting to the config's."""

    def test_source_zone_defaults_to_the_configs(self, tmp_path: Path) -> None:
        """A source without a zone takes the config's; one with a zone keeps it."""
        config = load(tmp_path, "timezone: Asia/Karachi\nsources:\n"
                                "  - {id: a, url: 'https://a.example/'}\n"
                                "  - {id: b, url: 'https://b.example/', timezone: Europe/Brussels}\n")
        assert [s.timezone for s in config.sources] == ["Asia/Karachi", "Europe/Brussels"]

    def test_unknown_zone_is_a_config_error(self, tmp_path: Path) -> None:
        """A zone that is not an IANA name is refused, with an example of one."""
        with pytest.raises(ConfigError, match="is not a time zone"):
            load(tmp_path, "sources:\n  - {id: a, url: 'https://a.example/', timezone: Pakistan}\n")

    def test_feed_dates_without_zone_are_local(self) -> None:
        """A feed's zone-less pubDate is the source's local time; one with a zone is left alone."""
        body = b"""<rss version="2.0"><channel><title>t</title>
<item><title>A</title><link>https://a.example/1</link><pubDate>2021-07-15 14:30:00</pubDate></item>
<item><title>B</title><link>https://a.example/2</link><pubDate>Thu, 15 Jul 2021 14:30:00 +0000</pubDate></item>
</channel></rss>"""
        entries = make_source("feed", tz=ZoneInfo("Asia/Karachi")).parse(body, url="https://a.example/feed").entries
        assert [e.published for e in entries] == [datetime(2021, 7, 15, 9, 30, tzinfo=UTC),
                                                  datetime(2021, 7, 15, 14, 30, tzinfo=UTC)]

    def test_listing_dates_are_local(self) -> None:
        """An HTML listing's printed date is midnight in the source's zone."""
        body = b"""<html><body><div class="r"><a href="/1">Release one</a><span class="d">15 July 2021</span></div>
</body></html>"""
        source = make_source("html", select=ListingSelectors(item=".r", date=".d"), tz=ZoneInfo("Asia/Karachi"))
        entry = source.parse(body, url="https://a.example/").entries[0]
        assert entry.published == datetime(2021, 7, 14, 19, tzinfo=UTC)

    def test_foreign_day_names_still_dated(self) -> None:
        """An Italian pubDate ("mer, 16 nov 2022") that feedparser gives up on is still read."""
        body = b"""<rss version="2.0"><channel><title>t</title><item><title>A</title>
<link>https://a.example/1</link><pubDate>mer, 16 nov 2022 00:38:15 +0100</pubDate></item></channel></rss>"""
        entry = make_source("feed").parse(body, url="https://a.example/feed").entries[0]
        assert entry.published == datetime(2022, 11, 15, 23, 38, 15, tzinfo=UTC)


class TestNextLink:
    """The next page an HTML listing names, for paging on a burst."""

    @pytest.mark.parametrize(("pager", "expected"), [
        ('<link rel="next" href="/news/page/2/">', "https://a.example/news/page/2/"),
        ('<a class="next page-numbers" href="/news/page/2/">Next</a>', "https://a.example/news/page/2/"),
        ('<ul class="pager"><li><a href="?page=2">›</a></li></ul>', "https://a.example/news/?page=2"),
        ('<a href="/news/?page=2">2</a><a href="/news/?page=3">3</a>', "https://a.example/news/?page=2"),
        ('<a href="/about">About us</a>', None),
    ])
    def test_next_link(self, pager: str, expected: str | None) -> None:
        """rel=next, a "Next"/"›" pager link, or a link to this page's number plus one."""
        body = f"<html><head></head><body><ul><li><a href='/n/1'>One</a></li></ul>{pager}</body></html>".encode()
        assert make_source("html").parse(body, url="https://a.example/news/").next_url == expected


# Automatic extraction keeps both paragraphs of the article; only the first is in .story.
STORY_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Flood relief | Desk</title></head>
<body><header><nav><a href="/">Home</a></nav></header>
<main><article><h1>Flood relief reaches Khyber</h1>
<div class="story"><p>Relief convoys reached Khyber district on Tuesday, officials said, after a week of
rain closed the roads and cut off villages in the valley for several days.</p></div>
<p>Elsewhere on the desk today, talks on Kashmir resumed in the capital after a long pause, the
ministry said in a statement issued late in the evening to reporters.</p>
</article></main><footer>Desk News</footer></body></html>"""


class TestContentSelector:
    """``select: {content: ...}`` alone: valid for the kinds that fetch article pages."""

    @pytest.mark.parametrize("kind", ["feed", "sitemap", "html", None])
    def test_content_alone_is_valid_for_kinds_that_fetch_pages(self, tmp_path: Path, kind: str | None) -> None:
        """feed, sitemap, html and an undetected kind take select.content without select.item."""
        kind_key = f", kind: {kind}" if kind else ""
        config = load(tmp_path, f"sources:\n  - {{id: a, url: 'https://a.example/'{kind_key}, "
                                "select: {content: '.story'}}\n")
        select = config.sources[0].select
        assert select is not None and (select.item, select.link, select.content) == (None, None, ".story")

    def test_item_on_a_feed_is_refused(self, tmp_path: Path) -> None:
        """Listing selectors on a feed point at select.item and say to give content alone."""
        with pytest.raises(ConfigError, match=r"sources\[0\]\.select\.item: only html sources select listing "
                                              r"items \(expected select.content alone for kind feed\)"):
            load(tmp_path, "sources:\n  - {id: a, url: 'https://a.example/', kind: feed, "
                           "select: {item: li, content: '.story'}}\n")

    def test_wordpress_takes_no_select(self, tmp_path: Path) -> None:
        """A wordpress source's text is the API's: even select.content is refused, saying why."""
        with pytest.raises(ConfigError, match="wordpress sources take no select"):
            load(tmp_path, "sources:\n  - {id: a, url: 'https://a.example/', kind: wordpress, "
                           "select: {content: '.story'}}\n")

    @pytest.mark.parametrize(("select", "says"), [
        ("{title: h3}", "title without item"),
        ("{}", "is empty (expected item"),
    ])
    def test_item_selectors_need_item(self, tmp_path: Path, select: str, says: str) -> None:
        """title, link or date without item, or an empty select, is a config error."""
        with pytest.raises(ConfigError, match=re.escape(says)):
            load(tmp_path, f"sources:\n  - {{id: a, url: 'https://a.example/', select: {select}}}\n")

    def test_item_selectors_default_their_link(self, tmp_path: Path) -> None:
        """With select.item the link inside it is still ``a`` unless given."""
        config = load(tmp_path, "sources:\n  - {id: a, url: 'https://a.example/', select: {item: li}}\n")
        assert config.sources[0].select is not None and config.sources[0].select.link == "a"

    @pytest.mark.parametrize("kind", ["feed", "sitemap"])
    def test_registry_takes_content_alone_for_feed_and_sitemap(self, kind: str) -> None:
        """make_source accepts a content-only selector for feed and sitemap and refuses an item selector."""
        make_source(kind, select=ListingSelectors(content=".story"))
        with pytest.raises(ValueError, match="select.item: only kind 'html'"):
            make_source(kind, select=ListingSelectors(item="li", content=".story"))

    def test_registry_checks_the_content_css(self) -> None:
        """A content selector that is not CSS fails when the feed source is made."""
        with pytest.raises(ValueError, match="select.content"):
            make_source("feed", select=ListingSelectors(content=".story["))

    def test_html_without_item_finds_the_listing_itself(self) -> None:
        """An html source with only select.content reads its listing with the automatic detection."""
        page = listing_page(items=[(f"/press-release/2026/11/{i}/item", f"Release number {i} on the talks",
                                    f"2026-11-{i:02d}") for i in range(1, 5)]).encode()
        entries = make_source("html", select=ListingSelectors(content=".story")).parse(
            page, url="https://ispr.example/press-release").entries
        assert [e.url for e in entries] == [f"https://ispr.example/press-release/2026/11/{i}/item" for i in range(1, 5)]

    def test_feed_source_matches_only_text_inside_the_content_selector(self, tmp_path: Path) -> None:
        """A polled feed with select.content '.story' matches a term in .story, not one in the sidebar or footer."""
        with serve_newsroom() as site:
            site.publish("/news/flood", STORY_PAGE)
            feed = site.publish("/rss", rss_feed(base=site.base_url, items=[
                ("/news/flood", "Flood relief", "Convoys on the move.", when(27))]),
                content_type="application/rss+xml")
            source = load(tmp_path, f"sources:\n  - {{id: desk, url: '{feed}', kind: feed, backfill: true, "
                                    "select: {content: '.story'}}\n").sources[0]
            rules = [WatchRule(name="khyber", keywords=("Khyber",)), WatchRule(name="kashmir", keywords=("Kashmir",))]
            store = Store(tmp_path / "monitor.db")
            try:
                async def run() -> str:
                    async with Fetcher() as fetcher:
                        poller = Poller(store=store, fetcher=fetcher, matcher=Matcher(rules), routes={})
                        return (await poller.poll(source)).status
                assert asyncio.run(run()) == "ok"
                [item] = recent_items(store)
                text = store.db.execute("SELECT main_text FROM items WHERE id = ?", [item.id]).fetchone()[0]
            finally:
                store.close()
        assert item.watchlists == ("khyber",)
        assert "Relief convoys reached Khyber" in text and "Kashmir" not in text


class TestUrlChange:
    """A source pointed at a new URL starts over there: the new feed's items are a baseline."""

    def test_the_new_urls_first_poll_is_a_baseline_and_its_next_item_alerts(self, tmp_path: Path) -> None:
        from datetime import timedelta

        from monitor.config import SourceConfig

        def at(url: str) -> SourceConfig:
            return SourceConfig.model_validate({"id": "desk", "name": "desk", "url": url,
                                                "every": timedelta(minutes=10), "fetch_articles": False})

        with serve_newsroom() as newsroom:
            base = newsroom.base_url
            newsroom.publish("/a.xml", rss_feed(base=base, items=[("/a/1", "ISAF talks", "ISAF met.", when(20))]),
                             "application/rss+xml")
            moved = [("/b/1", "ISAF patrol", "ISAF patrolled.", when(21)),
                     ("/b/2", "ISAF convoy", "ISAF moved.", when(22))]
            newsroom.publish("/b.xml", rss_feed(base=base, items=moved), "application/rss+xml")
            store = Store(tmp_path / "monitor.db")

            async def poll(url: str) -> tuple[str, int]:
                async with Fetcher() as fetcher:
                    poller = Poller(store=store, fetcher=fetcher, routes={"desk": ("chat",)},
                                    matcher=Matcher([WatchRule(name="desk", keywords=("ISAF",))]))
                    result = await poller.poll(at(url), force=True)
                    return result.status, result.matched

            try:
                assert asyncio.run(poll(newsroom.url("/a.xml"))) == ("baseline", 0)
                assert asyncio.run(poll(newsroom.url("/b.xml"))) == ("baseline", 0)  # not two alerts at once
                newsroom.publish("/b.xml", rss_feed(base=base, items=[
                    ("/b/3", "ISAF airlift", "ISAF flew.", when(23)), *moved]), "application/rss+xml")
                assert asyncio.run(poll(newsroom.url("/b.xml"))) == ("ok", 1)
            finally:
                store.close()
