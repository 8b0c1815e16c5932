"""Dates as sources write them: text, ISO stamps, datelines and page markup, into UTC."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from selectolax.lexbor import LexborHTMLParser

from monitor.sources.dates import dateline_date, iso_date, page_date, parse_date, plausible

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
KARACHI = ZoneInfo("Asia/Karachi")
KABUL = ZoneInfo("Asia/Kabul")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(("text", "tz", "expected"), [
    ("14 July 2021", UTC, utc(2021, 7, 14)),
    ("14 July 2021", KARACHI, utc(2021, 7, 13, 19)),
    ("July 14, 2021 10:30", KARACHI, utc(2021, 7, 14, 5, 30)),
    ("July 14, 2021 10:30 PKT", UTC, utc(2021, 7, 14, 5, 30)),
    ("Wed, 14 Jul 2021 05:00:00 GMT", KARACHI, utc(2021, 7, 14, 5)),
    ("2021-07-14T10:30:00+05:00", UTC, utc(2021, 7, 14, 5, 30)),
    ("Posted on 19-10-2022 - 13:14", ZoneInfo("Europe/Brussels"), utc(2022, 10, 19, 11, 14)),
])
def test_parse_date(text: str, tz: timezone, expected: datetime) -> None:
    """Written dates become UTC; a zone-less time is local time in the source's zone."""
    assert parse_date(text, tz) == expected


@pytest.mark.parametrize("text", ["July 2021", "14 July", "Yesterday", "10:30", ""])
def test_incomplete_dates_are_none(text: str) -> None:
    """A date missing its year, month or day is no date: nothing is invented."""
    assert parse_date(text, KARACHI) is None


@pytest.mark.parametrize(("value", "tz", "expected"), [
    ("2016-04-06T11:29:28", UTC, utc(2016, 4, 6, 11, 29, 28)),
    ("2016-04-06T12:29:28", ZoneInfo("America/Toronto"), utc(2016, 4, 6, 16, 29, 28)),
    ("2019-05-07T11:59:43Z", KARACHI, utc(2019, 5, 7, 11, 59, 43)),
    ("2011-09-10T13:06:40-04:00", UTC, utc(2011, 9, 10, 17, 6, 40)),
    ("2021-07-15", KARACHI, utc(2021, 7, 14, 19)),
    (None, UTC, None),
    ("not a date", UTC, None),
])
def test_iso_date(value: str | None, tz: timezone, expected: datetime | None) -> None:
    """API and sitemap stamps: Z and offsets honoured, naive ones local to the source."""
    assert iso_date(value, tz) == expected


# Real datelines from the ISAF press releases (../shared/corpus/isaf-press-releases).
@pytest.mark.parametrize(("text", "expected"), [
    ("ISAF Joint Command - Afghanistan\nFor Immediate Release\n\nKABUL, Afghanistan (Nov. 20, 2011)\nA coalition",
     date(2011, 11, 20)),
    ("KABUL, Afghanistan (Jan. 25, 2013)\nDuring a security operation in Andar district", date(2013, 1, 25)),
    ("ISAF Joint Command - Afghanistan\n\nKABUL, Afghanistan (Oct. 10, 2011) — A combined Afghan", date(2011, 10, 10)),
    ("Morning Operational Update March 24, 2011\u2028For Immediate Release \u2028\u2028KABUL, Afghanistan "
     "(March 24, 2011)\u2028An Afghan and coalition security force", date(2011, 3, 24)),
    ("By Spc. Ashley Bowman\nCombined Joint Special Operations Task Force\n\nURUZGAN, Afghanistan (Oct. 3, 2011) "
     "\u2212 Afghan National Security Forces", date(2011, 10, 3)),
    ("KUNDUZ, Afghanistan (July 19, 2011)\u2013 Commandos of 3rd Company", date(2011, 7, 19)),
    ("WASHINGTON, Jan. 5, 2020 -- The Secretary announced", date(2020, 1, 5)),
    ("BRUSSELS, 12 July 2019 - MEPs adopted", date(2019, 7, 12)),
])
def test_dateline(text: str, expected: date) -> None:
    """A press release's dateline gives its date, whatever separates the lines."""
    moment = dateline_date(text, KABUL)
    assert moment is not None and moment.astimezone(KABUL).date() == expected


@pytest.mark.parametrize("text", [
    "For Immediate Release\n\nKABUL, Afghanistan (June 14) — An Afghan-led security force",
    "The talks of Nov. 20, 2011 were held in Kabul.",
    "",
])
def test_no_dateline(text: str) -> None:
    """No dateline (or one without a year) is no date; a date mid-sentence is not a dateline."""
    assert dateline_date(text) is None


