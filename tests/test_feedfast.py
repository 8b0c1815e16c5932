"""The feed fast path agrees with feedparser wherever it answers, and steps aside elsewhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from monitor.sources import feed
from monitor.sources.base import body_head
from monitor.sources.feedfast import fast_feed, parse_ttl

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
XML_CORPORA = ("feedparser-feeds", "feed-rs-fixtures", "feedjira-sample-feeds", "gofeed-edge-cases",
               "rsparser-real-feeds")
URL = "http://example.org/feeds/feed.xml"


def _slow(body: bytes) -> feed.Listing:
    return feed._parse_xml_feed(body, url=URL, content_type=None, head=body_head(body), tz=UTC)


def _rss(item: str, declaration: str = '<?xml version="1.0" encoding="utf-8"?>') -> bytes:
    return f'{declaration}<rss version="2.0"><channel><title>t</title>{item}</channel></rss>'.encode()


PLAIN_ITEM = ("<item><title>Port tariffs reviewed</title><link>http://example.org/a/1</link>"
              "<guid>http://example.org/a/1</guid><pubDate>Sun, 01 Nov 2026 10:00:00 +0500</pubDate>"
              "<description>The ministry reviewed port tariffs.</description></item>")


@pytest.mark.parametrize("name", XML_CORPORA)
def test_agrees_with_feedparser_on_every_corpus_feed_it_reads(name: str) -> None:
    """For each corpus file the fast path accepts, entries and warnings equal feedparser's."""
    if not (CORPUS / name).is_dir():
        pytest.skip(f"corpus {name} not found under {CORPUS}")
    disagreements = []
    for path in sorted(p for p in (CORPUS / name).rglob("*") if p.is_file() and p.suffix != ".md"):
        body = path.read_bytes()
        plain = fast_feed(body, url=URL, content_type=None)
        if plain is None:
            continue
        fast, slow = feed._listing(plain.entries, url=URL, warnings=[], ttl=plain.ttl), _slow(body)
        if (fast.entries, fast.warnings, fast.next_url, fast.ttl) != (slow.entries, slow.warnings, slow.next_url,
                                                                      slow.ttl):
            disagreements.append(path.name)
    assert disagreements == []


def test_reads_a_plain_rss_feed() -> None:
    """A plain UTF-8 RSS 2.0 item is read with its link, guid, title, teaser and zoned date."""
    plain = fast_feed(_rss(PLAIN_ITEM), url=URL, content_type="application/rss+xml")
    assert plain is not None
    entries = plain.entries
    assert entries[0] is not None
    assert entries[0].url == "http://example.org/a/1"
    assert entries[0].published == datetime(2026, 11, 1, 5, 0, tzinfo=UTC)
    assert entries == list(_slow(_rss(PLAIN_ITEM)).entries)


@pytest.mark.parametrize("item, declaration", [
    (PLAIN_ITEM.replace("Port tariffs", "Port &lt;b&gt;tariffs&lt;/b&gt;"), '<?xml version="1.0"?>'),
    (PLAIN_ITEM.replace("+0500", ""), '<?xml version="1.0"?>'),
    (PLAIN_ITEM.replace("<guid>http://example.org/a/1</guid>", "<guid>a-1</guid>"), ""),
    (PLAIN_ITEM.replace("</item>", "<content:encoded xmlns:content='http://purl.org/rss/1.0/modules/content/'>"
                                   "x</content:encoded></item>"), ""),
    (PLAIN_ITEM, '<?xml version="1.0" encoding="windows-1252"?>'),
    (PLAIN_ITEM.replace("</item>", ""), ""),
])
def test_steps_aside_when_feedparser_could_read_it_differently(item: str, declaration: str) -> None:
    """Markup, a zone-less date, a relative permalink, extra namespaces, another charset or
    malformed XML send the feed to feedparser."""
    assert fast_feed(_rss(item, declaration), url=URL, content_type=None) is None


@pytest.mark.parametrize("date", ["Sun, 01 Nov 2026 10:00:00 +0500", "1 Nov 2026 10:00:00 GMT",
                                  "Sun, 01 Nov 2026 23:59:59 -0930", "Sun, 01 Nov 2026 10:00:00 +0000",
                                  "Sun, 01 Nov 2026 10:00:00 UT", "Mon, 29 Feb 2028 00:00:00 Z"])
