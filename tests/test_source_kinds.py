"""Kinds ``wordpress`` and ``sitemap`` on their own: real API responses from the corpus,
the URLs they ask for, paging, and the bodies they refuse."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from monitor.errors import SourceError
from monitor.models import Listing, Response
from monitor.sources.registry import detect_kind, make_source
from monitor.sources.sitemap import MAX_CHILDREN
from monitor.store import Store

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
WP = CORPUS / "wordpress-rest-api"
API = "https://example.org/wp-json/wp/v2/posts"


def corpus_file(path: Path) -> bytes:
    if not path.is_file():
        pytest.skip(f"corpus file not found at {path}")
    return path.read_bytes()


def wordpress(body: bytes, url: str = API) -> Listing:
    return make_source("wordpress").parse(body, url=url, content_type="application/json")


class TestWordPressShapes:
    """Both response shapes in the corpus read the same way."""

    def test_2016_shape(self) -> None:
        """The v2-beta export (webaquebec 2016): 35 posts, entities decoded, date_gmt as UTC, full text."""
        listing = wordpress(corpus_file(WP / "webaquebec2016" / "posts.json"))
        assert len(listing.entries) == 35 and not listing.warnings
        first = listing.entries[0]
        assert first.title == "Le numérique public : des passionnés et des projets de grande envergure!"
        assert first.url.startswith("http://api.webaquebec.org/2016/04/06/")
        assert first.published == datetime(2016, 4, 6, 11, 29, 28, tzinfo=UTC)
        assert first.content and first.content.startswith("Cette année, le Gouvernement du Québec saute dans le WAQ!")
        assert "–" in listing.entries[1].title and "&#8211;" not in listing.entries[1].title

    def test_modern_shape(self) -> None:
        """The modern shape (design-lab 2017): 10 posts with plain-text content and UTC dates."""
        listing = wordpress(corpus_file(WP / "design-lab-tuqulore" / "wp" / "v2" / "posts.json"))
        assert len(listing.entries) == 10
        assert listing.entries[0].published == datetime(2017, 3, 17, 16, 48, 48, tzinfo=UTC)
        assert all(e.content and "<" not in e.content for e in listing.entries)

    def test_list_and_single_post_agree(self) -> None:
        """Each post in the list maps to the same entry as its own single-post response."""
        folder = WP / "design-lab-tuqulore" / "wp" / "v2"
        listed = {e.guid: e for e in wordpress(corpus_file(folder / "posts.json")).entries}
        for single in sorted((folder / "posts").glob("*.json")):
            entry = wordpress(b"[" + single.read_bytes() + b"]").entries[0]
            assert listed[entry.guid] == entry

    def test_zone_less_local_date_uses_the_source_zone(self) -> None:
        """Without date_gmt, the site-local ``date`` is read in the source's time zone."""
        body = json.dumps([{"link": "https://example.org/a/", "title": {"rendered": "A"},
                            "date": "2021-07-15T14:30:00", "date_gmt": None}]).encode()
        source = make_source("wordpress", tz=ZoneInfo("Asia/Karachi"))
        entry = source.parse(body, url=API).entries[0]
        assert entry.published == datetime(2021, 7, 15, 9, 30, tzinfo=UTC)

    @pytest.mark.parametrize(("body", "says"), [
        (b'{"code":"rest_post_invalid_page_number","message":"The page number requested is larger than the '
         b'number of pages available.","data":{"status":400}}', "rest_post_invalid_page_number"),
        (b'{"namespaces":["wp/v2"],"routes":{}}', "API index"),
        (b"<!DOCTYPE html><html></html>", "invalid JSON"),
    ])
    def test_bodies_that_are_not_posts(self, body: bytes, says: str) -> None:
        """An API error, the API index or a web page is a SourceError that says which."""
        with pytest.raises(SourceError, match=says):
            wordpress(body)

    def test_detected_without_a_kind(self) -> None:
        """A posts list is recognised when the config names no kind."""
        assert detect_kind(corpus_file(WP / "webaquebec2016" / "posts.json"), "application/json") == "wordpress"


class TestWordPressUrls:
    """Which URL the wordpress kind asks for, and which page comes next."""

    @pytest.mark.parametrize(("configured", "expected_path"), [
        ("https://example.org", "/wp-json/wp/v2/posts"),
        ("https://example.org/news/", "/news/wp-json/wp/v2/posts"),
        ("https://example.org/wp-json/wp/v2/posts?categories=4", "/wp-json/wp/v2/posts"),
    ])
    def test_request_url_finds_the_posts_route(self, configured: str, expected_path: str) -> None:
        """A home page means its posts route; a route given is kept with its filters."""
        url = make_source("wordpress").request_url(configured, since=None)
        assert urlsplit(url).path == expected_path
        assert "after" not in parse_qs(urlsplit(url).query)

    def test_request_url_after_last_poll(self) -> None:
        """After a poll, only posts after it (less two days' margin) are asked for; filters stay."""
        url = make_source("wordpress").request_url(API + "?categories=4",
                                                   since=datetime(2026, 11, 28, 9, 0, tzinfo=UTC))
        assert parse_qs(urlsplit(url).query) == {"categories": ["4"], "after": ["2026-11-26T09:00:00"]}

    def test_next_page_until_total_pages(self) -> None:
        """X-WP-TotalPages bounds the paging: page 2 of 3 leads to 3, page 3 to none."""
        source = make_source("wordpress")
        listing = wordpress(corpus_file(WP / "webaquebec2016" / "posts.json"))
        page2 = Response(url=API + "?after=x&page=2", status=200, body=b"", headers={"x-wp-totalpages": "3"})
        assert parse_qs(urlsplit(source.next_page(listing, page2) or "").query)["page"] == ["3"]
        page3 = Response(url=API + "?page=3", status=200, body=b"", headers={"x-wp-totalpages": "3"})
        assert source.next_page(listing, page3) is None

    def test_next_page_from_link_header(self) -> None:
        """Without X-WP-TotalPages, the Link header's rel=next is the next page."""
        source = make_source("wordpress")
        response = Response(url=API, status=200, body=b"",
                            headers={"link": f'<{API}?page=2>; rel="next"'})
        assert source.next_page(Listing(entries=()), response) == API + "?page=2"