@pytest.mark.parametrize(("head", "expected"), [
    ('<script type="application/ld+json">{"@graph": [{"@type": "NewsArticle", '
     '"datePublished": "2021-07-15T14:30:00+05:00"}]}</script>', utc(2021, 7, 15, 9, 30)),
    ('<meta property="article:published_time" content="2021-07-15T09:30:00Z">', utc(2021, 7, 15, 9, 30)),
    ('<meta value="2019-05-07T11:59:43+00:00" name="og:article:published_time">', utc(2019, 5, 7, 11, 59, 43)),
    ('<meta name="sailthru.date" value="2016-12-15T13:50:38Z">'
     '<meta value="2016-12-14T06:02:15Z" name="og:article:published_time">', utc(2016, 12, 14, 6, 2, 15)),
    ('</head><body><article><time datetime="2021-07-15T14:30">15 July</time></article>', utc(2021, 7, 15, 9, 30)),
    ("<title>No date here</title>", None),
])
def test_page_date(head: str, expected: datetime | None) -> None:
    """JSON-LD, then meta tags (content= or value=), then an article's <time>; naive is local."""
    tree = LexborHTMLParser(f"<html><head>{head}</head><body></body></html>")
    assert page_date(tree, KARACHI) == expected


def test_isaf_corpus_datelines() -> None:
    """Nearly every ISAF release with a dated dateline yields it, within days after the annotated event."""
    path = CORPUS / "isaf-press-releases" / "press_releases.jsonl"
    if not path.is_file():
        pytest.skip(f"ISAF corpus not found at {path}")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
    found = agree = 0
    for row in rows:
        moment = dateline_date(row["text"], KABUL)
        if moment is None:
            continue
        found += 1
        event = date.fromisoformat(row["annotation"]["start_date"])
        agree += timedelta(0) <= moment.astimezone(KABUL).date() - event <= timedelta(days=3)
    print(f"isaf datelines: {found}/{len(rows)} dated, {agree} within 0-3 days after the annotated event")
    assert found >= 424  # SOURCE.md: 424 carry a parenthesised dateline date
    assert agree >= 0.95 * found


@pytest.mark.parametrize("text", ["2026-10-30", "2026-10-30T10:00", "2026-10-30T10:00:05Z", "2026-10-30 10:00:05+05:00",
                                  "2026-10-30T10:00:05.123+0530", "2026-02-30", "2026-10-30T25:00"])
def test_the_iso_fast_path_reads_as_dateutil_does(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """ISO dates skip dateutil's two fuzzy parses; the result must be what those would give."""
    from monitor.sources import dates

    tz = ZoneInfo("Asia/Karachi")
    fast = dates.parse_date(text, tz)
    monkeypatch.setattr(dates, "_ISO", re.compile(r"(?!)"))
    assert fast == dates.parse_date(text, tz)


def test_placeholder_dates_are_no_dates() -> None:
    """Go's and Hugo's zero time and "never" are no publication dates; the ends of the range are kept."""
    assert plausible(utc(1, 1, 1)) is None and plausible(utc(9999, 12, 31, 23, 59)) is None
    assert plausible(utc(1899, 12, 31, 23, 59)) is None and plausible(utc(2200, 1, 1)) is None
    assert plausible(utc(1900, 1, 1)) == utc(1900, 1, 1) and plausible(utc(2199, 12, 31)) == utc(2199, 12, 31)
    assert plausible(None) is None


def test_a_polled_item_with_a_placeholder_date_is_stored_undated(tmp_path: Path) -> None:
    """RSS "Fri, 31 Dec 9999" and JSON Feed "0001-01-01T00:00:00Z", as publishers write them, reach the
    store as no date (shown as first seen), not as dates no zone can show."""
    import asyncio

    from monitor.config import SourceConfig
    from monitor.fetch import Fetcher
    from monitor.match import Matcher, WatchRule
    from monitor.pipeline import Poller
    from monitor.store import Store
    from tests.servers import serve_newsroom

    with serve_newsroom() as site:
        site.publish("/rss.xml", '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
                     f'<item><title>Kayani visits</title><link>{site.base_url}/a</link>'
                     '<pubDate>Fri, 31 Dec 9999 23:59:59 +0000</pubDate></item></channel></rss>',
                     "application/rss+xml")
        site.publish("/feed.json", json.dumps({
            "version": "https://jsonfeed.org/version/1.1", "title": "T", "items": [
                {"id": "b", "url": f"{site.base_url}/b", "title": "Kayani speaks", "content_text": "Kayani.",
                 "date_published": "0001-01-01T00:00:00Z"}]}), "application/feed+json")
        sources = [SourceConfig.model_validate({"id": name, "name": name, "url": site.url(path),
                                                "backfill": True, "fetch_articles": False})
                   for name, path in (("rss", "/rss.xml"), ("json", "/feed.json"))]
        store = Store(tmp_path / "monitor.db")

        async def poll_both() -> None:
            async with Fetcher() as fetcher:
                poller = Poller(store=store, fetcher=fetcher, routes={"desk": ("chat",)},
                                matcher=Matcher([WatchRule(name="desk", keywords=("Kayani",))]))
                for source in sources:
                    assert (await poller.poll(source)).matched == 1
        try:
            asyncio.run(poll_both())
            stored = store.db.execute("SELECT source_id, published FROM items ORDER BY source_id").fetchall()
        finally:
            store.close()
    assert stored == [("json", None), ("rss", None)]