def test_plain_rfc822_dates_stay_on_the_fast_path(date: str) -> None:
    plain = fast_feed(_rss(PLAIN_ITEM.replace("Sun, 01 Nov 2026 10:00:00 +0500", date)), url=URL, content_type=None)
    assert plain is not None and plain.entries[0] is not None
    assert plain.entries[0].published == parsedate_to_datetime(date).astimezone(UTC)


def _atom(updated: str) -> bytes:
    return ('<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><title>a</title>'
            f'<link href="http://example.org/a"/><id>http://example.org/a</id><updated>{updated}</updated>'
            '</entry></feed>').encode()


@pytest.mark.parametrize("date", ["Sun, 01 Nov 2026 24:00:00 GMT", "Mon, 30 Feb 2026 10:00:00 GMT",
                                  "Sun, 01 Nov 2026 23:59:60 GMT", "Sun, 01 Nov 2026 10:00:00 -0000",
                                  "Sun, 01 Nov 2026 10:00:00 +0575", "Sun, 01 Nov 2026 10:00:00 +9900",
                                  "Fri, 31 Dec 9999 23:00:00 -0500"])
def test_an_rss_date_that_cannot_be_goes_to_feedparser(date: str) -> None:
    """An impossible date, or the "unknown zone" -0000, is not the fast path's to read
    (email.utils raised ValueError or OverflowError for most of these, failing the poll)."""
    body = _rss(PLAIN_ITEM.replace("Sun, 01 Nov 2026 10:00:00 +0500", date))
    assert fast_feed(body, url=URL, content_type=None) is None
    assert _slow(body).entries  # feedparser reads the feed


@pytest.mark.parametrize("date", ["2026-02-30T10:00:00Z", "2026-11-01T24:00:00Z", "2026-11-01T23:59:60Z",
                                  "2026-11-01T10:00:00+24:00", "2026-11-01T10:00:00+05:75",
                                  "0001-01-01T00:00:00+04:28"])
def test_an_atom_date_that_cannot_be_goes_to_feedparser(date: str) -> None:
    """The same for Atom's ISO dates; the last is Go's zero time written in a local zone."""
    assert fast_feed(_atom(date), url=URL, content_type=None) is None
    assert fast_feed(_atom("2026-11-01T10:00:00+05:00"), url=URL, content_type=None) is not None


def test_header_charset_other_than_utf8_steps_aside() -> None:
    """A Content-Type naming another charset overrides the body, so feedparser decides."""
    assert fast_feed(_rss(PLAIN_ITEM), url=URL, content_type="text/xml; charset=iso-8859-1") is None


def test_both_paths_read_the_channel_ttl() -> None:
    """An RSS <ttl> reaches the Listing in minutes, through the fast path and through feedparser alike."""
    plain = _rss("<ttl>60</ttl>" + PLAIN_ITEM)
    marked = _rss("<ttl>60</ttl>" + PLAIN_ITEM.replace("Port tariffs", "Port &lt;b&gt;tariffs&lt;/b&gt;"))
    assert fast_feed(marked, url=URL, content_type=None) is None  # so this one goes through feedparser
    fast = fast_feed(plain, url=URL, content_type=None)
    assert fast is not None and fast.ttl == timedelta(minutes=60)  # and this one does not
    assert feed.FeedSource().parse(plain, url=URL).ttl == feed.FeedSource().parse(marked, url=URL).ttl \
        == timedelta(minutes=60)


@pytest.mark.parametrize(("text", "minutes"), [
    ("60", 60), (" 015 ", 15), ("0", None), ("", None), ("soon", None), ("-5", None), ("\u0661\u0662", None),
    ("99999999999", 366 * 24 * 60), ("9" * 5000, 366 * 24 * 60),
])
def test_ttl_is_read_in_minutes_and_capped(text: str, minutes: int | None) -> None:
    """A ttl is whole ASCII minutes, capped at a year however many digits it has; anything else is no ttl."""
    expected = None if minutes is None else timedelta(minutes=minutes)
    assert parse_ttl(text) == expected