SITEMAP = "https://example.org/sitemap.xml"


def sitemap(body: bytes, url: str = SITEMAP) -> Listing:
    return make_source("sitemap").parse(body, url=url, content_type="application/xml")


class TestSitemap:
    """Sitemaps, indexes and robots.txt."""

    def test_plain_sitemap_uses_lastmod(self) -> None:
        """A sitemap without news tags gives URLs, no titles, and lastmod as the date."""
        listing = sitemap(b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                          b"<url><loc>https://example.org/a</loc><lastmod>2026-11-20</lastmod></url>"
                          b"<url><loc>https://example.org/b</loc></url></urlset>")
        assert [(e.url, e.title, e.published) for e in listing.entries] == [
            ("https://example.org/a", "", datetime(2026, 11, 20, tzinfo=UTC)), ("https://example.org/b", "", None)]

    def test_index_follows_newest_and_news_first_bounded(self) -> None:
        """An index yields no entries but its sitemaps: news first, then newest, at most MAX_CHILDREN."""
        children = "".join(f"<sitemap><loc>https://example.org/post-sitemap{n}.xml</loc>"
                           f"<lastmod>2026-0{1 + n % 9}-01</lastmod></sitemap>" for n in range(12))
        body = (f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{children}'
                "<sitemap><loc>/news-sitemap.xml</loc></sitemap></sitemapindex>").encode()
        listing = sitemap(body)
        assert listing.entries == ()
        assert listing.follow[:2] == ("https://example.org/news-sitemap.xml", "https://example.org/post-sitemap8.xml")
        assert len(listing.follow) == MAX_CHILDREN

    def test_robots_txt_names_the_sitemaps(self) -> None:
        """robots.txt's Sitemap: lines are followed; a home page means its robots.txt."""
        source = make_source("sitemap")
        assert source.request_url("https://example.org/", since=None) == "https://example.org/robots.txt"
        listing = source.parse(b"User-agent: *\nDisallow: /wp-admin/\nSitemap: https://example.org/sitemap_index.xml\n"
                               b"sitemap: https://example.org/news-sitemap.xml\n", url="https://example.org/robots.txt")
        assert listing.follow == ("https://example.org/news-sitemap.xml", "https://example.org/sitemap_index.xml")

    def test_robots_txt_without_sitemaps_is_an_error(self) -> None:
        """A robots.txt naming no sitemap says so, and what to configure instead."""
        with pytest.raises(SourceError, match="names no Sitemap"):
            make_source("sitemap").parse(b"User-agent: *\nDisallow:\n", url="https://example.org/robots.txt")

    def test_gzipped_sitemap(self) -> None:
        """A .xml.gz sitemap is inflated and read."""
        body = gzip.compress(b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                             b"<url><loc>https://example.org/a</loc></url></urlset>")
        assert [e.url for e in sitemap(body, SITEMAP + ".gz").entries] == ["https://example.org/a"]

    def test_a_gzipped_sitemap_inflating_past_the_cap_is_refused(self) -> None:
        """Past 10 MB inflated (the cap on any body): 2.5 MB of gzip that inflated to 49 MB
        a child took one poll of an index to 2 GB."""
        urls = b"".join(b"<url><loc>https://example.org/%d</loc></url>" % n for n in range(300_000))
        body = gzip.compress(b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">' + urls + b"</urlset>")
        assert len(body) < 2_000_000
        with pytest.raises(SourceError, match="inflates to more than 10000000 bytes"):
            sitemap(body, SITEMAP + ".gz")

    def test_html_is_not_a_sitemap(self) -> None:
        """A web page is refused with a hint."""
        with pytest.raises(SourceError, match="home page"):
            sitemap(b"<!DOCTYPE html><html><body>hi</body></html>")

    def test_malformed_sitemap_recovers_with_warning(self) -> None:
        """A broken sitemap yields the URLs before the break and a warning."""
        listing = sitemap(b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                          b"<url><loc>https://example.org/a</loc></url><url><loc>https://example.org/b</lo")
        assert [e.url for e in listing.entries][:1] == ["https://example.org/a"]
        assert listing.warnings


def test_a_warning_of_a_poll_is_logged_when_it_first_appears(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    """A listing page where no articles are found polls "ok" with nothing new, which read like
    a healthy quiet source in the log: its warning is logged (once, not at every poll that
    finds the same), as `monitor status` shows it."""
    from monitor.config import SourceConfig
    from monitor.fetch import Fetcher
    from monitor.match import Matcher
    from monitor.pipeline import Poller
    from tests.servers import serve_newsroom

    with serve_newsroom() as site:
        source = SourceConfig.model_validate({"id": "plain", "url": site.url("/about"), "kind": "html",
                                              "fetch_articles": False})

        async def poll() -> None:
            async with Fetcher() as fetcher:
                await Poller(store=store, fetcher=fetcher, matcher=Matcher([]), routes={}).poll(source)

        with caplog.at_level(logging.INFO, logger="monitor.pipeline"):
            for n in range(3):  # each a new body, read again
                site.publish("/about", f"<html><body><h1>About us</h1><p>Version {n}.</p></body></html>")
                asyncio.run(poll())
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "source=plain" in warned[0] and "found no repeated article links" in warned[0]
