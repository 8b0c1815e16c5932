"""Per-source settings of issue 3: ``max_pages`` (burst paging depth) and ``timezone``
(the zone of dates a source writes without one), and how a source kind uses the zone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.config import load_config
from monitor.config.schema import DEFAULT_MAX_PAGES
from monitor.errors import ConfigError
from monitor.sources.base import ListingSelectors
from monitor.sources.registry import make_source


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
